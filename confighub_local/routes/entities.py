"""Space-scoped CRUD for the simple entities (filter, link, target, bridge_worker, tag,
change_set, trigger, view, invocation) plus their org-wide listings, from one template."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request

from confighub_local import service, worker_secret
from confighub_local.context import ServerState
from confighub_local.db.store import Doc
from confighub_local.errors import ApiError, not_found
from confighub_local.functions.invoke import signatures
from confighub_local.kinds import BRIDGE_WORKER, SIMPLE_KINDS, Kind
from confighub_local.routes import worker_api
from confighub_local.routes.common import JSON, flag, multi_status, ok, st_of, user_only
from confighub_local.routes.units import unsupported
from confighub_local.validation import check_uuid

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


# -- bulk clone / patch / delete of the simple entities (POST|PATCH|DELETE /<segment>?where=) --

_BULK_CREATE = ("Filter", "Link", "Tag", "ChangeSet", "Trigger", "View", "Invocation")
_CLONED_FIELDS = ("ID", "Slug", "SpaceID", "SpaceSlug", "CreatedAt", "UpdatedAt", "Version")


def _bulk_error(exc: ApiError, kind: Kind, doc: Doc | None) -> dict[str, Any]:
    err: dict[str, Any] = {"Message": exc.message, "Status": exc.status, "Type": "Error"}
    if doc is not None:
        err["ErrorMetadata"] = {"EntityType": kind.name, "EntityID": doc.get(kind.id_field, "")}
    return {"Error": err}


def _selected(
    request: Request, kind: Kind, where: str | None, filter_id: str | None, contains: str | None
) -> list[Doc]:
    user_only(request)
    if not where and not filter_id:
        raise ApiError(400, f"bulk {kind.name} operations need a where or filter selecting them")
    return service.list_docs(
        st_of(request), kind.name, where=where, contains=contains, filter_id=filter_id
    )


def _register_bulk(kind: Kind) -> None:
    def bulk_create(
        request: Request,
        body: Annotated[Any, Body()] = None,
        where: str | None = None,
        filter: str | None = None,
        contains: str | None = None,
        where_space: str | None = None,
        filter_space: str | None = None,
        name_prefixes: str | None = None,
        allow_exists: str | None = None,
        variant_labels: str | None = None,
        name_pattern: str | None = None,
    ) -> JSON:
        """Clone the selected entities into the spaces where_space selects (default: their own
        space), each slug prefixed by every name prefix, the body merge-patched onto each."""
        unsupported(variant_labels=variant_labels, name_pattern=name_pattern)
        st = st_of(request)
        sources = _selected(request, kind, where, filter, contains)
        if body is not None and not isinstance(body, dict):
            raise ApiError(400, "request body must be a JSON merge patch object")
        spaces: list[Doc] | None = None
        if where_space or filter_space:
            spaces = service.list_docs(st, "Space", where=where_space, filter_id=filter_space)
        prefixes = [p for p in (name_prefixes or "").split(",") if p] or [""]
        if spaces is None and prefixes == [""]:
            raise ApiError(400, "cloning into the same space needs name_prefixes or where_space")
        results: list[dict[str, Any]] = []
        for source in sources:
            for space in spaces or [service.get_space(st, source["SpaceID"])]:
                for prefix in prefixes:
                    fields = {
                        k: v
                        for k, v in source.items()
                        if k not in (*_CLONED_FIELDS, kind.id_field, *kind.server_fields)
                    }
                    fields = service.merge_patch(fields, body or {})
                    fields["Slug"] = prefix + source["Slug"]
                    try:
                        made = service.create(
                            st, kind, space, fields, allow_exists=flag(allow_exists)
                        )
                        results.append({kind.name: public(st, kind, made)})
                    except ApiError as exc:
                        results.append(_bulk_error(exc, kind, source))
        return multi_status(results)

    def bulk_patch(
        request: Request,
        body: Annotated[Any, Body()] = None,
        where: str | None = None,
        filter: str | None = None,
        contains: str | None = None,
    ) -> JSON:
        st = st_of(request)
        if not isinstance(body, dict):
            raise ApiError(400, "request body must be a JSON merge patch object")
        results: list[dict[str, Any]] = []
        for doc in _selected(request, kind, where, filter, contains):
            try:
                space = service.get_space(st, doc["SpaceID"])
                patch = {k: v for k, v in body.items() if k != "Version"}
                done = service.update(st, kind, space, doc, patch, patch=True)
                results.append({kind.name: public(st, kind, done)})
            except ApiError as exc:
                results.append(_bulk_error(exc, kind, doc))
        return multi_status(results)

    def bulk_delete(
        request: Request,
        where: str | None = None,
        filter: str | None = None,
        contains: str | None = None,
    ) -> JSON:
        st = st_of(request)
        results: list[dict[str, Any]] = []
        for doc in _selected(request, kind, where, filter, contains):
            try:
                if kind is BRIDGE_WORKER:
                    worker_api.drop_announced_targets(st, doc)
                results.append(service.delete(st, kind, doc))
            except ApiError as exc:
                results.append(_bulk_error(exc, kind, doc))
        return multi_status(results)

    path = f"/{kind.segment}"
    if kind.name in _BULK_CREATE:
        router.add_api_route(path, bulk_create, methods=["POST"], name=f"BulkCreate{kind.name}s")
    router.add_api_route(path, bulk_patch, methods=["PATCH"], name=f"BulkPatch{kind.name}s")
    router.add_api_route(path, bulk_delete, methods=["DELETE"], name=f"BulkDelete{kind.name}s")


for _kind in SIMPLE_KINDS:
    _register_bulk(_kind)


# -- a bridge worker's status and functions ---------------------------------------------------


def _worker(request: Request, space_id: str, worker_id: str) -> Doc:
    user_only(request)
    st = st_of(request)
    service.get_space(st, space_id)
    return service.get_in_space(st, BRIDGE_WORKER.name, space_id, worker_id)


@router.get("/space/{space_id}/bridge_worker/{bridge_worker_id}/status")
def list_worker_statuses(request: Request, space_id: str, bridge_worker_id: str) -> JSON:
    """The worker's last reported status (this server keeps only the latest one)."""
    return ok(list_worker_statuses_docs(_worker(request, space_id, bridge_worker_id)))


