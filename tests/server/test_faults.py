"""Fault injection: admin endpoint, per-route errors with Retry-After, latency, dropped
connections, and CLI flags. Each test resets faults afterwards (the server is shared)."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.server.helpers import new_space, ok
from tests.support.server import ServerProcess


@pytest.fixture
def faults(confighub_server: ServerProcess) -> Iterator[httpx.Client]:
    admin = httpx.Client(
        base_url=confighub_server.url, headers={"Authorization": f"Bearer {confighub_server.token}"}
    )
    yield admin
    admin.delete("/_admin/faults")
    admin.close()


def test_admin_endpoint_needs_the_token_and_validates(
    confighub_server: ServerProcess, faults: httpx.Client
) -> None:
    assert httpx.get(confighub_server.url + "/_admin/faults").status_code == 401
    bad = faults.put("/_admin/faults", json={"rules": [{"route": "(", "error_rate": 1}]})
    assert bad.status_code == 400 and "route" in bad.json()["Message"]
    bad = faults.put("/_admin/faults", json={"rules": [{"error_rate": 2}]})
    assert bad.status_code == 400


def test_per_route_429_with_retry_after_then_recovers(
    confighub_server: ServerProcess, faults: httpx.Client
) -> None:
    ok(
        faults.put(
            "/_admin/faults",
            json={
                "rules": [
                    {
                        "route": "^/api/space$",
                        "methods": ["GET"],
                        "error_rate": 1.0,
                        "error_status": 429,
                        "retry_after": 2,
                        "times": 2,
                    }
                ]
            },
        )
    )
    with confighub_server.client() as c:
        for _ in range(2):
            resp = c.get("/space")
            assert resp.status_code == 429 and resp.headers["retry-after"] == "2"
            assert resp.json()["Code"] == "TooManyRequests"
        assert c.get("/me").status_code == 200, "other routes unaffected"
        assert c.get("/space").status_code == 200, "times exhausted"
    assert faults.get("/_admin/faults").json()["Injected"] >= 2


def test_5xx_rate_and_latency(confighub_server: ServerProcess, faults: httpx.Client) -> None:
    ok(
        faults.put(
            "/_admin/faults",
            json={
                "seed": 7,
                "rules": [
                    {"route": "^/api/me$", "error_rate": 0.5, "error_status": 503, "latency_ms": 30}
                ],
            },
        )
    )
    with confighub_server.client() as c:
        start = time.monotonic()
        codes = [c.get("/me").status_code for _ in range(40)]
        elapsed = time.monotonic() - start
    assert set(codes) == {200, 503}
    assert 8 <= codes.count(503) <= 32
    assert elapsed >= 40 * 0.03


def test_dropped_connection_and_no_partial_write(
    confighub_server: ServerProcess, faults: httpx.Client
) -> None:
    ok(
        faults.put(
            "/_admin/faults",
            json={
                "rules": [
                    {"route": "^/api/space$", "methods": ["POST"], "drop_rate": 1.0, "times": 1}
                ]
            },
        )
    )
    with confighub_server.client() as c:
        with pytest.raises(httpx.TransportError):
            c.post("/space", json={"Slug": "dropped-space-never-written"})
        assert ok(c.get("/space", params={"where": "Slug = 'dropped-space-never-written'"})) == []
        assert new_space(c)["Version"] == 1


def test_drop_after_commit_keeps_the_write(
    confighub_server: ServerProcess, faults: httpx.Client
) -> None:
    slug_ = "dropped-after-commit-" + str(time.time_ns())
    ok(
        faults.put(
            "/_admin/faults",
            json={
                "rules": [
                    {
                        "route": "^/api/space$",
                        "methods": ["POST"],
                        "drop_after_rate": 1.0,
                        "times": 1,
                    }
                ]
            },
        )
    )
    with confighub_server.client() as c:
        with pytest.raises(httpx.TransportError):
            c.post("/space", json={"Slug": slug_})
        found = ok(c.get("/space", params={"where": f"Slug = '{slug_}'"}))
        assert len(found) == 1, "the write committed although the response was dropped"
        again = ok(c.post("/space", params={"allow_exists": "true"}, json={"Slug": slug_}))
        assert again["SpaceID"] == found[0]["Space"]["SpaceID"]


def test_cli_flags_configure_faults() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        server = ServerProcess(
            Path(tmp),
            extra_args=[
                "--fault-route",
                "^/api/info$",
                "--fault-error-rate",
                "1",
                "--fault-status",
                "500",
            ],
        )
        server.start()
        try:
            with server.client() as c:
                assert c.get("/info").status_code == 500
                assert c.get("/me").status_code == 200
        finally:
            server.stop()
