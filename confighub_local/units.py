"""Units and their revisions: every change of Data makes a new Revision; clones remember their
upstream; upgrade merges upstream changes; restore makes a new head equal to an old revision."""

from __future__ import annotations

import hashlib
from typing import Any

from confighub_local import service, triggers
from confighub_local.context import ServerState
from confighub_local.db.store import Doc, new_id, now
from confighub_local.errors import ApiError, not_found
from confighub_local.kinds import UNIT
from confighub_local.merge import MergeConflict, load_docs, three_way_merge
from confighub_local.validation import check_uuid, decode_b64, encode_b64

_NUM_FIELDS = (
    "HeadRevisionNum",
    "LiveRevisionNum",
    "LastAppliedRevisionNum",
    "PreviousLiveRevisionNum",
    "HeadMutationNum",
    "HeadUnitActionNum",
    "HeadUnitEventNum",
    "UpstreamRevisionNum",
)


def data_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def unit_data(doc: Doc) -> bytes:
    return decode_b64(doc.get("Data") or "", "Unit.Data")


def _add_revision(st: ServerState, unit: Doc, source: str, description: str = "") -> Doc:
    """Bump HeadRevisionNum and store the unit's current Data as that revision."""
    num = int(unit.get("HeadRevisionNum", 0)) + 1
    unit["HeadRevisionNum"] = num
    unit["HeadMutationNum"] = num
    stamp = now()
    rev: Doc = {
        "RevisionID": new_id(),
        "RevisionNum": num,
        "UnitID": unit["UnitID"],
        "SpaceID": unit["SpaceID"],
        "SpaceSlug": unit.get("SpaceSlug", ""),
        "OrganizationID": unit["OrganizationID"],
        "Data": unit.get("Data", ""),
        "DataHash": unit.get("DataHash", ""),
        "Description": description,
        "Source": source,
        "UserID": st.user_id,
        "ApprovedBy": [],
        "Tags": {},
        "MutationSources": [],
        "CreatedAt": stamp,
        "UpdatedAt": stamp,
        "Version": 1,
        "EntityType": "Revision",
    }
    if unit.get("ChangeSetID"):
        rev["ChangeSetID"] = unit["ChangeSetID"]
    unit["ApplyGates"] = triggers.evaluate(st, unit, unit_data(unit))
    st.store.insert(
        "Revision", rev["RevisionID"], rev, space_id=unit["SpaceID"], parent_id=unit["UnitID"]
    )
    return rev


def _set_target(st: ServerState, unit: Doc) -> None:
    target_id = unit.get("TargetID")
    if not target_id:
        unit.pop("TargetID", None)
        unit.pop("BridgeWorkerID", None)
        return
    target = st.store.get("Target", target_id)
    if target is None:
        raise ApiError(400, f"Unit.TargetID {target_id} does not name an existing Target")
    unit["BridgeWorkerID"] = target["BridgeWorkerID"]
    unit["ProviderType"] = target.get("ProviderType", "")


def check_config(unit: Doc, data: bytes) -> None:
    """Kubernetes/YAML data must be YAML whose documents are mappings (as functions need)."""
    if unit.get("ToolchainType") != "Kubernetes/YAML" or not data.strip():
        return
    try:
        docs = load_docs(data)
    except MergeConflict as exc:
        raise ApiError(400, f"Unit {unit.get('Slug')}: Data {exc}") from None
    for i, doc in enumerate(docs):
        if not isinstance(doc, dict):
            raise ApiError(
                400, f"Unit {unit.get('Slug')}: Data document {i + 1} is not a YAML mapping"
            )


def _finish_data(unit: Doc) -> bytes:
    data = unit_data(unit)
    check_config(unit, data)
    unit["Data"] = encode_b64(data)
    unit["DataHash"] = data_hash(data)
    return data


