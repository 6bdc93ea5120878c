"""ExtendedUnit and the other views of units and revisions that clients read: the spec's
`include` names, never-null lists, live state and status beside the unit."""

from __future__ import annotations

from confighub_local import mutations, service, units, worker_secret
from confighub_local.context import ServerState
from confighub_local.db.store import Doc
from confighub_local.errors import ApiError
from confighub_local.merge import MergeConflict, load_docs
from confighub_local.status import unit_status

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


def space_and_unit(st: ServerState, space_id: str, unit_id: str) -> tuple[Doc, Doc]:
    space = service.get_space(st, space_id)
    return space, service.get_in_space(st, "Unit", space_id, unit_id)
