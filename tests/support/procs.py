"""Processes on this machine, read from /proc (Linux): what the tests and benchmarks watch."""

from __future__ import annotations

from pathlib import Path


def child_pids(pid: int) -> list[int]:
    """The direct children of `pid` (every thread's list); empty once it is gone."""
    pids: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        try:
            pids.extend(int(c) for c in task.read_text().split())
        except OSError:  # the task ended while being read
            continue
    return pids
