"""When the rollout lock counts as stale (operator_cli/rollout/lock.py; pure inputs)."""

from __future__ import annotations

from typing import Any

from operator_cli.rollout import lock


def record(host: str = "h1", pid: int = 42, beat: float | None = 1000.0) -> dict[str, Any]:
    out: dict[str, Any] = {
        "holder": {"user": "ann", "host": host, "pid": pid},
        "staleAfterSeconds": 180.0,
    }
    if beat is not None:
        out["heartbeat"] = beat
    return out


def test_same_host_dead_process_is_stale_at_once() -> None:
    stale, why = lock.staleness(record(), now=1001.0, host="h1", pid_alive=lambda _p: False)
    assert stale and "is gone" in why and "ann@h1 pid 42" in why


def test_same_host_live_process_is_never_stale() -> None:
    stale, why = lock.staleness(record(), now=99999.0, host="h1", pid_alive=lambda _p: True)
    assert not stale and "running on this host" in why


def test_other_host_goes_by_the_heartbeat() -> None:
    alive = lock.staleness(record(), now=1100.0, host="h2", pid_alive=lambda _p: True)
    assert alive == (False, "holder ann@h1 pid 42: heartbeat 100 s ago (stale after 180 s)")
    stale, why = lock.staleness(record(), now=1181.0, host="h2")
    assert stale and "no heartbeat for 181 s" in why


def test_no_heartbeat_is_stale() -> None:
    stale, why = lock.staleness(record(beat=None), now=1.0, host="h2")
    assert stale and "no heartbeat" in why


def test_stale_after_covers_the_longest_silent_wait() -> None:
    assert lock.stale_after(120) == 120 + 30 + 2 * lock.HEARTBEAT_SECONDS
    assert lock.stale_after(1) == lock.MIN_STALE_SECONDS
    fields = lock.lock_fields(120, lock.identity())
    assert fields["holder"]["pid"] > 0 and fields["staleAfterSeconds"] == lock.stale_after(120)
