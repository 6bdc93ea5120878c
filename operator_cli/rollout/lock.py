"""The rollout lock's liveness: who holds it, its heartbeat, and when it counts as stale.

A running state in the record unit is the lock (one rollout at a time). The runner writes
its holder (user, host, pid) and a heartbeat into the record at every transition and at
least every `HEARTBEAT_SECONDS` while it watches; a runner that crashed stops doing so.
"Stale" (what `traderx rollout unlock` may clear without --force):
- the holder ran on this host and its process is gone, or
- the heartbeat is older than the record's `staleAfterSeconds` (the runner sets it above its
  longest silent wait: an apply that waits for readiness).
"""

from __future__ import annotations

import getpass
import os
import socket
import time
from collections.abc import Callable
from typing import Any

HEARTBEAT_SECONDS = 10.0
MIN_STALE_SECONDS = 60.0


def identity() -> dict[str, Any]:
    """Who is acting: the operator's user, this host and this process."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        user = os.environ.get("USER", "operator")
    return {"user": user, "host": socket.gethostname(), "pid": os.getpid()}


def stale_after(ready_timeout_seconds: float) -> float:
    """Silence longer than this means the holder is gone: beyond the longest wait without a
    heartbeat (an apply waits up to the ready timeout + 30 s) and two missed beats."""
    return max(MIN_STALE_SECONDS, ready_timeout_seconds + 30 + 2 * HEARTBEAT_SECONDS)


def lock_fields(ready_timeout_seconds: float, holder: dict[str, Any]) -> dict[str, Any]:
    return {
        "holder": holder,
        "heartbeat": round(time.time(), 3),
        "staleAfterSeconds": stale_after(ready_timeout_seconds),
    }


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, another user's
        return True
    return True


def staleness(
    record: dict[str, Any],
    *,
    now: float | None = None,
    host: str | None = None,
    pid_alive: Callable[[int], bool] = _pid_alive,
) -> tuple[bool, str]:
    """(stale?, why) for a record whose state is running."""
    holder = record.get("holder") or {}
    who = f"{holder.get('user', '?')}@{holder.get('host', '?')} pid {holder.get('pid', '?')}"
    beat = record.get("heartbeat")
    limit = float(record.get("staleAfterSeconds") or MIN_STALE_SECONDS)
    if not isinstance(beat, int | float):
        return True, f"the record has no heartbeat (holder {who}): written by an older runner"
    age = (time.time() if now is None else now) - float(beat)
    here = socket.gethostname() if host is None else host
    if holder.get("host") == here and isinstance(holder.get("pid"), int):
        if not pid_alive(int(holder["pid"])):
            return True, f"holder {who} ran on this host and is gone (heartbeat {age:.0f} s ago)"
        return False, f"holder {who} is running on this host (heartbeat {age:.0f} s ago)"
    if age > limit:
        return True, f"holder {who}: no heartbeat for {age:.0f} s (stale after {limit:.0f} s)"
    return False, f"holder {who}: heartbeat {age:.0f} s ago (stale after {limit:.0f} s)"
