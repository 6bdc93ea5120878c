"""The bridge worker protocol as the official worker (ConfigHub SDK `bridge-worker/lib`) speaks
it: POST /bridge_worker/{id}/stream answers server-sent events, one `data:` line each holding an
EventMessage `{"Event", "Data"}` whose Data is a JSON object `{"Action", "Payload"}`:
`WorkerEvent` (Heartbeat, Payload `{"Timestamp"}` in Unix microseconds) and `BridgeWorkerEvent`
(Apply/Destroy/Refresh, Payload a BridgeWorkerPayload). The worker reports progress and results
as ActionResults to POST /bridge_worker/{id}/action_result (confighub_local/operations.py)."""

from __future__ import annotations

import asyncio
import base64
import json
import time
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
EVENT_WORKER = "WorkerEvent"
EVENT_BRIDGE_WORKER = "BridgeWorkerEvent"
DEFAULT_READY_TIMEOUT = 120.0
#: marks the Targets created from a worker's AvailableTargets, which go when the worker goes
ANNOUNCED_BY = "confighub-local/announced-by"


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


def sse(event: str, action: str, payload: Any) -> bytes:
    """One SSE event on a single `data:` line (the worker reads line by line)."""
    message = json.dumps({"Event": event, "Data": {"Action": action, "Payload": payload}})
    return f"event: {event}\ndata: {message}\n\n".encode()


def heartbeat() -> bytes:
    return sse(EVENT_WORKER, "Heartbeat", {"Timestamp": time.time_ns() // 1000})


def _duration(seconds: float) -> str:
    """A Go time.ParseDuration string ("108s", "7.5s")."""
    text = f"{seconds:.3f}".rstrip("0").rstrip(".")
    return f"{text}s"


def target_params(st: ServerState, target: Doc | None) -> dict[str, Any]:
    """The Target's Parameters as the worker reads them (KubernetesWorkerParams: KubeContext,
    WaitTimeout). The readiness timeout this project's Targets declare, ReadyTimeoutSeconds,
    becomes WaitTimeout; a Target with neither gets the server's --ready-timeout."""
    raw = (target or {}).get("Parameters") or ""
    try:
        params = json.loads(raw) if isinstance(raw, str) and raw.strip() else raw or {}
    except ValueError:
        params = {}
    if not isinstance(params, dict):
        params = {}
    if not params.get("WaitTimeout"):
        try:
            seconds = float(params.get("ReadyTimeoutSeconds") or 0)
        except (TypeError, ValueError):
            seconds = 0.0
        if seconds <= 0:
            seconds = float(st.extras.get("ready_timeout") or DEFAULT_READY_TIMEOUT)
        params["WaitTimeout"] = _duration(seconds)
    return params


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def bridge_payload(st: ServerState, op: Doc) -> Doc:
    """The SDK's BridgeWorkerPayload for a queued operation ([]byte fields are base64)."""
    unit = st.store.get("Unit", op["UnitID"]) or {}
    target = st.store.get("Target", op.get("TargetID") or "")
    info = st.store.get("LiveInfo", operations.live_key(op["UnitID"])) or {}
    return {
        "QueuedOperationID": op["QueuedOperationID"],
        "ToolchainType": unit.get("ToolchainType") or (target or {}).get("ToolchainType", ""),
        "ProviderType": (target or {}).get("ProviderType", ""),
        "UnitSlug": unit.get("Slug", ""),
        "UnitID": op["UnitID"],
        "SpaceID": op["SpaceID"],
        "Data": op.get("Data") or "",
        "LiveState": info.get("LiveState") or "",
        "TargetParams": _b64(json.dumps(target_params(st, target)).encode()),
        "ExtraParams": "",
        "RevisionNum": int(op.get("RevisionNum") or 0),
    }


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
                        "Annotations": {ANNOUNCED_BY: current["BridgeWorkerID"]},
                    },
                )


def drop_announced_targets(st: ServerState, worker: Doc) -> int:
    """Before a worker is deleted: delete the Targets created from what it announced (every
    kubeconfig context, for the official Kubernetes worker) that no unit uses, so they neither
    dangle nor keep the space from being deleted."""
    with st.store.tx():
        targets = st.store.select(
            "Target",
            space_id=worker["SpaceID"],
            where_sql="json_extract(e.doc, '$.BridgeWorkerID') = ? AND "
            "json_extract(e.doc, '$.Annotations.\"" + ANNOUNCED_BY + "\"') = ?",
            params=[worker["BridgeWorkerID"], worker["BridgeWorkerID"]],
        )
        dropped = 0
        for target in targets:
            used = st.store.select(
                "Unit",
                where_sql="json_extract(e.doc, '$.TargetID') = ?",
                params=[target["TargetID"]],
                limit=1,
            )
            if not used:
                st.store.delete("Target", target["TargetID"])
                dropped += 1
    return dropped


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
        # the official worker exits when its stream ends, so a worker that connects afresh
        # holds none of the work handed to an earlier connection: hand it out again
        await asyncio.to_thread(operations.requeue_delivered, st, worker_id)
    wake = disp.subscribe(worker_id)

    async def events() -> AsyncIterator[bytes]:
        try:
            yield heartbeat()
            while not disp.closed:
                ops = await asyncio.to_thread(operations.pending_for, st, worker_id)
                for op in ops:
                    payload = await asyncio.to_thread(bridge_payload, st, op)
                    yield sse(EVENT_BRIDGE_WORKER, op["Action"], payload)
                try:
                    await asyncio.wait_for(wake.wait(), timeout=HEARTBEAT_SECONDS)
                except TimeoutError:
                    yield heartbeat()
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