def create_unit(
    st: ServerState,
    space: Doc,
    body: Any,
    *,
    allow_exists: bool = False,
    upstream_unit_id: str | None = None,
    upstream_space_id: str | None = None,
) -> Doc:
    """Create a unit (revision 1), optionally as a clone of an upstream unit."""
    body = dict(body) if isinstance(body, dict) else body
    with st.store.tx():
        upstream = None
        if upstream_unit_id:
            check_uuid(upstream_unit_id, "upstream_unit_id")
            upstream = st.store.get("Unit", upstream_unit_id)
            if upstream is None or (upstream_space_id and upstream["SpaceID"] != upstream_space_id):
                raise not_found("Unit", upstream_unit_id)
            if isinstance(body, dict):
                body.setdefault("ToolchainType", upstream.get("ToolchainType"))
                if not body.get("Data"):
                    body["Data"] = upstream.get("Data", "")
        if isinstance(body, dict):
            existing = st.store.get_by_slug("Unit", space["SpaceID"], str(body.get("Slug", "")))
            if existing is not None and allow_exists:
                return existing
        unit = service.create(st, UNIT, space, body)
        for name in _NUM_FIELDS:
            unit.setdefault(name, 0)
        unit.setdefault("ApprovedBy", [])
        unit["MutationSources"] = []
        if upstream is not None:
            unit["UpstreamUnitID"] = upstream["UnitID"]
            unit["UpstreamSpaceID"] = upstream["SpaceID"]
            unit["UpstreamOrganizationID"] = upstream["OrganizationID"]
            unit["UpstreamRevisionNum"] = upstream["HeadRevisionNum"]
        _finish_data(unit)
        _set_target(st, unit)
        source = "Clone" if upstream is not None else "Create"
        _add_revision(st, unit, source, unit.get("LastChangeDescription", ""))
        return st.store.replace("Unit", unit["UnitID"], unit)


def update_unit(st: ServerState, space: Doc, old: Doc, body: Any, *, patch: bool) -> Doc:
    with st.store.tx():
        before = unit_data(old)
        unit = service.update(st, UNIT, space, old, body, patch=patch)
        data = _finish_data(unit)
        _set_target(st, unit)
        if data != before:
            _add_revision(st, unit, "Update", unit.get("LastChangeDescription", ""))
        return st.store.replace("Unit", unit["UnitID"], unit)


def set_data(st: ServerState, unit: Doc, data: bytes, source: str, description: str = "") -> Doc:
    """Write new Data as a new head revision unless it is unchanged (function invocations)."""
    with st.store.tx():
        current = st.store.get("Unit", unit["UnitID"]) or unit
        if unit_data(current) == data:
            return current
        return _write_data(st, current, data, source, description)


def _write_data(st: ServerState, current: Doc, data: bytes, source: str, description: str) -> Doc:
    """Store `data` on the (freshly read) unit as a new head revision; caller holds the tx."""
    current["Data"] = encode_b64(data)
    current["DataHash"] = data_hash(data)
    current["LastChangeDescription"] = description
    current["Version"] = int(current["Version"]) + 1
    current["UpdatedAt"] = now()
    _add_revision(st, current, source, description)
    return st.store.replace("Unit", current["UnitID"], current)


def revision(st: ServerState, unit: Doc, num: int) -> Doc:
    rows = st.store.select(
        "Revision",
        where_sql="json_extract(e.doc, '$.RevisionNum') = ?",
        params=[num],
        parent_id=unit["UnitID"],
    )
    if not rows:
        raise ApiError(404, f"Unit {unit['Slug']} has no revision {num}")
    return rows[0]


def resolve_revision(st: ServerState, unit: Doc, ref: str) -> Doc:
    """Revision references for restore/apply: numbers, named nums, Revision:/Tag:, Before:."""
    ref = ref.strip()
    before = ref.startswith("Before:")
    if before:
        ref = ref[len("Before:") :]
    num: int
    if ref.isdigit():
        num = int(ref)
    elif ref in (
        "LiveRevisionNum",
        "LastAppliedRevisionNum",
        "PreviousLiveRevisionNum",
        "HeadRevisionNum",
    ):
        num = int(unit.get(ref, 0))
    elif ref.startswith("Revision:"):
        rev = st.store.get("Revision", check_uuid(ref[len("Revision:") :], "restore"))
        if rev is None or rev["UnitID"] != unit["UnitID"]:
            raise ApiError(404, f"revision {ref} not found for unit {unit['Slug']}")
        num = int(rev["RevisionNum"])
    elif ref.startswith(("Tag:", "ChangeSet:")):
        field, ident = ref.split(":", 1)
        ident = check_uuid(ident, "restore")
        key = "$.Tags" if field == "Tag" else "$.ChangeSetID"
        direction = "ASC" if before and field == "ChangeSet" else "DESC"
        if field == "Tag":
            cond = f"json_extract(e.doc, '{key}.\"' || ? || '\"') IS NOT NULL"
        else:
            cond = f"json_extract(e.doc, '{key}') = ?"
        rows = st.store.select(
            "Revision",
            parent_id=unit["UnitID"],
            where_sql=cond,
            params=[ident],
            order=f"json_extract(e.doc, '$.RevisionNum') {direction}",
            limit=1,
        )
        if not rows:
            raise ApiError(404, f"unit {unit['Slug']} has no revision in {ref}")
        num = int(rows[0]["RevisionNum"])
    else:
        raise ApiError(400, f"invalid revision reference {ref!r}")
    if before:
        num -= 1
    if num < 1:
        raise ApiError(400, f"revision reference {ref!r} resolves to no revision")
    return revision(st, unit, num)


