"""Units: CRUD with data, clone/upgrade/restore, revisions, org-wide listing."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request
from fastapi.responses import Response

from confighub_local import service, units, worker_secret
from confighub_local.context import ServerState
from confighub_local.db.store import Doc, with_cursor
from confighub_local.errors import ApiError, not_found
from confighub_local.routes.common import JSON, RawJSON, flag, ok, st_of, user_only
from confighub_local.status import unit_status
from confighub_local.validation import check_uuid, decode_b64

router = APIRouter()

_INCLUDES = {
    "UpstreamUnit": ("UpstreamUnitID", "Unit"),
    "Target": ("TargetID", "Target"),
    "UpstreamSpace": ("UpstreamSpaceID", "Space"),
    "BridgeWorker": ("BridgeWorkerID", "BridgeWorker"),
}


def _public_worker(doc: Doc | None) -> Doc | None:
    if doc is None:
        return None
    return worker_secret.public(doc)


def extended(
    st: ServerState, unit: Doc, spaces: dict[str, Doc], include: str | None, with_status: bool
) -> Doc:
    out: Doc = {"Unit": unit}
    space = spaces.get(unit["SpaceID"])
    if space is None:
        space = st.store.get("Space", unit["SpaceID"])
        if space is not None:
            spaces[unit["SpaceID"]] = space
    if space is not None:
        out["Space"] = space
    wanted = {w.strip() for w in (include or "").split(",") if w.strip()}
    if with_status:
        wanted |= {"UpstreamUnit", "Target"}
        out["UnitStatus"] = unit_status(st, unit)
    for name, (field, kind) in _INCLUDES.items():
        if name in wanted and unit.get(field):
            ref = st.store.get(kind, unit[field])
            if ref is not None:
                out[name] = _public_worker(ref) if kind == "BridgeWorker" else ref
    if "HeadRevisionNum" in wanted and unit.get("HeadRevisionNum"):
        out["HeadRevision"] = units.revision(st, unit, int(unit["HeadRevisionNum"]))
    return out


def _get_unit(st: ServerState, space_id: str, unit_id: str) -> tuple[Doc, Doc]:
    space = service.get_space(st, space_id)
    return space, service.get_in_space(st, "Unit", space_id, unit_id)


@router.get("/space/{space_id}/unit")
def list_units(
    request: Request,
    space_id: str,
    where: str | None = None,
    contains: str | None = None,
    filter: str | None = None,
    include: str | None = None,
) -> Response:
    user_only(request)
    st = st_of(request)
    space = service.get_space(st, space_id)
    if not include:
        rows = service.list_rows(
            st, "Unit", space_id=space_id, where=where, contains=contains, filter_id=filter
        )
        return _fast_list(st, rows, {space_id: space})
    docs = service.list_docs(
        st, "Unit", space_id=space_id, where=where, contains=contains, filter_id=filter
    )
    spaces = {space_id: space}
    return ok([extended(st, d, spaces, include, False) for d in docs])


@router.get("/unit")
def list_all_units(
    request: Request,
    where: str | None = None,
    contains: str | None = None,
    filter: str | None = None,
    include: str | None = None,
) -> Response:
    user_only(request)
    st = st_of(request)
    if not include:
        rows = service.list_rows(st, "Unit", where=where, contains=contains, filter_id=filter)
        return _fast_list(st, rows, {})
    docs = service.list_docs(st, "Unit", where=where, contains=contains, filter_id=filter)
    spaces: dict[str, Doc] = {}
    return ok([extended(st, d, spaces, include, False) for d in docs])


def _fast_list(st: ServerState, rows: list[tuple[Any, ...]], spaces: dict[str, Doc]) -> RawJSON:
    """[{"Unit": ..., "Space": ...}] spliced from stored JSON text (no parse/serialise per row)."""
    space_text: dict[str, str] = {
        k: json.dumps(v, separators=(",", ":")) for k, v in spaces.items()
    }
    parts = []
    for cursor, text, sid in rows:
        if sid not in space_text:
            found = st.store.get("Space", sid)
            space_text[sid] = json.dumps(found, separators=(",", ":")) if found else ""
        space = f',"Space":{space_text[sid]}' if space_text[sid] else ""
        parts.append(f'{{"Unit":{with_cursor(text, cursor)}{space}}}')
    return RawJSON("[" + ",".join(parts) + "]")


@router.post("/space/{space_id}/unit")
def create_unit(
    request: Request,
    space_id: str,
    body: Annotated[Any, Body()] = None,
    upstream_space_id: str | None = None,
    upstream_unit_id: str | None = None,
    allow_exists: str | None = None,
) -> JSON:
    user_only(request)
    st = st_of(request)
    space = service.get_space(st, space_id)
    return ok(
        units.create_unit(
            st,
            space,
            body,
            allow_exists=flag(allow_exists),
            upstream_unit_id=upstream_unit_id,
            upstream_space_id=upstream_space_id,
        )
    )


@router.get("/space/{space_id}/unit/{unit_id}")
def get_unit(request: Request, space_id: str, unit_id: str, include: str | None = None) -> JSON:
    user_only(request)
    st = st_of(request)
    space, unit = _get_unit(st, space_id, unit_id)
    return ok(extended(st, unit, {space_id: space}, include, True))


class _DryRun(Exception):
    """Raised inside the write transaction to roll a dry run back, carrying its result."""

    def __init__(self, unit: Doc) -> None:
        super().__init__("dry run")
        self.unit = unit


def _change(
    st: ServerState,
    space: Doc,
    unit: Doc,
    body: Any,
    patch: bool,
    upgrade: str | None,
    restore: str | None,
    merge: tuple[str | None, str | None, str | None],
) -> Doc:
    """Upgrade, restore, merge and/or update, in that order (the caller holds the tx)."""
    if flag(upgrade):
        unit = units.upgrade(st, unit)
    if restore:
        unit = units.restore(st, unit, restore)
    merge_source, merge_base, merge_end = merge
    if merge_source:
        unit = units.merge_range(st, unit, merge_source, merge_base or "", merge_end or "")
    elif merge_base or merge_end:
        raise ApiError(400, "merge_base and merge_end need merge_source")
    special = bool(flag(upgrade) or restore or merge_source)
    has_body = isinstance(body, dict) and bool(body)
    if has_body or not special:
        if has_body and special and "Version" in body:
            body = {k: v for k, v in body.items() if k != "Version"}
        unit = units.update_unit(st, space, unit, body, patch=patch)
    return unit


def _write(
    request: Request,
    space_id: str,
    unit_id: str,
    body: Any,
    patch: bool,
    upgrade: str | None,
    restore: str | None,
    dry_run: str | None,
    merge: tuple[str | None, str | None, str | None] = (None, None, None),
) -> JSON:
    user_only(request)
    st = st_of(request)
    space, unit = _get_unit(st, space_id, unit_id)
    try:
        with st.store.tx():
            unit = _change(st, space, unit, body, patch, upgrade, restore, merge)
            if flag(dry_run):
                raise _DryRun(unit)
    except _DryRun as dry:
        unit = dry.unit  # what the change would make; the transaction was rolled back
    return ok(unit)


@router.put("/space/{space_id}/unit/{unit_id}")
def update_unit(
    request: Request,
    space_id: str,
    unit_id: str,
    body: Annotated[Any, Body()] = None,
    upgrade: str | None = None,
    restore: str | None = None,
    dry_run: str | None = None,
    merge_source: str | None = None,
    merge_base: str | None = None,
    merge_end: str | None = None,
) -> JSON:
    merge = (merge_source, merge_base, merge_end)
    return _write(request, space_id, unit_id, body, False, upgrade, restore, dry_run, merge)


@router.patch("/space/{space_id}/unit/{unit_id}")
def patch_unit(
    request: Request,
    space_id: str,
    unit_id: str,
    body: Annotated[Any, Body()] = None,
    upgrade: str | None = None,
    restore: str | None = None,
    dry_run: str | None = None,
    merge_source: str | None = None,
    merge_base: str | None = None,
    merge_end: str | None = None,
) -> JSON:
    merge = (merge_source, merge_base, merge_end)
    return _write(request, space_id, unit_id, body, True, upgrade, restore, dry_run, merge)


@router.delete("/space/{space_id}/unit/{unit_id}")
def delete_unit(request: Request, space_id: str, unit_id: str) -> JSON:
    user_only(request)
    st = st_of(request)
    _, unit = _get_unit(st, space_id, unit_id)
    units.delete_unit(st, unit)
    return ok({"Message": f"Unit {unit_id} deleted"})


@router.get("/space/{space_id}/unit/{unit_id}/data")
def unit_data(request: Request, space_id: str, unit_id: str) -> Response:
    user_only(request)
    _, unit = _get_unit(st_of(request), space_id, unit_id)
    return Response(units.unit_data(unit), media_type="application/octet-stream")


@router.get("/space/{space_id}/unit/{unit_id}/revision")
def list_revisions(
    request: Request,
    space_id: str,
    unit_id: str,
    where: str | None = None,
    contains: str | None = None,
) -> JSON:
    user_only(request)
    st = st_of(request)
    _, unit = _get_unit(st, space_id, unit_id)
    docs = service.list_docs(st, "Revision", where=where, parent_id=unit["UnitID"])
    return ok([{"Revision": d} for d in docs])


def _revision(st: ServerState, unit: Doc, revision_id: str) -> Doc:
    check_uuid(revision_id, "revision_id")
    rev = st.store.get("Revision", revision_id)
    if rev is None or rev["UnitID"] != unit["UnitID"]:
        raise not_found("Revision", revision_id)
    return rev


@router.get("/space/{space_id}/unit/{unit_id}/revision/{revision_id}")
def get_revision(request: Request, space_id: str, unit_id: str, revision_id: str) -> JSON:
    user_only(request)
    st = st_of(request)
    _, unit = _get_unit(st, space_id, unit_id)
    return ok({"Revision": _revision(st, unit, revision_id), "Unit": unit})


@router.get("/space/{space_id}/unit/{unit_id}/revision/{revision_id}/data")
def revision_data(request: Request, space_id: str, unit_id: str, revision_id: str) -> Response:
    user_only(request)
    st = st_of(request)
    _, unit = _get_unit(st, space_id, unit_id)
    rev = _revision(st, unit, revision_id)
    return Response(
        decode_b64(rev.get("Data") or "", "Revision.Data"), media_type="application/octet-stream"
    )


@router.get("/revision")
def list_all_revisions(request: Request, where: str | None = None) -> JSON:
    user_only(request)
    docs = service.list_docs(st_of(request), "Revision", where=where)
    return ok([{"Revision": d} for d in docs])
