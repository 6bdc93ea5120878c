"""Bulk clone / patch / delete of the simple entities: `POST|PATCH|DELETE /<segment>?where=`
(one result per entity; 207 when some failed)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Request

from confighub_local import service
from confighub_local.context import ServerState
from confighub_local.db.store import Doc
from confighub_local.errors import ApiError
from confighub_local.kinds import BRIDGE_WORKER, SIMPLE_KINDS, Kind
from confighub_local.routes import worker_api
from confighub_local.routes.common import JSON, flag, multi_status, st_of, unsupported, user_only

router = APIRouter()


def _public(st: ServerState, kind: Kind, doc: Doc) -> Doc:
    from confighub_local.routes.entities import public  # entities includes this router

    return public(st, kind, doc)


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
                        results.append({kind.name: _public(st, kind, made)})
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
                results.append({kind.name: _public(st, kind, done)})
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
