"""The bridge worker protocol: POST /bridge_worker/{id}/stream (server-sent events carrying
queued operations) and POST /bridge_worker/{id}/action_result (progress and results)."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request
from fastapi.responses import StreamingResponse

from confighub_local import operations, service, worker_secret
from confighub_local.context import ServerState
from confighub_local.db.store import Doc, now
from confighub_local.errors import ApiError, not_found
from confighub_local.kinds import TARGET
from confighub_local.routes.common import JSON, caller, ok, st_of
from confighub_local.validation import check_uuid

router = APIRouter()
HEARTBEAT_SECONDS = 10.0


def _worker(request: Request, worker_id: str) -> tuple[ServerState, Doc]:
    """The worker named in the path; a worker's own credentials reach only itself."""
    st = st_of(request)
    worker_id = check_uuid(worker_id, "bridge_worker_id")
    who = caller(request)
    if who.worker_id is not None and who.worker_id != worker_id:
        raise ApiError(403, "a worker may only act as itself")
    worker = st.store.get("BridgeWorker", worker_id)
    if worker is None:
        raise not_found("BridgeWorker", worker_id)
    return st, worker


def _public(worker: Doc) -> Doc:
    return worker_secret.public(worker)


def sse(event: str, payload: Any) -> bytes:
    data = base64.b64encode(json.dumps(payload).encode()).decode() if payload is not None else ""
    message = json.dumps({"Event": event, "Data": data})
    return f"event: {event}\ndata: {message}\n\n".encode()


def _announce(st: ServerState, worker: Doc, info: Any, connected: bool) -> None:
    """Record the worker's condition and create the Targets it announces."""
    with st.store.tx():
        current = st.store.get("BridgeWorker", worker["BridgeWorkerID"]) or worker
        current["Condition"] = "Ready" if connected else "Disconnected"
        current["LastSeenAt"] = now()
        if isinstance(info, dict) and info:
            current["ProvidedInfo"] = info
        st.store.replace("BridgeWorker", current["BridgeWorkerID"], current)
        if not connected or not isinstance(info, dict):
            return
        space = st.store.get("Space", current["SpaceID"])
        bridge = info.get("BridgeWorkerInfo") or {}
        for config in bridge.get("SupportedConfigTypes") or []:
            for target in config.get("AvailableTargets") or []:
                name = str(target.get("Name") or "")
                if not name or st.store.get_by_slug("Target", current["SpaceID"], name):
                    continue
                service.create(
                    st,
                    TARGET,
                    space,
                    {
                        "Slug": name,
                        "BridgeWorkerID": current["BridgeWorkerID"],
                        "ProviderType": config.get("ProviderType") or "Kubernetes",
                        "ToolchainType": config.get("ToolchainType") or "Kubernetes/YAML",
                        "Parameters": json.dumps(target.get("Params") or {}),
                    },
                )


@router.post("/bridge_worker/{bridge_worker_id}/stream")
async def stream(request: Request, bridge_worker_id: str) -> StreamingResponse:
    st, worker = _worker(request, bridge_worker_id)
    worker_id = worker["BridgeWorkerID"]
    raw = await request.body()
    try:
        info = json.loads(raw) if raw.strip() else None
    except ValueError:
        raise ApiError(400, "stream request body must be WorkerInfo JSON or empty") from None
    await asyncio.to_thread(_announce, st, worker, info, True)
    disp = operations.dispatcher(st)
    if not disp.connected(worker_id):
        await asyncio.to_thread(operations.requeue_delivered, st, worker_id)
    wake = disp.subscribe(worker_id)

    async def events() -> AsyncIterator[bytes]:
        try:
            yield sse("Hello", {"BridgeWorkerID": worker_id})
            while not disp.closed:
                for op in await asyncio.to_thread(operations.pending_for, st, worker_id):
                    yield sse(op["Action"], op)
                try:
                    await asyncio.wait_for(wake.wait(), timeout=HEARTBEAT_SECONDS)
                except TimeoutError:
                    yield sse("Heartbeat", None)
                wake.clear()
        finally:
            disp.unsubscribe(worker_id, wake)
            if not disp.connected(worker_id):
                # synchronous on purpose: awaiting inside a cancelled stream is cancelled again
                _announce(st, worker, None, False)

    return StreamingResponse(
        events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
    )


@router.post("/bridge_worker/{bridge_worker_id}/action_result")
def action_result(
    request: Request, bridge_worker_id: str, body: Annotated[Any, Body()] = None
) -> JSON:
    st, worker = _worker(request, bridge_worker_id)
    operations.record_result(st, worker["BridgeWorkerID"], body)
    return ok("ok")


@router.post("/bridge_worker/{bridge_worker_id}/user_action_result")
def user_action_result(
    request: Request, bridge_worker_id: str, body: Annotated[Any, Body()] = None
) -> JSON:
    return action_result(request, bridge_worker_id, body)


@router.get("/bridge_worker/{bridge_worker_id}/me")
def get_self(request: Request, bridge_worker_id: str) -> JSON:
    _, worker = _worker(request, bridge_worker_id)
    return ok(_public(worker))


@router.get("/bridge_worker/{bridge_worker_id}/queued_operation")
def list_queued(request: Request, bridge_worker_id: str) -> JSON:
    st, worker = _worker(request, bridge_worker_id)
    return ok(
        st.store.select(
            "QueuedOperation",
            where_sql="json_extract(e.doc, '$.BridgeWorkerID') = ? AND "
            "json_extract(e.doc, '$.Status') IN ('Pending', 'Delivered', 'Progressing')",
            params=[worker["BridgeWorkerID"]],
        )
    )


@router.get("/bridge_worker/{bridge_worker_id}/queued_operation/{queued_operation_id}")
def get_queued(request: Request, bridge_worker_id: str, queued_operation_id: str) -> JSON:
    st, worker = _worker(request, bridge_worker_id)
    op = st.store.get("QueuedOperation", check_uuid(queued_operation_id, "queued_operation_id"))
    if op is None or op["BridgeWorkerID"] != worker["BridgeWorkerID"]:
        raise not_found("QueuedOperation", queued_operation_id)
    return ok(op)
