"""Units: CRUD with data, clone/upgrade/restore, org-wide listing (revisions and mutations:
routes/revisions.py, included here)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request
from fastapi.responses import Response

from confighub_local import service, units
from confighub_local.context import ServerState
from confighub_local.db.store import Doc, with_cursor
from confighub_local.errors import ApiError
from confighub_local.routes import revisions
from confighub_local.routes.common import JSON, RawJSON, flag, ok, st_of, unsupported, user_only
from confighub_local.routes.revisions import revision_by_id
from confighub_local.unit_views import extended, parse_include, public_unit, space_and_unit
from confighub_local.validation import check_uuid

router = APIRouter()


@router.get("/space/{space_id}/unit")
def list_units(
    request: Request,
    space_id: str,
    where: str | None = None,
    contains: str | None = None,
    filter: str | None = None,
    include: str | None = None,
    where_data: str | None = None,
    resource_type: str | None = None,
    where_trigger: str | None = None,
    trigger_filter: str | None = None,
    view: str | None = None,
) -> Response:
    user_only(request)
    unsupported(where_trigger=where_trigger, trigger_filter=trigger_filter, view=view)
    st = st_of(request)
    space = service.get_space(st, space_id)
    selection = dict(
        space_id=space_id,
        where=where,
        contains=contains,
        filter_id=filter,
        where_data=where_data,
        resource_type=resource_type,
    )
    if not include:
        return _fast_list(st, service.list_rows(st, "Unit", **selection), {space_id: space})
    parse_include(include)
    docs = service.list_docs(st, "Unit", **selection)
    spaces = {space_id: space}
    return ok([extended(st, d, spaces, include, False) for d in docs])


@router.get("/unit")
def list_all_units(
    request: Request,
    where: str | None = None,
    contains: str | None = None,
    filter: str | None = None,
    include: str | None = None,
    where_data: str | None = None,
    resource_type: str | None = None,
    where_trigger: str | None = None,
    trigger_filter: str | None = None,
    view: str | None = None,
) -> Response:
    user_only(request)
    unsupported(where_trigger=where_trigger, trigger_filter=trigger_filter, view=view)
    st = st_of(request)
    selection = dict(
        where=where,
        contains=contains,
        filter_id=filter,
        where_data=where_data,
        resource_type=resource_type,
    )
    if not include:
        return _fast_list(st, service.list_rows(st, "Unit", **selection), {})
    parse_include(include)
    docs = service.list_docs(st, "Unit", **selection)
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
    space, unit = space_and_unit(st, space_id, unit_id)
    return ok(extended(st, unit, {space_id: space}, include, True))


def restore_ref(st: ServerState, unit: Doc, restore: str | None, revision_id: str | None) -> str:
    """The revision to restore: the spec's `revision_id` (what `cub --restore N` sends) or
    `restore` (named revision, number, Tag:/ChangeSet:/Revision:, Before:); not both."""
    if revision_id and restore:
        raise ApiError(400, "give either revision_id or restore, not both")
    if revision_id:
        rev = revision_by_id(st, unit, revision_id)
        return f"Revision:{rev['RevisionID']}"
    return restore or ""


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
    restore_to: str,
    merge: tuple[str | None, str | None, str | None],
) -> Doc:
    """Upgrade, restore, merge and/or update, in that order (the caller holds the tx)."""
    if flag(upgrade):
        unit = units.upgrade(st, unit)
    if restore_to:
        unit = units.restore(st, unit, restore_to)
    merge_source, merge_base, merge_end = merge
    if merge_source:
        unit = units.merge_range(st, unit, merge_source, merge_base or "", merge_end or "")
    elif merge_base or merge_end:
        raise ApiError(400, "merge_base and merge_end need merge_source")
    special = bool(flag(upgrade) or restore_to or merge_source)
    has_body = isinstance(body, dict) and bool(body)
    if has_body and special:
        # the data comes from the upstream/the old revision/the merge; a PUT's body (cub sends
        # the whole unit it read) may still change metadata such as labels
        body = {k: v for k, v in body.items() if k not in ("Version", "Data")}
        if body and not patch:
            body["Data"] = unit.get("Data", "")  # a PUT replaces: keep the new data
        has_body = bool(body)
    if has_body or not special:
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
    revision_id: str | None = None,
    merge: tuple[str | None, str | None, str | None] = (None, None, None),
) -> JSON:
    user_only(request)
    st = st_of(request)
    space, unit = space_and_unit(st, space_id, unit_id)
    query = request.query_params
    unsupported(**{name: query.get(name) for name in _UNSUPPORTED_WRITE})
    tag_id, change_set_id = query.get("tag"), query.get("change_set_id")
    if change_set_id and check_uuid(change_set_id, "change_set_id") != unit.get("ChangeSetID"):
        raise ApiError(
            400,
            f"change_set_id {change_set_id} does not match Unit {unit['Slug']}'s ChangeSetID "
            f"{unit.get('ChangeSetID') or '(none)'}",
        )
    tag = _tag(st, tag_id) if tag_id else None
    ref = restore_ref(st, unit, restore, revision_id)
    if ref and flag(upgrade):
        raise ApiError(400, "give either upgrade or a restore (restore/revision_id), not both")
    try:
        with st.store.tx():
            unit = _change(st, space, unit, body, patch, upgrade, ref, merge)
            if tag is not None:
                head = units.revision(st, unit, int(unit["HeadRevisionNum"]))
                head.setdefault("Tags", {})[tag["TagID"]] = tag["Slug"]
                st.store.replace("Revision", head["RevisionID"], head)
            if flag(dry_run):
                raise _DryRun(unit)
    except _DryRun as dry:
        unit = dry.unit  # what the change would make; the transaction was rolled back
    return ok(public_unit(unit))


# PATCH/PUT parameters of the spec this server does not implement: a 400 names them
_UNSUPPORTED_WRITE = (
    "resolve",
    "where_mutation",
    "filter_mutation",
    "merge_external_source",
    "subgroup",
)


def _tag(st: ServerState, tag_id: str) -> Doc:
    """The `tag` parameter: a Tag to add to the head revision after the write."""
    tag = st.store.get("Tag", check_uuid(tag_id, "tag"))
    if tag is None:
        raise ApiError(400, f"tag {tag_id} does not name an existing Tag")
    return tag


@router.put("/space/{space_id}/unit/{unit_id}")
def update_unit(
    request: Request,
    space_id: str,
    unit_id: str,
    body: Annotated[Any, Body()] = None,
    upgrade: str | None = None,
    restore: str | None = None,
    dry_run: str | None = None,
    revision_id: str | None = None,
    merge_source: str | None = None,
    merge_base: str | None = None,
    merge_end: str | None = None,
) -> JSON:
    merge = (merge_source, merge_base, merge_end)
    return _write(
        request, space_id, unit_id, body, False, upgrade, restore, dry_run, revision_id, merge
    )


@router.patch("/space/{space_id}/unit/{unit_id}")
def patch_unit(
    request: Request,
    space_id: str,
    unit_id: str,
    body: Annotated[Any, Body()] = None,
    upgrade: str | None = None,
    restore: str | None = None,
    dry_run: str | None = None,
    revision_id: str | None = None,
    merge_source: str | None = None,
    merge_base: str | None = None,
    merge_end: str | None = None,
) -> JSON:
    merge = (merge_source, merge_base, merge_end)
    return _write(
        request, space_id, unit_id, body, True, upgrade, restore, dry_run, revision_id, merge
    )


@router.delete("/space/{space_id}/unit/{unit_id}")
def delete_unit(request: Request, space_id: str, unit_id: str) -> JSON:
    user_only(request)
    st = st_of(request)
    _, unit = space_and_unit(st, space_id, unit_id)
    units.delete_unit(st, unit)
    return ok({"Message": f"Unit {unit_id} deleted"})


@router.get("/space/{space_id}/unit/{unit_id}/data")
def unit_data(request: Request, space_id: str, unit_id: str) -> Response:
    user_only(request)
    _, unit = space_and_unit(st_of(request), space_id, unit_id)
    return Response(units.unit_data(unit), media_type="application/octet-stream")


router.include_router(revisions.router)
