"""A test double of ConfigHub's official bridge worker for tests that need no cluster.

It speaks the wire protocol exactly as the SDK's worker does (`bridge-worker/lib/client.go`):
HTTP/2 cleartext with prior knowledge, `GET /bridge_worker/{id}/me`, `POST .../stream` with a
WorkerInfo body, `data:` lines holding EventMessages (`WorkerEvent` heartbeats answered with a
Heartbeat ActionResult, `BridgeWorkerEvent` Apply/Destroy/Refresh with a BridgeWorkerPayload),
and ActionResults posted to `.../action_result` (Progressing first, then the outcome). Only
what a cluster would do is replaced by an executor the test controls. The real worker,
`cub-worker`, is driven against the local cluster in tests/server/test_kube_worker.py.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import socket
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import httpx

log = logging.getLogger("tests.sdk_worker")
NIL_UUID = "00000000-0000-0000-0000-000000000000"


@dataclass
class Outcome:
    """What an action did, in ActionResult terms."""

    ok: bool
    result: str
    message: str
    live_state: str = ""
    data: str | None = None  # a refresh that found drift reports the patched data


class Executor(Protocol):
    def apply(self, data: bytes) -> Outcome: ...
    def destroy(self, data: bytes) -> Outcome: ...
    def refresh(self, data: bytes) -> Outcome: ...


ExecutorFactory = Callable[[dict[str, Any]], Executor]

WORKER_INFO = {
    "BridgeWorkerInfo": {
        "SupportedConfigTypes": [{"ToolchainType": "Kubernetes/YAML", "ProviderType": "Kubernetes"}]
    },
    "FunctionWorkerInfo": {"SupportedFunctions": {}},
}


def stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def events(lines: Any) -> Any:
    """EventMessages from the stream: like the SDK, only `data: ` lines count."""
    for line in lines:
        if line.startswith("data: "):
            yield json.loads(line[len("data: ") :])


class SdkWorker:
    """One worker connection; `run()` until `stop` is set (reconnects like a supervisor would)."""

    def __init__(
        self,
        url: str,
        worker_id: str,
        secret: str,
        executor: ExecutorFactory,
        stop: threading.Event | None = None,
        http2: bool = True,
    ) -> None:
        self.worker_id = worker_id
        self.stop = stop or threading.Event()
        self.executor = executor
        self.pool = ThreadPoolExecutor(4, thread_name_prefix=f"sdkw-{worker_id[:8]}")
        self.results: list[dict[str, Any]] = []  # every ActionResult posted, in order
        self._active: httpx.Response | None = None
        # two clients: httpx's HTTP/2 connection serialises reads across threads, so results
        # posted while the stream thread blocks on its read would wait for the next event
        self.client, self.poster = (
            httpx.Client(
                base_url=url.rstrip("/") + "/api",
                headers={"Authorization": f"Bearer {secret}"},
                http1=not http2,
                http2=http2,
                timeout=httpx.Timeout(10.0, read=30.0),
            )
            for _ in range(2)
        )

    def shutdown(self) -> None:
        """Stop now: hang up the open stream instead of waiting for the next heartbeat."""
        self.stop.set()
        stream = self._active.extensions.get("network_stream") if self._active else None
        sock = stream.get_extra_info("socket") if stream is not None else None
        if sock is not None:  # wakes the blocked read at once
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self.client.get(f"/bridge_worker/{self.worker_id}/me").raise_for_status()
                self._stream()
            except Exception as exc:  # network errors, or our own hang-up on shutdown
                if self.stop.is_set():
                    break
                log.warning("worker %s: %s; reconnecting", self.worker_id, exc)
            self.stop.wait(0.3)
        self.pool.shutdown(wait=True, cancel_futures=True)
        self.client.close()
        self.poster.close()

    def _stream(self) -> None:
        path = f"/bridge_worker/{self.worker_id}/stream"
        headers = {"Accept": "text/event-stream", "Cache-Control": "no-cache"}
        with self.client.stream("POST", path, json=WORKER_INFO, headers=headers) as resp:
            self._active = resp
            resp.raise_for_status()
            for message in events(resp.iter_lines()):
                if self.stop.is_set():
                    return
                data = message["Data"]
                if message["Event"] == "WorkerEvent" and data["Action"] == "Heartbeat":
                    self.pool.submit(self._heartbeat)
                elif message["Event"] == "BridgeWorkerEvent":
                    self.pool.submit(self._handle, data["Action"], data["Payload"])

    def post(self, result: dict[str, Any]) -> None:
        self.results.append(result)
        resp = self.poster.post(f"/bridge_worker/{self.worker_id}/action_result", json=result)
        if resp.status_code != 200:
            log.error("action_result refused: %s %s", resp.status_code, resp.text)

    def _heartbeat(self) -> None:
        now = stamp()
        self.post(
            {
                "UnitID": NIL_UUID,
                "SpaceID": NIL_UUID,
                "QueuedOperationID": NIL_UUID,
                "RevisionNum": 0,
                "Action": "Heartbeat",
                "Result": "None",
                "Status": "Completed",
                "Message": "",
                "StartedAt": now,
                "TerminatedAt": now,
            }
        )

    def _handle(self, action: str, payload: dict[str, Any]) -> None:
        base = {
            "UnitID": payload["UnitID"],
            "SpaceID": payload["SpaceID"],
            "QueuedOperationID": payload["QueuedOperationID"],
            "RevisionNum": payload["RevisionNum"],
            "Action": action,
            "StartedAt": stamp(),
        }
        self.post({**base, "Result": "None", "Status": "Progressing", "Message": "started"})
        try:
            params = json.loads(base64.b64decode(payload.get("TargetParams") or "") or b"{}")
            executor = self.executor(params)
            data = base64.b64decode(payload.get("Data") or "")
            run = {"Apply": executor.apply, "Destroy": executor.destroy}.get(
                action, executor.refresh
            )
            outcome = run(data)
        except Exception as exc:  # the operation must end in a result, whatever went wrong
            outcome = Outcome(False, f"{action}Failed", f"worker error: {exc}")
        result = {
            **base,
            "Result": outcome.result,
            "Status": "Completed" if outcome.ok else "Failed",
            "Message": outcome.message,
            "TerminatedAt": stamp(),
            "LiveState": base64.b64encode(outcome.live_state.encode()).decode(),
        }
        if outcome.data is not None:
            result["Data"] = base64.b64encode(outcome.data.encode()).decode()
        self.post(result)
