"""The worker side of the protocol: open the event stream, run each operation, post results.

Reconnects with backoff when the stream drops; results are posted with retries, since a lost
result would leave an operation hanging.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import socket
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, Protocol

import httpx
import yaml
from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_exponential

from confighub_local.worker.kube import KubeExecutor, Outcome

log = logging.getLogger("confighub_local.worker")


class Executor(Protocol):
    """What runs an operation against a cluster (KubeExecutor in production)."""

    def apply(self, data: bytes) -> Outcome: ...
    def destroy(self, data: bytes) -> Outcome: ...
    def refresh(self, data: bytes) -> Outcome: ...


ExecutorFactory = Callable[[dict[str, Any]], Executor]

WORKER_INFO = {
    "BridgeWorkerInfo": {
        "SupportedConfigTypes": [
            {
                "ToolchainType": "Kubernetes/YAML",
                "ProviderType": "Kubernetes",
                "LiveStateType": "Kubernetes/YAML",
                "AvailableTargets": [],
            }
        ]
    }
}


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_sse(lines: Iterator[str]) -> Iterator[tuple[str, str]]:
    """(event, data) pairs from a text/event-stream."""
    event, data = "message", list[str]()
    for line in lines:
        if line == "":
            if data:
                yield event, "\n".join(data)
            event, data = "message", []
        elif line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].lstrip())


def decode_operation(data: str) -> dict[str, Any]:
    message = json.loads(data)
    op: dict[str, Any] = json.loads(base64.b64decode(message["Data"]))
    return op


class WorkerRunner:
    """One bridge worker connection."""

    def __init__(
        self,
        url: str,
        worker_id: str,
        secret: str,
        executor: ExecutorFactory,
        stop: threading.Event | None = None,
        max_parallel: int = 4,
    ) -> None:
        self.url = url.rstrip("/")
        self.worker_id = worker_id
        self.stop = stop or threading.Event()
        self.executor = executor
        self.pool = ThreadPoolExecutor(max_parallel, thread_name_prefix=f"op-{worker_id[:8]}")
        self._active: httpx.Response | None = None
        self.client = httpx.Client(
            base_url=self.url + "/api",
            headers={"Authorization": f"Bearer {secret}"},
            timeout=httpx.Timeout(10.0, read=30.0),
        )

    def shutdown(self) -> None:
        """Stop now: hang up the open stream instead of waiting for the next event."""
        self.stop.set()
        active = self._active
        if active is None:
            return
        stream = active.extensions.get("network_stream")
        sock = stream.get_extra_info("socket") if stream is not None else None
        if sock is not None:  # wakes the blocked read at once
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def run(self) -> None:
        backoff = 0.5
        while not self.stop.is_set():
            try:
                self._stream()
                backoff = 0.5
            except Exception as exc:  # network errors, or our own hang-up on shutdown
                if self.stop.is_set():
                    break
                log.warning("worker %s stream: %s; reconnecting", self.worker_id, exc)
            self.stop.wait(backoff)
            backoff = min(backoff * 2, 10.0)
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.client.close()

    def _stream(self) -> None:
        path = f"/bridge_worker/{self.worker_id}/stream"
        with self.client.stream("POST", path, json=WORKER_INFO) as resp:
            self._active = resp
            if resp.status_code != 200:
                resp.read()
                raise httpx.HTTPStatusError(
                    f"stream refused: {resp.status_code} {resp.text}",
                    request=resp.request,
                    response=resp,
                )
            for event, data in parse_sse(resp.iter_lines()):
                if self.stop.is_set():
                    return
                if event in ("Apply", "Destroy", "Refresh"):
                    self.pool.submit(self._handle, decode_operation(data))

    @retry(
        retry=retry_if_exception_type(httpx.HTTPError),
        stop=stop_after_attempt(8),
        wait=wait_exponential(multiplier=0.2, max=5),
        reraise=True,
    )
    def _post(self, result: dict[str, Any]) -> None:
        resp = self.client.post(f"/bridge_worker/{self.worker_id}/action_result", json=result)
        if resp.status_code >= 500 or resp.status_code == 429:
            raise httpx.HTTPStatusError(f"{resp.status_code}", request=resp.request, response=resp)
        if resp.status_code != 200:
            log.error("action_result refused: %s %s", resp.status_code, resp.text)

    def _handle(self, op: dict[str, Any]) -> None:
        action = op["Action"]
        base = {
            "QueuedOperationID": op["QueuedOperationID"],
            "UnitID": op["UnitID"],
            "SpaceID": op["SpaceID"],
            "Action": action,
            "RevisionNum": op["RevisionNum"],
            "StartedAt": _stamp(),
        }
        try:
            self._post(
                {**base, "Status": "Progressing", "Result": "None", "Message": f"{action} started"}
            )
            outcome = self._run(op)
        except Exception as exc:  # the operation must end in a result, whatever went wrong
            log.exception("operation %s failed", op["QueuedOperationID"])
            outcome = Outcome(False, f"{action}Failed", f"worker error: {exc}")
        live = yaml.safe_dump_all(outcome.live, sort_keys=False) if outcome.live else ""
        result = {
            **base,
            "Status": "Completed" if outcome.ok else "Failed",
            "Result": outcome.result,
            "Message": outcome.message,
            "TerminatedAt": _stamp(),
            "ErrorMessages": [] if outcome.ok else [outcome.message],
            "ResourceStatuses": outcome.statuses,
            "LiveState": base64.b64encode(live.encode()).decode(),
        }
        try:
            self._post(result)
        except httpx.HTTPError as exc:
            log.error("could not report result of %s: %s", op["QueuedOperationID"], exc)

    def _run(self, op: dict[str, Any]) -> Outcome:
        try:
            params = json.loads(op.get("ExtraParams") or "{}")
        except ValueError:
            params = {}
        executor = self.executor(params if isinstance(params, dict) else {})
        data = base64.b64decode(op.get("Data") or "")
        if op["Action"] == "Apply":
            return executor.apply(data)
        if op["Action"] == "Destroy":
            return executor.destroy(data)
        return executor.refresh(data)


def kube_factory(kubeconfig: str, ready_timeout: float) -> ExecutorFactory:
    """Executors per target parameters: `KubeContext` picks the kubeconfig context and
    `ReadyTimeoutSeconds` overrides the readiness wait for that target."""
    cache: dict[tuple[str | None, float], KubeExecutor] = {}
    lock = threading.Lock()

    def make(params: dict[str, Any]) -> Executor:
        context = params.get("KubeContext") or None
        try:
            timeout = float(params.get("ReadyTimeoutSeconds") or ready_timeout)
        except (TypeError, ValueError):
            timeout = ready_timeout
        key = (context, timeout)
        with lock:
            if key not in cache:
                cache[key] = KubeExecutor(kubeconfig, context, timeout)
            return cache[key]

    return make
