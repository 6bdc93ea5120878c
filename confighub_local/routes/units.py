"""Units: CRUD with data, clone/upgrade/restore, revisions, org-wide listing."""

from __future__ import annotations

import json
import re
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request
from fastapi.responses import Response

from confighub_local import mutations, service, units, worker_secret
from confighub_local.context import ServerState
from confighub_local.db.store import Doc, with_cursor
from confighub_local.errors import ApiError, not_found
from confighub_local.merge import MergeConflict, load_docs
from confighub_local.routes.common import JSON, RawJSON, flag, ok, st_of, user_only
from confighub_local.status import unit_status
from confighub_local.validation import check_uuid, decode_b64

router = APIRouter()

# the spec's `include` names for a unit (ID fields) -> (ExtendedUnit key, kind of the entity)
_REF_INCLUDES = {
    "SpaceID": ("Space", "Space"),
    "TargetID": ("Target", "Target"),
    "UpstreamUnitID": ("UpstreamUnit", "Unit"),
    "UpstreamSpaceID": ("UpstreamSpace", "Space"),
    "BridgeWorkerID": ("BridgeWorker", "BridgeWorker"),
    "ChangeSetID": ("ChangeSet", "ChangeSet"),
}
_REVISION_INCLUDES = {
    "HeadRevisionNum": "HeadRevision",
    "LiveRevisionNum": "LiveRevision",
    "LastAppliedRevisionNum": "LastAppliedRevision",
    "PreviousLiveRevisionNum": "PreviousLiveRevision",
}
_OTHER_INCLUDES = ("OrganizationID", "UnitEventID", "HeadMutationNum", "ApprovedBy", "FromLinkID")
# names this server also accepted before it followed the spec (the key names themselves)
_LEGACY_INCLUDES = {
    "UpstreamUnit": "UpstreamUnitID",
    "Target": "TargetID",
    "UpstreamSpace": "UpstreamSpaceID",
    "BridgeWorker": "BridgeWorkerID",
}
SUPPORTED_INCLUDES = (*_REF_INCLUDES, *_REVISION_INCLUDES, *_OTHER_INCLUDES)


def parse_include(include: str | None) -> set[str]:
    """The spec's comma-separated include list; an unknown name is a 400 naming it."""
    wanted: set[str] = set()
    for raw in (include or "").split(","):
        name = raw.strip()
        if not name:
            continue
        name = _LEGACY_INCLUDES.get(name, name)
        if name not in SUPPORTED_INCLUDES:
            raise ApiError(
                400,
                f"include: unknown attribute {name!r} for Unit; supported: "
                + ", ".join(sorted(SUPPORTED_INCLUDES)),
            )
        wanted.add(name)
    return wanted


def public_unit(unit: Doc) -> Doc:
    """A unit as clients read it: list fields the SDK dereferences are never null."""
    if unit.get("MutationSources") is None:
        unit = {**unit, "MutationSources": []}
    return unit


def resource_sources(unit: Doc) -> list[Doc]:
    """MutationSources: one entry per resource in the unit's data (the CLI counts them). This
    server does not track which mutation last touched each resource, so MutationType is None."""
    if unit.get("ToolchainType") != "Kubernetes/YAML":
        return []
    try:
        docs = load_docs(units.unit_data(unit))
    except (MergeConflict, ApiError):
        return []
    out = []
    for doc in docs:
        if not isinstance(doc, dict):
            continue
        meta = doc.get("metadata") or {}
        name = str(meta.get("name", ""))
        out.append(
            {
                "Resource": {
                    "ResourceName": f"{meta.get('namespace', '')}/{name}",
                    "ResourceNameWithoutScope": name,
                    "ResourceType": f"{doc.get('apiVersion', '')}/{doc.get('kind', '')}",
                    "ResourceCategory": "Resource",
                },
                "ResourceMutationInfo": {"MutationType": "None", "Index": 0},
                "PathMutationMap": {},
            }
        )
    return out


def public_revision(rev: Doc) -> Doc:
    if rev.get("MutationSources") is None:
        rev = {**rev, "MutationSources": []}
    return rev


def _public_worker(doc: Doc | None) -> Doc | None:
    if doc is None:
        return None
    return worker_secret.public(doc)


