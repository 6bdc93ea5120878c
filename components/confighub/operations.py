"""Waiting for a queued apply/destroy to finish.

`POST .../apply` only queues an operation for the bridge worker. The provider polls the operation
(`GET .../unit_action/{QueuedOperationID}`; servers without that route: the unit's events for the
operation) until it is Completed, Failed, Aborted or Canceled, or the timeout passes. Failures name
the unit and carry the worker's / server's reason.
"""

from __future__ import annotations

import contextlib
import time

from .client import ConfigHubClient, quote_where
from .errors import ApiError, NotFoundError, OperationFailedError
from .models import QueuedOperation

SUCCESS = {"Completed", "delivered"}
FAILURE = {"Failed", "Aborted", "Canceled"}
_EVENT_FAILURES = {"ApplyFailed", "ApplyWaitFailed", "DestroyFailed", "DestroyWaitFailed"}


def _reason(op: QueuedOperation) -> str:
    details = [d.description or d.item for d in op.error_details if d.description or d.item]
    return "; ".join(details)


def _from_events(
    client: ConfigHubClient, space_id: str, unit_id: str, op_id: str
) -> tuple[str, str]:
    """(status, message) of the newest event for the operation, or ("", "") if none yet."""
    where = f"QueuedOperationID = {quote_where(op_id)}" if op_id else None
    events = client.list_unit_events(space_id, unit_id, where)
    if op_id:
        events = [e for e in events if e.queued_operation_id in ("", op_id)]
    if not events:
        return "", ""
    last = max(events, key=lambda e: e.unit_event_num)
    status = last.status
    if last.result in _EVENT_FAILURES:
        status = "Failed"
    return status, last.message or last.result


def wait_for(
    client: ConfigHubClient,
    space_id: str,
    unit_id: str,
    op: QueuedOperation,
    *,
    what: str,
    timeout: float,
) -> QueuedOperation:
    """Block until `op` is terminal; OperationFailedError naming `what` on failure/timeout."""
    if op.status in SUCCESS:
        return op
    if op.status in FAILURE:
        raise OperationFailedError(f"{what} failed: {_reason(op) or op.status}")
    deadline = time.monotonic() + timeout
    delay = 0.1
    use_events = not op.queued_operation_id
    status, message = op.status or "Pending", ""
    while True:
        if use_events:
            ev_status, message = _from_events(client, space_id, unit_id, op.queued_operation_id)
            status = ev_status or status
        else:
            try:
                op = client.get_unit_action(space_id, unit_id, op.queued_operation_id)
                status, message = op.status, _reason(op)
            except NotFoundError:
                use_events = True
                continue
        if status in SUCCESS:
            return op
        if status in FAILURE:
            raise OperationFailedError(f"{what} failed: {message or status}")
        if time.monotonic() >= deadline:
            if not message and not use_events:
                # the worker's last word while it waits (e.g. the official worker's "timeout
                # waiting for: [Deployment/... status: 'InProgress']") is on the unit's event
                with contextlib.suppress(ApiError):
                    _, message = _from_events(client, space_id, unit_id, op.queued_operation_id)
            raise OperationFailedError(
                f"{what} did not finish within {timeout:g}s (last status {status!r}"
                f"{': ' + message if message else ''}); "
                "is the bridge worker for its target running?"
            )
        time.sleep(delay)
        delay = min(delay * 1.5, 2.0)
