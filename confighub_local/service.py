"""Generic entity operations shared by every route: get, list with where, create, update, delete.

Per-kind rules (a Filter's where must parse, a BridgeWorker gets a secret, ...) plug in through
`HOOKS`; units have their own module because revisions hang off them.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

from confighub_local.context import ServerState
from confighub_local.db.store import Doc, new_id, now
from confighub_local.errors import ApiError, not_found
from confighub_local.kinds import BY_NAME, Kind
from confighub_local.validation import check_uuid, decode_b64, validate_body
from confighub_local.where import Compiled, WhereError, combine, compile_contains, compile_where
from confighub_local.where_data import predicate as data_predicate

# hook(state, space_doc_or_None, new_doc, old_doc_or_None) -> None; raise ApiError to refuse
Hook = Callable[[ServerState, Doc | None, Doc, Doc | None], None]
HOOKS: dict[str, list[Hook]] = {}


def hook(kind: str) -> Callable[[Hook], Hook]:
    def register(fn: Hook) -> Hook:
        HOOKS.setdefault(kind, []).append(fn)
        return fn

    return register


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


# -- lookups ----------------------------------------------------------------------------------


def get_space(st: ServerState, space_id: str) -> Doc:
    check_uuid(space_id, "space_id")
    doc = st.store.get("Space", space_id)
    if doc is None:
        raise not_found("Space", space_id)
    return doc


def get_in_space(st: ServerState, kind: str, space_id: str, entity_id: str) -> Doc:
    check_uuid(entity_id, f"{BY_NAME[kind].id_field}" if kind in BY_NAME else "id")
    doc = st.store.get(kind, entity_id)
    if doc is None or doc.get("SpaceID") != space_id:
        raise not_found(kind, entity_id)
    return doc


def where_clause(
    st: ServerState,
    kind: str,
    where: str | None,
    contains: str | None = None,
    filter_id: str | None = None,
    space_id: str | None = None,
) -> Compiled:
    """Combine `where`, a saved Filter's where and `contains` into one SQL fragment."""
    parts: list[Compiled] = []
    try:
        if where:
            parts.append(compile_where(where, kind))
        if filter_id:
            check_uuid(filter_id, "filter")
            flt = st.store.get("Filter", filter_id)
            if flt is None:
                raise not_found("Filter", filter_id)
            if flt.get("From") != kind:
                raise ApiError(400, f"Filter {filter_id} selects {flt.get('From')}, not {kind}")
            if space_id and flt.get("FromSpaceID") and flt["FromSpaceID"] != space_id:
                raise ApiError(
                    400,
                    f"Filter {filter_id} selects from space {flt['FromSpaceID']}, "
                    f"not space {space_id}",
                )
            if flt.get("Where"):
                parts.append(compile_where(flt["Where"], kind))
            if flt.get("FromSpaceID"):
                parts.append(Compiled("e.space_id = ?", [flt["FromSpaceID"]]))
    except WhereError as exc:
        raise ApiError(400, f"invalid where expression: {exc}") from None
    if contains:
        parts.append(compile_contains(contains))
    return combine(*parts)


def data_filter(
    st: ServerState,
    kind: str,
    where_data: str | None,
    resource_type: str | None,
    filter_id: str | None,
) -> Callable[[bytes], bool] | None:
    """The units' data test from `where_data`/`resource_type` and a Unit Filter's WhereData/
    ResourceType (all ANDed); a 400 when any is given for entities other than units."""
    tests = []
    flt = st.store.get("Filter", filter_id) if filter_id else None
    pairs = [(where_data, resource_type, "where_data/resource_type")]
    if flt is not None:
        pairs.append((flt.get("WhereData"), flt.get("ResourceType"), f"Filter {filter_id}"))
    for wd, rt, source in pairs:
        if not wd and not rt:
            continue
        if kind != "Unit":
            raise ApiError(400, f"{source}: WhereData/ResourceType apply only to Units, not {kind}")
        test = data_predicate(wd, rt)
        if test is not None:
            tests.append(test)
    if not tests:
        return None
    return lambda data: all(t(data) for t in tests)


def _doc_data(doc: Doc) -> bytes:
    return decode_b64(doc.get("Data") or "", "Unit.Data")


def list_docs(
    st: ServerState,
    kind: str,
    *,
    space_id: str | None = None,
    where: str | None = None,
    contains: str | None = None,
    filter_id: str | None = None,
    parent_id: str | None = None,
    where_data: str | None = None,
    resource_type: str | None = None,
) -> list[Doc]:
    clause = where_clause(st, kind, where, contains, filter_id, space_id)
    test = data_filter(st, kind, where_data, resource_type, filter_id)
    docs = st.store.select(
        kind,
        where_sql=clause.sql,
        params=clause.params,
        joins=clause.join_sql(),
        space_id=space_id,
        parent_id=parent_id,
    )
    return docs if test is None else [d for d in docs if test(_doc_data(d))]