def _latest_event(st: ServerState, unit: Doc) -> Doc | None:
    rows = st.store.select("UnitEvent", parent_id=unit["UnitID"], order="e.cursor DESC", limit=1)
    return rows[0] if rows else None


def _revision_or_none(st: ServerState, unit: Doc, num: int) -> Doc | None:
    if num <= 0:
        return None
    try:
        return public_revision(units.revision(st, unit, num))
    except ApiError:
        return None


def extended(
    st: ServerState, unit: Doc, spaces: dict[str, Doc], include: str | None, with_status: bool
) -> Doc:
    """An ExtendedUnit: the unit plus what `include` names (and the space, always)."""
    wanted = parse_include(include) | {"SpaceID"}
    out: Doc = {"Unit": {**unit, "MutationSources": resource_sources(unit)}}
    if not unit.get("LiveState"):  # kept beside the unit; the Unit's LiveState field shows it
        info = st.store.get("LiveInfo", f"live:{unit['UnitID']}") or {}
        if info.get("LiveState"):
            out["Unit"]["LiveState"] = info["LiveState"]
    space = spaces.get(unit["SpaceID"])
    if space is None:
        space = st.store.get("Space", unit["SpaceID"])
        if space is not None:
            spaces[unit["SpaceID"]] = space
    out["UnitStatus"] = unit_status(st, unit)
    if with_status:
        wanted |= {"UpstreamUnitID", "TargetID"}
    for name, (key, kind) in _REF_INCLUDES.items():
        if name not in wanted or not unit.get(name):
            continue
        ref = space if name == "SpaceID" else st.store.get(kind, unit[name])
        if ref is not None:
            out[key] = _public_worker(ref) if kind == "BridgeWorker" else ref
    for name, key in _REVISION_INCLUDES.items():
        if name in wanted:
            rev = _revision_or_none(st, unit, int(unit.get(name) or 0))
            if rev is not None:
                out[key] = rev
    if "OrganizationID" in wanted:
        org = st.store.get("Organization", unit.get("OrganizationID") or st.org_id)
        if org is not None:
            out["Organization"] = org
    if "UnitEventID" in wanted:
        event = _latest_event(st, unit)
        if event is not None:
            out["LatestUnitEvent"] = event
    if "HeadMutationNum" in wanted:
        rev = _revision_or_none(st, unit, int(unit.get("HeadRevisionNum") or 0))
        if rev is not None:
            out["HeadMutation"] = mutations.from_revision(rev)
    if "ApprovedBy" in wanted:
        users = [st.store.get("User", uid) for uid in unit.get("ApprovedBy") or []]
        out["ApprovedBy"] = [u for u in users if u is not None]
    if "FromLinkID" in wanted:
        out["FromLink"] = st.store.select(
            "Link", where_sql="json_extract(e.doc, '$.FromUnitID') = ?", params=[unit["UnitID"]]
        )
    return out


def _get_unit(st: ServerState, space_id: str, unit_id: str) -> tuple[Doc, Doc]:
    space = service.get_space(st, space_id)
    return space, service.get_in_space(st, "Unit", space_id, unit_id)


def unsupported(**params: str | None) -> None:
    """A 400 naming any given spec parameter this server does not implement (never ignored)."""
    given = sorted(name for name, value in params.items() if value)
    if given:
        raise ApiError(400, f"parameter(s) not supported by this server: {', '.join(given)}")


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
    space, unit = _get_unit(st, space_id, unit_id)
    return ok(extended(st, unit, {space_id: space}, include, True))


