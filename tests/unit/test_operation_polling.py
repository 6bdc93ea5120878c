"""How the providers wait for a queued apply: poll schedule and bound (pure, mocked HTTP)."""

from __future__ import annotations

import itertools
from types import SimpleNamespace

import httpx
import pytest

from components.confighub import operations
from components.confighub.client import ConfigHubClient
from components.confighub.connection import ConnectionSettings
from components.confighub.models import QueuedOperation
from components.confighub.operations import (
    POLL_MAX_ENV,
    poll_delays,
    poll_max_seconds,
    wait_for,
)


def test_polls_start_fast_and_never_pause_longer_than_the_bound() -> None:
    delays = list(itertools.islice(poll_delays(0.5), 12))
    assert delays[0] == pytest.approx(0.05)
    assert delays == sorted(delays)
    assert max(delays) == pytest.approx(0.5)
    assert sum(delays[:5]) < 0.7  # five polls within the first 0.7 s


def test_the_bound_comes_from_the_environment_within_limits(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(POLL_MAX_ENV, raising=False)
    assert poll_max_seconds() == pytest.approx(0.5)
    monkeypatch.setenv(POLL_MAX_ENV, "3")
    assert poll_max_seconds() == pytest.approx(3.0)
    monkeypatch.setenv(POLL_MAX_ENV, "0")
    assert poll_max_seconds() == pytest.approx(0.05)
    monkeypatch.setenv(POLL_MAX_ENV, "often")
    assert poll_max_seconds() == pytest.approx(0.5)


def test_a_finished_operation_is_seen_within_one_poll_interval(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On a fake clock (the waiter's sleeps advance it), so a busy machine cannot move it."""
    monkeypatch.setenv(POLL_MAX_ENV, "0.2")
    clock = [100.0]
    monkeypatch.setattr(
        operations,
        "time",
        SimpleNamespace(
            monotonic=lambda: clock[0], sleep=lambda s: clock.__setitem__(0, clock[0] + s)
        ),
    )
    done_at = clock[0] + 1.0

    def handler(req: httpx.Request) -> httpx.Response:
        status = "Completed" if clock[0] >= done_at else "Progressing"
        return httpx.Response(200, json={"QueuedOperationID": "op1", "Status": status})

    client = ConfigHubClient(
        ConnectionSettings(url="http://hub.test"), transport=httpx.MockTransport(handler)
    )
    op = QueuedOperation.model_validate({"QueuedOperationID": "op1", "Status": "Pending"})
    wait_for(client, "s", "u", op, what="apply of unit 'x'", timeout=10)
    assert done_at <= clock[0] <= done_at + 0.2 + 1e-9  # seen at the first poll after it finished