def _status(worker: Doc, status_id: str) -> Doc:
    return {
        "BridgeWorkerStatusID": status_id,
        "BridgeWorkerID": worker["BridgeWorkerID"],
        "BridgeWorkerSlug": worker["Slug"],
        "SpaceID": worker["SpaceID"],
        "OrganizationID": worker["OrganizationID"],
        "Status": worker.get("Condition") or "Disconnected",
        "SeenAt": worker["LastSeenAt"],
        "IPAddress": worker.get("IPAddress") or "",
    }


@router.get("/space/{space_id}/bridge_worker/{bridge_worker_id}/status/{status_id}")
def get_worker_status(
    request: Request, space_id: str, bridge_worker_id: str, status_id: str
) -> JSON:
    worker = _worker(request, space_id, bridge_worker_id)
    check_uuid(status_id, "status_id")
    for item in list_worker_statuses_docs(worker):
        if item["BridgeWorkerStatusID"] == status_id.lower():
            return ok(item)
    raise not_found("BridgeWorkerStatus", status_id)


def list_worker_statuses_docs(worker: Doc) -> list[Doc]:
    if not worker.get("LastSeenAt"):
        return []
    key = f"{worker['BridgeWorkerID']}/{worker['LastSeenAt']}"
    return [_status(worker, str(uuid.uuid5(uuid.NAMESPACE_URL, key)))]


@router.get("/space/{space_id}/bridge_worker/{bridge_worker_id}/function")
def list_worker_functions(request: Request, space_id: str, bridge_worker_id: str) -> JSON:
    """Toolchain -> function -> signature: what the worker announced, else the functions this
    server runs itself for units behind any worker."""
    worker = _worker(request, space_id, bridge_worker_id)
    info = worker.get("ProvidedInfo") or {}
    announced = (info.get("FunctionWorkerInfo") or {}).get("SupportedFunctions")
    return ok(announced or signatures())


# -- Sets: not in the API this server follows -------------------------------------------------

_NO_SETS = (
    "Sets are not supported by this server: the ConfigHub API it follows (openapi.json, "
    "mid-2026) has no Set entity; group units with a label and select them with a saved Filter "
    "(cub filter create ... Unit --where \"Labels.<key> = '<value>'\")"
)


@router.api_route("/space/{space_id}/set", methods=["GET", "POST", "PATCH", "DELETE"])
@router.api_route("/space/{space_id}/set/{set_id}", methods=["GET", "PUT", "PATCH", "DELETE"])
@router.api_route("/set", methods=["GET", "POST", "PATCH", "DELETE"])
def no_sets(request: Request) -> JSON:
    user_only(request)
    raise ApiError(404, _NO_SETS)