def restore_ref(st: ServerState, unit: Doc, restore: str | None, revision_id: str | None) -> str:
    """The revision to restore: the spec's `revision_id` (what `cub --restore N` sends) or
    `restore` (named revision, number, Tag:/ChangeSet:/Revision:, Before:); not both."""
    if revision_id and restore:
        raise ApiError(400, "give either revision_id or restore, not both")
    if revision_id:
        rev = _revision(st, unit, revision_id)
        return f"Revision:{rev['RevisionID']}"
    return restore or ""


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
) -> JSON:
    user_only(request)
    st = st_of(request)
    space, unit = _get_unit(st, space_id, unit_id)
    if flag(dry_run):
        raise ApiError(400, "dry_run is not supported by this server")
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
    with st.store.tx():
        if flag(upgrade):
            unit = units.upgrade(st, unit)
        if ref:
            unit = units.restore(st, unit, ref)
        has_body = isinstance(body, dict) and bool(body)
        if has_body and (flag(upgrade) or ref):
            # the data comes from the upstream/the old revision; a PUT's body (cub sends the
            # whole unit it read) may still change metadata such as labels
            body = {k: v for k, v in body.items() if k not in ("Version", "Data")}
            if body and not patch:
                body["Data"] = unit.get("Data", "")  # a PUT replaces: keep the new data
            has_body = bool(body)
        if has_body or not (flag(upgrade) or ref):
            unit = units.update_unit(st, space, unit, body, patch=patch)
        if tag is not None:
            head = units.revision(st, unit, int(unit["HeadRevisionNum"]))
            head.setdefault("Tags", {})[tag["TagID"]] = tag["Slug"]
            st.store.replace("Revision", head["RevisionID"], head)
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
) -> JSON:
    return _write(request, space_id, unit_id, body, False, upgrade, restore, dry_run, revision_id)


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
) -> JSON:
    return _write(request, space_id, unit_id, body, True, upgrade, restore, dry_run, revision_id)


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


def _ext_revision(st: ServerState, rev: Doc, unit: Doc, space: Doc | None) -> Doc:
    """ExtendedRevision: the revision with its unit, space and author."""
    out: Doc = {"Revision": public_revision(rev), "Unit": public_unit(unit)}
    if space is not None:
        out["Space"] = space
    user = st.store.get("User", rev.get("UserID") or st.user_id)
    if user is not None:
        out["User"] = user
    return out


@router.get("/space/{space_id}/unit/{unit_id}/revision")
def list_revisions(
    request: Request,
    space_id: str,
    unit_id: str,
    where: str | None = None,
    contains: str | None = None,
    filter: str | None = None,
) -> JSON:
    user_only(request)
    st = st_of(request)
    space, unit = _get_unit(st, space_id, unit_id)
    docs = service.list_docs(
        st, "Revision", where=where, contains=contains, filter_id=filter, parent_id=unit["UnitID"]
    )
    return ok([_ext_revision(st, d, unit, space) for d in docs])


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
    space, unit = _get_unit(st, space_id, unit_id)
    return ok(_ext_revision(st, _revision(st, unit, revision_id), unit, space))


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
    return ok([{"Revision": public_revision(d)} for d in docs])


# -- mutations: one per revision (see mutations.py) ------------------------------------------


def _ext_mutation(rev: Doc, unit: Doc, space: Doc | None) -> Doc:
    out: Doc = {
        "Mutation": mutations.from_revision(rev),
        "Revision": public_revision(rev),
        "Unit": public_unit(unit),
    }
    if space is not None:
        out["Space"] = space
    return out


_MUTATION_WHERE = re.compile(r"\b(MutationNum|MutationID)\b")


@router.get("/space/{space_id}/unit/{unit_id}/mutation")
def list_mutations(request: Request, space_id: str, unit_id: str, where: str | None = None) -> JSON:
    """Mutations of a unit. `where` may use the Mutation attributes that revisions share
    (RevisionNum, RevisionID, CreatedAt, ...; MutationNum means RevisionNum)."""
    user_only(request)
    st = st_of(request)
    space, unit = _get_unit(st, space_id, unit_id)
    if where and "MutationID" in where:
        raise ApiError(400, "where on MutationID is not supported by this server; use RevisionID")
    rev_where = _MUTATION_WHERE.sub("RevisionNum", where) if where else None
    docs = service.list_docs(st, "Revision", where=rev_where, parent_id=unit["UnitID"])
    return ok([_ext_mutation(d, unit, space) for d in docs])


@router.get("/space/{space_id}/unit/{unit_id}/mutation/{mutation_id}")
def get_mutation(request: Request, space_id: str, unit_id: str, mutation_id: str) -> JSON:
    user_only(request)
    st = st_of(request)
    space, unit = _get_unit(st, space_id, unit_id)
    check_uuid(mutation_id, "mutation_id")
    for rev in st.store.select("Revision", parent_id=unit["UnitID"]):
        if mutations.mutation_id(rev["RevisionID"]) == mutation_id.lower():
            return ok(_ext_mutation(rev, unit, space))
    raise not_found("Mutation", mutation_id)
