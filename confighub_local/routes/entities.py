"""Space-scoped CRUD for the simple entities (filter, link, target, bridge_worker, tag,
change_set, trigger, view, invocation) plus their org-wide listings, from one template."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Request

from confighub_local import service, worker_secret
from confighub_local.context import ServerState
from confighub_local.db.store import Doc
from confighub_local.errors import ApiError
from confighub_local.kinds import BRIDGE_WORKER, SIMPLE_KINDS, Kind
from confighub_local.routes import entity_bulk, sets, worker_api, worker_info
from confighub_local.routes.common import (
    JSON,
    flag,
    ok,
    st_of,
    user_only,
)

router = APIRouter()

# related entities an Extended<Kind> wrapper names, per kind: wrapper key -> (field, kind)
_RELATED: dict[str, dict[str, tuple[str, str]]] = {
    "Filter": {"FromSpace": ("FromSpaceID", "Space")},
    "Link": {
        "FromUnit": ("FromUnitID", "Unit"),
        "ToUnit": ("ToUnitID", "Unit"),
        "ToSpace": ("ToSpaceID", "Space"),
    },
    "Target": {"BridgeWorker": ("BridgeWorkerID", "BridgeWorker")},
    "Tag": {"ChangeSet": ("ChangeSetID", "ChangeSet")},
    "ChangeSet": {"StartTag": ("StartTagID", "Tag"), "EndTag": ("EndTagID", "Tag")},
    "Trigger": {"BridgeWorker": ("BridgeWorkerID", "BridgeWorker")},
}


def public(st: ServerState, kind: Kind, doc: Doc) -> Doc:
    """A worker as the admin reads it carries its secret (the CLI's `worker run`/`get-secret`
    read it there); the stored hash and sealed copy never leave the server."""
    if kind is BRIDGE_WORKER:
        return worker_secret.box(st.extras).revealed(doc)
    return doc


# include names (ID fields) -> kind of the entity they name; the Extended key drops "ID"
_INCLUDE_KINDS = {
    "SpaceID": "Space",
    "FromSpaceID": "Space",
    "ToSpaceID": "Space",
    "FromUnitID": "Unit",
    "ToUnitID": "Unit",
    "UnitID": "Unit",
    "BridgeWorkerID": "BridgeWorker",
    "StartTagID": "Tag",
    "EndTagID": "Tag",
    "ChangeSetID": "ChangeSet",
    "FilterID": "Filter",
    "UnitFilterID": "Filter",
    "TriggerFilterID": "Filter",
    "AttributeFilterID": "Filter",
    "InvocationID": "Invocation",
    "TransformInvocationID": "Invocation",
    "TargetID": "Target",
    "UserID": "User",
    "OrganizationID": "Organization",
    "TriggerIDs": "Trigger",
}


def _include_names(kind: Kind, include: str | None) -> list[str]:
    names = [n.strip() for n in (include or "").split(",") if n.strip()]
    for name in names:
        if name not in _INCLUDE_KINDS:
            raise ApiError(
                400,
                f"include: unknown attribute {name!r} for {kind.name}; supported: "
                + ", ".join(sorted(_INCLUDE_KINDS)),
            )
    return names


def _extended(
    request: Request,
    kind: Kind,
    doc: Doc,
    spaces: dict[str, Doc],
    related: bool,
    include: str | None = None,
) -> Doc:
    """Extended<Kind>: the entity, its space, and what `include` names (on get also the
    related entities the spec's Extended wrapper lists)."""
    st = st_of(request)
    out: Doc = {kind.name: public(st, kind, doc)}
    sid = doc.get("SpaceID")
    if sid:
        if sid not in spaces:
            found = st.store.get("Space", sid)
            if found is not None:
                spaces[sid] = found
        if sid in spaces:
            out["Space"] = spaces[sid]
    wanted = {
        field: (key, ref_kind) for key, (field, ref_kind) in _RELATED.get(kind.name, {}).items()
    }
    if not related:
        wanted = {}
    for name in _include_names(kind, include):
        if name == "TriggerIDs":
            wanted[name] = ("Triggers", "Trigger")
        elif name != "SpaceID":
            wanted[name] = (name[:-2], _INCLUDE_KINDS[name])
    for field, (key, ref_kind) in wanted.items():
        value = doc.get(field)
        if not value:
            continue
        if isinstance(value, list):
            refs = [st.store.get(ref_kind, v) for v in value]
            out[key] = [worker_secret.public(r) for r in refs if r is not None]
            continue
        ref = st.store.get(ref_kind, value)
        if ref is not None:
            out[key] = worker_secret.public(ref)
    return out


def _register(kind: Kind) -> None:
    base = f"/space/{{space_id}}/{kind.segment}"
    item = f"{base}/{{entity_id}}"

    def list_in_space(
        request: Request,
        space_id: str,
        where: str | None = None,
        contains: str | None = None,
        filter: str | None = None,
        include: str | None = None,
    ) -> JSON:
        user_only(request)
        st = st_of(request)
        space = service.get_space(st, space_id)
        _include_names(kind, include)
        docs = service.list_docs(
            st, kind.name, space_id=space_id, where=where, contains=contains, filter_id=filter
        )
        spaces = {space_id: space}
        return ok([_extended(request, kind, d, spaces, False, include) for d in docs])

    def list_all(
        request: Request,
        where: str | None = None,
        contains: str | None = None,
        filter: str | None = None,
        include: str | None = None,
    ) -> JSON:
        user_only(request)
        _include_names(kind, include)
        docs = service.list_docs(
            st_of(request), kind.name, where=where, contains=contains, filter_id=filter
        )
        spaces: dict[str, Doc] = {}
        return ok([_extended(request, kind, d, spaces, False, include) for d in docs])

    def create(
        request: Request,
        space_id: str,
        body: Annotated[Any, Body()] = None,
        allow_exists: str | None = None,
    ) -> JSON:
        user_only(request)
        st = st_of(request)
        space = service.get_space(st, space_id)
        before = None
        if kind is BRIDGE_WORKER and isinstance(body, dict) and isinstance(body.get("Slug"), str):
            before = st.store.get_by_slug(kind.name, space_id, body["Slug"])
        doc = service.create(st, kind, space, body, allow_exists=flag(allow_exists))
        if kind is not BRIDGE_WORKER or before is not None:
            return ok(public(st, kind, doc))
        worker_secret.box(st.extras).issue(doc)
        st.store.replace(kind.name, doc[kind.id_field], doc)
        return ok(public(st, kind, doc))

    def get(request: Request, space_id: str, entity_id: str, include: str | None = None) -> JSON:
        user_only(request)
        st = st_of(request)
        space = service.get_space(st, space_id)
        doc = service.get_in_space(st, kind.name, space_id, entity_id)
        return ok(_extended(request, kind, doc, {space_id: space}, True, include))

    def put(
        request: Request, space_id: str, entity_id: str, body: Annotated[Any, Body()] = None
    ) -> JSON:
        user_only(request)
        st = st_of(request)
        space = service.get_space(st, space_id)
        old = service.get_in_space(st, kind.name, space_id, entity_id)
        return ok(public(st, kind, service.update(st, kind, space, old, body, patch=False)))

    def patch(
        request: Request, space_id: str, entity_id: str, body: Annotated[Any, Body()] = None
    ) -> JSON:
        user_only(request)
        st = st_of(request)
        space = service.get_space(st, space_id)
        old = service.get_in_space(st, kind.name, space_id, entity_id)
        return ok(public(st, kind, service.update(st, kind, space, old, body, patch=True)))

    def delete(request: Request, space_id: str, entity_id: str) -> JSON:
        user_only(request)
        st = st_of(request)
        service.get_space(st, space_id)
        doc = service.get_in_space(st, kind.name, space_id, entity_id)
        if kind is BRIDGE_WORKER:
            worker_api.drop_announced_targets(st, doc)
        return ok(service.delete(st, kind, doc))

    name = kind.name
    router.add_api_route(base, list_in_space, methods=["GET"], name=f"List{name}s")
    router.add_api_route(base, create, methods=["POST"], name=f"Create{name}")
    router.add_api_route(item, get, methods=["GET"], name=f"Get{name}")
    router.add_api_route(item, put, methods=["PUT"], name=f"Update{name}")
    router.add_api_route(item, patch, methods=["PATCH"], name=f"Patch{name}")
    router.add_api_route(item, delete, methods=["DELETE"], name=f"Delete{name}")
    router.add_api_route(f"/{kind.segment}", list_all, methods=["GET"], name=f"ListAll{name}s")


for _kind in SIMPLE_KINDS:
    _register(_kind)


# included here so app.py registers them with the entity routes
router.include_router(entity_bulk.router)
router.include_router(worker_info.router)
router.include_router(sets.router)
