"""Unit operations: apply/destroy/refresh/approve (single and bulk), unit actions and events,
live state."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from confighub_local import operations, service, units
from confighub_local.compat import is_old_cub
from confighub_local.context import ServerState
from confighub_local.db.store import Doc
from confighub_local.errors import ApiError, not_found
from confighub_local.routes.common import (
    JSON,
    flag,
    multi_status,
    need_where,
    ok,
    st_of,
    user_only,
)
from confighub_local.status import unit_status
from confighub_local.unit_views import public_unit
from confighub_local.validation import check_uuid, decode_b64

router = APIRouter()


def _unit(st: ServerState, space_id: str, unit_id: str) -> Doc:
    service.get_space(st, space_id)
    return service.get_in_space(st, "Unit", space_id, unit_id)


def _queue(
    st: ServerState, unit: Doc, action: str, revision: str | None, dry_run: str | None
) -> Doc:
    rev = units.resolve_revision(st, unit, revision) if revision else None
    return operations.queue(st, unit, action, revision=rev, dry_run=flag(dry_run))


@router.post("/space/{space_id}/unit/{unit_id}/apply")
def apply_unit(
    request: Request,
    space_id: str,
    unit_id: str,
    revision: str | None = None,
    dry_run: str | None = None,
) -> JSON:
    user_only(request)
    st = st_of(request)
    return ok(_queue(st, _unit(st, space_id, unit_id), "Apply", revision, dry_run))


@router.post("/space/{space_id}/unit/{unit_id}/destroy")
def destroy_unit(request: Request, space_id: str, unit_id: str, dry_run: str | None = None) -> JSON:
    user_only(request)
    st = st_of(request)
    return ok(_queue(st, _unit(st, space_id, unit_id), "Destroy", None, dry_run))


@router.post("/space/{space_id}/unit/{unit_id}/refresh")
def refresh_unit(request: Request, space_id: str, unit_id: str, dry_run: str | None = None) -> JSON:
    user_only(request)
    st = st_of(request)
    return ok(_queue(st, _unit(st, space_id, unit_id), "Refresh", None, dry_run))


@router.post("/space/{space_id}/unit/{unit_id}/approve")
def approve_unit(request: Request, space_id: str, unit_id: str) -> JSON:
    """ApproveResponse per the spec; the older `cub` expects the message as a JSON string."""
    user_only(request)
    st = st_of(request)
    unit = operations.approve(st, _unit(st, space_id, unit_id))
    message = f"Unit {unit['Slug']} approved"
    if is_old_cub(request):
        return ok(message)
    return ok({"Unit": public_unit(unit), "Message": message})


def _bulk(
    request: Request,
    action: str,
    where: str | None,
    filter_id: str | None,
    revision: str | None,
    dry_run: str | None,
) -> JSON:
    user_only(request)
    st = st_of(request)
    need_where(where, filter_id)
    results: list[dict[str, Any]] = []
    for unit in service.list_docs(st, "Unit", where=where, filter_id=filter_id):
        try:
            if action == "Cancel":
                for op in operations.cancel(st, unit):
                    results.append({"Action": op})
            elif action == "Approve":
                done = operations.approve(st, unit)
                results.append(
                    {"Unit": public_unit(done), "Message": f"Unit {done['Slug']} approved"}
                )
            else:
                results.append({"Action": _queue(st, unit, action, revision, dry_run)})
        except ApiError as exc:
            results.append({"Error": {"Message": exc.message, "Status": exc.status}})
    return multi_status(results)


@router.post("/unit/apply")
def bulk_apply(
    request: Request,
    where: str | None = None,
    filter: str | None = None,
    revision: str | None = None,
    dry_run: str | None = None,
) -> JSON:
    return _bulk(request, "Apply", where, filter, revision, dry_run)


@router.post("/unit/destroy")
def bulk_destroy(
    request: Request,
    where: str | None = None,
    filter: str | None = None,
    dry_run: str | None = None,
) -> JSON:
    return _bulk(request, "Destroy", where, filter, None, dry_run)


@router.post("/unit/refresh")
def bulk_refresh(
    request: Request,
    where: str | None = None,
    filter: str | None = None,
    dry_run: str | None = None,
) -> JSON:
    return _bulk(request, "Refresh", where, filter, None, dry_run)


@router.post("/unit/cancel")
def bulk_cancel(request: Request, where: str | None = None, filter: str | None = None) -> JSON:
    return _bulk(request, "Cancel", where, filter, None, None)


@router.get("/space/{space_id}/unit/{unit_id}/extended")
def unit_extended(request: Request, space_id: str, unit_id: str) -> JSON:
    """The unit with its status summary and the links from and to it."""
    user_only(request)
    st = st_of(request)
    unit = _unit(st, space_id, unit_id)
    status = unit_status(st, unit)
    links_from = st.store.select(
        "Link", where_sql="json_extract(e.doc, '$.FromUnitID') = ?", params=[unit["UnitID"]]
    )
    links_to = st.store.select(
        "Link", where_sql="json_extract(e.doc, '$.ToUnitID') = ?", params=[unit["UnitID"]]
    )
    return ok(
        {
            "Unit": unit,
            **status,
            "FromLinks": links_from,
            "ToLinks": links_to,
            "ApprovedByUsers": list(unit.get("ApprovedBy") or []),
        }
    )


@router.post("/unit/approve")
def bulk_approve(request: Request, where: str | None = None, filter: str | None = None) -> JSON:
    return _bulk(request, "Approve", where, filter, None, None)


@router.get("/space/{space_id}/unit/{unit_id}/unit_action")
def list_unit_actions(
    request: Request, space_id: str, unit_id: str, where: str | None = None
) -> JSON:
    user_only(request)
    st = st_of(request)
    unit = _unit(st, space_id, unit_id)
    return ok(service.list_docs(st, "QueuedOperation", where=where, parent_id=unit["UnitID"]))


@router.get("/space/{space_id}/unit/{unit_id}/unit_action/{unit_action_id}")
def get_unit_action(request: Request, space_id: str, unit_id: str, unit_action_id: str) -> JSON:
    return _unit_child(
        request,
        space_id,
        unit_id,
        "QueuedOperation",
        "UnitAction",
        unit_action_id,
        "unit_action_id",
    )


@router.get("/unit_action")
def list_all_unit_actions(request: Request, where: str | None = None) -> JSON:
    user_only(request)
    return ok(service.list_docs(st_of(request), "QueuedOperation", where=where))


@router.get("/space/{space_id}/unit/{unit_id}/unit_event")
def list_unit_events(
    request: Request, space_id: str, unit_id: str, where: str | None = None
) -> JSON:
    user_only(request)
    st = st_of(request)
    unit = _unit(st, space_id, unit_id)
    return ok(service.list_docs(st, "UnitEvent", where=where, parent_id=unit["UnitID"]))


@router.get("/space/{space_id}/unit/{unit_id}/unit_event/{unit_event_id}")
def get_unit_event(request: Request, space_id: str, unit_id: str, unit_event_id: str) -> JSON:
    return _unit_child(
        request, space_id, unit_id, "UnitEvent", "UnitEvent", unit_event_id, "unit_event_id"
    )


def _unit_child(
    request: Request,
    space_id: str,
    unit_id: str,
    kind: str,
    name: str,
    child_id: str,
    param: str,
) -> JSON:
    """One action or event of a unit; 404 (named as the API names it) if it is another unit's."""
    user_only(request)
    st = st_of(request)
    unit = _unit(st, space_id, unit_id)
    check_uuid(child_id, param)
    doc = st.store.get(kind, child_id)
    if doc is None or doc["UnitID"] != unit["UnitID"]:
        raise not_found(name, child_id)
    return ok(doc)


@router.get("/unit_event")
def list_all_unit_events(request: Request, where: str | None = None) -> JSON:
    user_only(request)
    return ok(service.list_docs(st_of(request), "UnitEvent", where=where))


def _live(st: ServerState, unit: Doc, field: str) -> bytes:
    info = st.store.get("LiveInfo", operations.live_key(unit["UnitID"])) or {}
    return decode_b64(info.get(field) or "", f"{field}")


@router.get("/space/{space_id}/unit/{unit_id}/live_state")
def live_state(request: Request, space_id: str, unit_id: str) -> Response:
    user_only(request)
    st = st_of(request)
    unit = _unit(st, space_id, unit_id)
    return Response(_live(st, unit, "LiveState"), media_type="application/octet-stream")


@router.get("/space/{space_id}/unit/{unit_id}/live_data")
def live_data(request: Request, space_id: str, unit_id: str) -> Response:
    user_only(request)
    st = st_of(request)
    unit = _unit(st, space_id, unit_id)
    return Response(_live(st, unit, "LiveData"), media_type="application/octet-stream")