def restore(st: ServerState, unit: Doc, ref: str) -> Doc:
    rev = resolve_revision(st, unit, ref)
    data = decode_b64(rev.get("Data") or "", "Revision.Data")
    with st.store.tx():
        current = st.store.get("Unit", unit["UnitID"]) or unit
        description = f"Restored revision {rev['RevisionNum']}"
        return _write_data(st, current, data, "Restore", description)


def upgrade(st: ServerState, unit: Doc) -> Doc:
    """Three-way merge of upstream changes since UpstreamRevisionNum into the downstream."""
    if not unit.get("UpstreamUnitID"):
        raise ApiError(400, f"Unit {unit['Slug']} has no upstream unit to upgrade from")
    with st.store.tx():
        upstream = st.store.get("Unit", unit["UpstreamUnitID"])
        if upstream is None:
            raise ApiError(409, f"upstream unit {unit['UpstreamUnitID']} no longer exists")
        base_num = int(unit.get("UpstreamRevisionNum", 0))
        head_num = int(upstream["HeadRevisionNum"])
        if base_num >= head_num:
            return unit
        base = unit_data(revision(st, upstream, base_num)) if base_num else b""
        theirs = unit_data(upstream)
        mine = unit_data(unit)
        try:
            merged = three_way_merge(base, theirs, mine)
        except MergeConflict as exc:
            raise ApiError(409, f"upgrade of unit {unit['Slug']} conflicts: {exc}") from None
        current = st.store.get("Unit", unit["UnitID"]) or unit
        current["UpstreamRevisionNum"] = head_num
        description = f"Upgraded from upstream revision {head_num}"
        return _write_data(st, current, merged, "Upgrade", description)


def merge_range(st: ServerState, unit: Doc, source: str, base_ref: str, end_ref: str) -> Doc:
    """Merge one range of the source unit's revisions (`merge_base` → `merge_end`) into the unit.

    The change the source made between the two revisions is applied to the unit's current data
    with the same three-way merge as upgrade, so the unit's own edits survive. The range may run
    backwards (base newer than end): that applies the reverse change, i.e. goes back to the older
    content. When the source is the unit's upstream, `UpstreamRevisionNum` records `merge_end`,
    so the next upgrade or ranged merge starts from there.
    """
    source = source.strip()
    if source == "Self":
        source_unit = unit
    else:
        check_uuid(source, "merge_source")
        found = st.store.get("Unit", source)
        if found is None:
            raise ApiError(404, f"merge_source: Unit {source} not found")
        source_unit = found
    if not base_ref or not end_ref:
        raise ApiError(400, "merge_source needs both merge_base and merge_end")
    with st.store.tx():
        base_rev = resolve_revision(st, source_unit, base_ref)
        end_rev = resolve_revision(st, source_unit, end_ref)
        base = decode_b64(base_rev.get("Data") or "", "Revision.Data")
        theirs = decode_b64(end_rev.get("Data") or "", "Revision.Data")
        current = st.store.get("Unit", unit["UnitID"]) or unit
        mine = unit_data(current)
        try:
            merged = three_way_merge(base, theirs, mine)
        except MergeConflict as exc:
            raise ApiError(
                409,
                f"merge of unit {source_unit['Slug']} revisions {base_rev['RevisionNum']} → "
                f"{end_rev['RevisionNum']} into unit {unit['Slug']} conflicts: {exc}",
            ) from None
        is_upstream = source_unit["UnitID"] == current.get("UpstreamUnitID")
        if is_upstream:
            current["UpstreamRevisionNum"] = int(end_rev["RevisionNum"])
        description = (
            f"Merged {source_unit['Slug']} revisions {base_rev['RevisionNum']} → "
            f"{end_rev['RevisionNum']}"
        )
        if merged == mine:
            current["Version"] = int(current["Version"]) + 1
            current["UpdatedAt"] = now()
            return st.store.replace("Unit", current["UnitID"], current)
        return _write_data(st, current, merged, "Merge", description)


def delete_unit(st: ServerState, unit: Doc) -> None:
    with st.store.tx():
        st.store.delete_children(unit["UnitID"])
        st.store.delete("Unit", unit["UnitID"])
