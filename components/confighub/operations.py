"""Waiting for a queued apply/destroy to finish.

`POST .../apply` only queues an operation for the bridge worker. The provider polls the operation
(`GET .../unit_action/{QueuedOperationID}`; servers without that route: the unit's events for the
operation) until it is Completed, Failed, Aborted or Canceled, or the timeout passes. Failures name
the unit and carry the worker's / server's reason.

The API offers no way to be told when an operation ends, so the wait is a poll, and its
interval is on every deploy's critical path: each apply is seen done up to one interval after
the worker finished it, once per dependency tier. Polls start at 50 ms (most applies on a
quick cluster end within a second) and grow to at most 0.5 s (`CONFIGHUB_POLL_MAX_SECONDS`
overrides it): at most two cheap GETs a second per waiting unit.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from .errors import ApiError, NotFoundError, OperationFailedError
from .kinds import quote_where
from .models import QueuedOperation

if TYPE_CHECKING:
    from .client import ConfigHubClient

SUCCESS = {"Completed", "delivered"}
FAILURE = {"Failed", "Aborted", "Canceled"}
_EVENT_FAILURES = {"ApplyFailed", "ApplyWaitFailed", "DestroyFailed", "DestroyWaitFailed"}

POLL_FIRST_SECONDS = 0.05
POLL_GROWTH = 1.5
POLL_MAX_SECONDS = 0.5
POLL_MAX_ENV = "CONFIGHUB_POLL_MAX_SECONDS"


def poll_max_seconds() -> float:
    """The longest pause between two polls (env override, bounded to 0.05..10 s)."""
    raw = os.environ.get(POLL_MAX_ENV)
    try:
        value = float(raw) if raw else POLL_MAX_SECONDS
    except ValueError:
        value = POLL_MAX_SECONDS
    return min(max(value, POLL_FIRST_SECONDS), 10.0)


def poll_delays(longest: float) -> Iterator[float]:
    """Pauses between polls: 50 ms, growing by half each time, never above `longest`."""
    delay = POLL_FIRST_SECONDS
    while True:
        yield min(delay, longest)
        delay *= POLL_GROWTH


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
    delays = poll_delays(poll_max_seconds())
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
        time.sleep(min(next(delays), max(0.0, deadline - time.monotonic())))