def list_rows(
    st: ServerState,
    kind: str,
    *,
    space_id: str | None = None,
    where: str | None = None,
    contains: str | None = None,
    filter_id: str | None = None,
    where_data: str | None = None,
    resource_type: str | None = None,
) -> list[tuple[Any, ...]]:
    """Like list_docs, but raw (cursor, JSON text, space_id) rows for fast list responses."""
    clause = where_clause(st, kind, where, contains, filter_id, space_id)
    test = data_filter(st, kind, where_data, resource_type, filter_id)
    rows = st.store.select_rows(
        kind,
        where_sql=clause.sql,
        params=clause.params,
        joins=clause.join_sql(),
        space_id=space_id,
    )
    if test is None:
        return rows
    return [r for r in rows if test(_doc_data(json.loads(r[1])))]


# -- writes -----------------------------------------------------------------------------------


def _check_refs(st: ServerState, kind: Kind, doc: Doc) -> None:
    for field, ref_kind in kind.refs.items():
        value = doc.get(field)
        if value and st.store.get(ref_kind, value) is None:
            raise ApiError(400, f"{kind.name}.{field} {value} does not name an existing {ref_kind}")


def _run_hooks(st: ServerState, kind: Kind, space: Doc | None, doc: Doc, old: Doc | None) -> None:
    for fn in HOOKS.get(kind.name, []):
        fn(st, space, doc, old)


def create(
    st: ServerState, kind: Kind, space: Doc | None, body: Any, *, allow_exists: bool = False
) -> Doc:
    fields = validate_body(kind.name, body, required=kind.required)
    for name in kind.server_fields:
        fields.pop(name, None)
    fields.pop(kind.id_field, None)
    space_id = space["SpaceID"] if space else None
    with st.store.tx():
        existing = st.store.get_by_slug(kind.name, space_id, fields["Slug"])
        if existing is not None:
            if allow_exists:
                return existing
            where = f" in space {space['Slug']}" if space else ""
            raise ApiError(409, f"{kind.name} with Slug {fields['Slug']!r} already exists{where}")
        stamp = now()
        doc: Doc = {
            kind.id_field: new_id(),
            "OrganizationID": st.org_id,
            **({"SpaceID": space_id, "SpaceSlug": space["Slug"]} if space else {}),
            "Labels": {},
            "Annotations": {},
            **fields,
            "CreatedAt": stamp,
            "UpdatedAt": stamp,
            "Version": 1,
            "EntityType": kind.name,
        }
        _check_refs(st, kind, doc)
        _run_hooks(st, kind, space, doc, None)
        return st.store.insert(
            kind.name, doc[kind.id_field], doc, space_id=space_id, slug=doc["Slug"]
        )


def update(
    st: ServerState, kind: Kind, space: Doc | None, old: Doc, body: Any, *, patch: bool
) -> Doc:
    """PUT replaces the writable fields, PATCH merges; either refuses a stale Version (409)."""
    if body is not None and not isinstance(body, dict):
        raise ApiError(400, f"request body for {kind.name} must be a JSON object")
    body = body or {}
    sent_version = body.get("Version")
    if sent_version is not None and not isinstance(sent_version, int):
        raise ApiError(400, f"{kind.name}.Version must be an integer")
    with st.store.tx():
        current = st.store.get(kind.name, old[kind.id_field]) or old
        if sent_version is not None and sent_version != current["Version"]:
            raise ApiError(
                409,
                f"{kind.name} {current[kind.id_field]} was modified: Version {sent_version} "
                f"is stale, current is {current['Version']}",
            )
        writable = {k: v for k, v in current.items() if k not in kind.server_fields}
        writable.pop(kind.id_field, None)
        writable.pop("Version", None)
        if patch:
            merged = merge_patch(writable, {k: v for k, v in body.items() if k != "Version"})
        else:
            merged = {k: v for k, v in body.items() if k != "Version"}
        fields = validate_body(kind.name, merged, required=kind.required)
        for name in kind.server_fields:
            fields.pop(name, None)
        fields.pop(kind.id_field, None)
        doc: Doc = {k: v for k, v in current.items() if k in kind.server_fields}
        doc[kind.id_field] = current[kind.id_field]
        doc.update(fields)
        doc.setdefault("Labels", {})
        doc.setdefault("Annotations", {})
        if doc["Slug"] != current["Slug"]:
            clash = st.store.get_by_slug(kind.name, current.get("SpaceID"), doc["Slug"])
            if clash is not None:
                raise ApiError(409, f"{kind.name} with Slug {doc['Slug']!r} already exists")
        _check_refs(st, kind, doc)
        _run_hooks(st, kind, space, doc, current)
        doc["Version"] = current["Version"] + 1
        doc["UpdatedAt"] = now()
        return st.store.replace(kind.name, doc[kind.id_field], doc, slug=doc["Slug"])


def delete(st: ServerState, kind: Kind, doc: Doc) -> dict[str, Any]:
    with st.store.tx():
        st.store.delete(kind.name, doc[kind.id_field])
    return {"Message": f"{kind.name} {doc[kind.id_field]} deleted"}
