"""Org-wide bulk unit operations with where: clone (POST /unit), patch/upgrade/restore
(PATCH /unit), delete (DELETE /unit) and tag (POST /unit/tag)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Request

from confighub_local import service, units
from confighub_local.db.store import Doc, now
from confighub_local.errors import ApiError
from confighub_local.routes.common import (
    JSON,
    flag,
    multi_status,
    need_where,
    ok,
    st_of,
    user_only,
)
from confighub_local.unit_views import public_unit
from confighub_local.validation import check_uuid

router = APIRouter()


def _error(exc: ApiError) -> dict[str, Any]:
    return {"Message": exc.message, "Status": exc.status, "Type": "Error"}


@router.post("/unit")
def bulk_clone(
    request: Request,
    body: Annotated[Any, Body()] = None,
    where: str | None = None,
    filter: str | None = None,
    where_space: str | None = None,
    name_prefixes: str | None = None,
    allow_exists: str | None = None,
) -> JSON:
    """Clone every selected unit into every space selected by where_space."""
    user_only(request)
    st = st_of(request)
    need_where(where, filter)
    if not where_space:
        raise ApiError(400, "where_space is required to choose the spaces to clone into")
    if body is not None and not isinstance(body, dict):
        raise ApiError(400, "request body must be a JSON merge patch object")
    sources = service.list_docs(st, "Unit", where=where, filter_id=filter)
    spaces = service.list_docs(st, "Space", where=where_space)
    prefixes = [p for p in (name_prefixes or "").split(",") if p] or [""]
    results: list[dict[str, Any]] = []
    for space in spaces:
        for source in sources:
            for prefix in prefixes:
                base = {
                    k: v
                    for k, v in source.items()
                    if k in ("Labels", "Annotations", "DisplayName", "ToolchainType")
                }
                fields = service.merge_patch(base, body or {})
                fields["Slug"] = prefix + source["Slug"]
                try:
                    unit = units.create_unit(
                        st,
                        space,
                        fields,
                        allow_exists=flag(allow_exists),
                        upstream_unit_id=source["UnitID"],
                    )
                    results.append({"Unit": public_unit(unit)})
                except ApiError as exc:
                    results.append({"Error": _error(exc)})
    return multi_status(results)


@router.patch("/unit")
def bulk_patch(
    request: Request,
    body: Annotated[Any, Body()] = None,
    where: str | None = None,
    filter: str | None = None,
    upgrade: str | None = None,
    restore: str | None = None,
) -> JSON:
    """Merge-patch, upgrade and/or restore every selected unit (one result per unit)."""
    user_only(request)
    st = st_of(request)
    need_where(where, filter)
    selected = service.list_docs(st, "Unit", where=where, filter_id=filter)
    results: list[dict[str, Any]] = []
    for unit in selected:
        try:
            with st.store.tx():
                space = service.get_space(st, unit["SpaceID"])
                current = unit
                if flag(upgrade):
                    current = units.upgrade(st, current)
                if restore:
                    current = units.restore(st, current, restore)
                if isinstance(body, dict) and body:
                    patch = {k: v for k, v in body.items() if k != "Version"}
                    current = units.update_unit(st, space, current, patch, patch=True)
            results.append({"Unit": public_unit(current)})
        except ApiError as exc:
            results.append({"Error": _error(exc), "Unit": public_unit(unit)})
    return multi_status(results)


@router.delete("/unit")
def bulk_delete(request: Request, where: str | None = None, filter: str | None = None) -> JSON:
    user_only(request)
    st = st_of(request)
    need_where(where, filter)
    results = []
    for unit in service.list_docs(st, "Unit", where=where, filter_id=filter):
        units.delete_unit(st, unit)
        results.append({"Message": f"Unit {unit['UnitID']} deleted"})
    return ok(results)


@router.post("/unit/tag")
def bulk_tag(
    request: Request,
    body: Annotated[Any, Body()] = None,
    where: str | None = None,
    filter: str | None = None,
) -> JSON:
    """Tag a revision (default: head) of every selected unit."""
    user_only(request)
    st = st_of(request)
    need_where(where, filter)
    if not isinstance(body, dict) or not body.get("TagID"):
        raise ApiError(400, "UnitTagRequest.TagID is required")
    tag_id = check_uuid(str(body["TagID"]), "UnitTagRequest.TagID")
    tag = st.store.get("Tag", tag_id)
    if tag is None:
        raise ApiError(400, f"UnitTagRequest.TagID {tag_id} does not name an existing Tag")
    ref = str(body.get("Revision") or "HeadRevisionNum")
    results: list[dict[str, Any]] = []
    for unit in service.list_docs(st, "Unit", where=where, filter_id=filter):
        try:
            with st.store.tx():
                rev: Doc = units.resolve_revision(st, unit, ref)
                rev.setdefault("Tags", {})[tag_id] = tag["Slug"]
                rev["UpdatedAt"] = now()
                st.store.replace("Revision", rev["RevisionID"], rev)
            results.append({"Message": f"tagged {unit['Slug']} revision {rev['RevisionNum']}"})
        except ApiError as exc:
            results.append({"Error": _error(exc)})
    return multi_status(results)
