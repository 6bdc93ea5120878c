"""Operation timeout: an operation that no worker finished within the timeout is Failed, so a
worker that died mid-operation (or never connected) cannot leave it open forever."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta

from confighub_local import operations
from confighub_local.context import ServerState

log = logging.getLogger("confighub_local")


def expire(st: ServerState, timeout: float) -> int:
    """Fail open operations created more than `timeout` seconds ago; return how many."""
    cutoff = (datetime.now(UTC) - timedelta(seconds=timeout)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    stale = st.store.select(
        "QueuedOperation",
        where_sql="json_extract(e.doc, '$.Status') IN ('Pending', 'Delivered', 'Progressing') "
        "AND json_extract(e.doc, '$.CreatedAt') < ?",
        params=[cutoff],
    )
    for op in stale:
        waiting = (
            "no bridge worker took it"
            if op["Status"] == "Pending"
            else ("the bridge worker reported no result")
        )
        message = f"{op['Action']} timed out after {timeout:.0f}s: {waiting}"
        try:
            operations.record_result(
                st,
                op["BridgeWorkerID"],
                {
                    "QueuedOperationID": op["QueuedOperationID"],
                    "Status": "Failed",
                    "Result": f"{op['Action']}Failed",
                    "Message": message,
                    "ErrorMessages": [message],
                },
            )
        except Exception:  # the op may have been deleted with its unit meanwhile
            log.exception("could not expire operation %s", op["QueuedOperationID"])
    return len(stale)


class Reaper:
    """Checks every few seconds in a daemon thread."""

    def __init__(self, st: ServerState, timeout: float) -> None:
        self.st = st
        self.timeout = timeout
        self.stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="op-reaper", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def shutdown(self) -> None:
        self.stop.set()

    def _loop(self) -> None:
        interval = min(5.0, max(0.2, self.timeout / 4))
        while not self.stop.wait(interval):
            try:
                expire(self.st, self.timeout)
            except Exception:
                log.exception("operation reaper")
