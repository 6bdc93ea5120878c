"""Counts of ConfigHub API calls by kind (read = GET, write = anything else).

Providers run in a separate process from tests and benchmarks, so besides the in-process counter
every call is appended as one JSON line to the file named by `CONFIGHUB_CALL_LOG` (if set). A test
points that variable at a temp file, runs `pulumi up`, and sums the lines with `read_call_log`.
Lines carry method, path template and outcome only: never headers, bodies or the token.
"""

from __future__ import annotations

import json
import os
import threading
from collections import Counter
from pathlib import Path

from pydantic import BaseModel

CALL_LOG_ENV = "CONFIGHUB_CALL_LOG"

_lock = threading.Lock()
_counter: Counter[str] = Counter()


class CallRecord(BaseModel):
    """One HTTP attempt (retries count separately)."""

    kind: str  # "read" | "write"
    method: str
    path: str  # path template, e.g. /space/{id}/unit/{id}
    status: int | None  # None when no response arrived


class CallCounts(BaseModel):
    reads: int = 0
    writes: int = 0
    by_route: dict[str, int] = {}

    @property
    def total(self) -> int:
        return self.reads + self.writes


def kind_of(method: str) -> str:
    return "read" if method.upper() in ("GET", "HEAD") else "write"


def record(method: str, path_template: str, status: int | None) -> None:
    """Count one attempt in memory and, if configured, in the shared call log file."""
    rec = CallRecord(kind=kind_of(method), method=method.upper(), path=path_template, status=status)
    with _lock:
        _counter[rec.kind] += 1
        _counter[f"{rec.method} {rec.path}"] += 1
        target = os.environ.get(CALL_LOG_ENV)
        if target:
            with open(target, "a", encoding="utf-8") as fh:
                fh.write(rec.model_dump_json() + "\n")


def snapshot() -> CallCounts:
    """In-process counts since start (or the last `reset`)."""
    with _lock:
        routes = {k: v for k, v in _counter.items() if " " in k}
        return CallCounts(reads=_counter["read"], writes=_counter["write"], by_route=routes)


def reset() -> None:
    with _lock:
        _counter.clear()


def read_call_records(path: str | os.PathLike[str]) -> list[CallRecord]:
    """Every attempt in a call log file, in order."""
    file = Path(path)
    if not file.exists():
        return []
    lines = file.read_text(encoding="utf-8").splitlines()
    return [CallRecord.model_validate(json.loads(line)) for line in lines if line.strip()]


def read_call_log(path: str | os.PathLike[str]) -> CallCounts:
    """Sum a call log file written by (possibly several) provider processes."""
    counts = CallCounts()
    routes: Counter[str] = Counter()
    for rec in read_call_records(path):
        if rec.kind == "read":
            counts.reads += 1
        else:
            counts.writes += 1
        routes[f"{rec.method} {rec.path}"] += 1
    counts.by_route = dict(routes)
    return counts
