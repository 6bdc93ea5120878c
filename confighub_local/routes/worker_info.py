"""A bridge worker's status and the functions it offers (what `cub worker list-status` and
`list-function` read)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request

from confighub_local import service
from confighub_local.db.store import Doc
from confighub_local.errors import not_found
from confighub_local.functions.invoke import signatures
from confighub_local.kinds import BRIDGE_WORKER
from confighub_local.routes.common import JSON, ok, st_of, user_only
from confighub_local.validation import check_uuid

router = APIRouter()


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
