"""Durability: writes acknowledged before a SIGKILL are all there after restart, including
writes racing the kill; the token and organization survive too."""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.server.helpers import MERGE, b64, new_space, new_unit, ok, slug, unb64
from tests.support.server import ServerProcess


@pytest.fixture
def server() -> Iterator[ServerProcess]:
    with tempfile.TemporaryDirectory(prefix="confighub-restart-") as tmp:
        proc = ServerProcess(Path(tmp))
        proc.start()
        try:
            yield proc
        finally:
            proc.stop()


def test_acknowledged_writes_survive_sigkill(server: ServerProcess) -> None:
    with server.client() as c:
        me = ok(c.get("/me"))
        space = new_space(c, Labels={"durable": "yes"})
        sid = space["SpaceID"]
        unit = new_unit(c, sid, "v: 1\n")
        uid = unit["UnitID"]
        for i in range(2, 6):
            ok(c.patch(f"/space/{sid}/unit/{uid}", json={"Data": b64(f"v: {i}\n")}, headers=MERGE))

    acked: dict[str, str] = {}
    stop = threading.Event()

    def writer() -> None:
        with server.client(timeout=5.0) as w:
            while not stop.is_set():
                s = slug("race")
                try:
                    resp = w.post(
                        f"/space/{sid}/unit",
                        json={
                            "Slug": s,
                            "ToolchainType": "Kubernetes/YAML",
                            "Data": b64(f"s: {s}\n"),
                        },
                    )
                except httpx.HTTPError:
                    return
                if resp.status_code == 200:
                    acked[resp.json()["UnitID"]] = s

    thread = threading.Thread(target=writer)
    thread.start()
    deadline = time.monotonic() + 30  # a busy machine may take long for the first few writes
    while len(acked) < 6 and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)  # then kill it mid-stream, racing the writes in flight
    server.kill()
    stop.set()
    thread.join(10)
    assert len(acked) > 5, "the writer should have been acknowledged a few times"
    server.start()

    with server.client() as c:
        assert ok(c.get("/me")) == me
        got = ok(c.get(f"/space/{sid}"))["Space"]
        assert got["Labels"] == {"durable": "yes"}
        u = ok(c.get(f"/space/{sid}/unit/{uid}"))["Unit"]
        assert u["HeadRevisionNum"] == 5 and unb64(u["Data"]) == "v: 5\n"
        revs = ok(c.get(f"/space/{sid}/unit/{uid}/revision"))
        assert [r["Revision"]["RevisionNum"] for r in revs] == [1, 2, 3, 4, 5]
        listed = {r["Unit"]["UnitID"]: r["Unit"] for r in ok(c.get(f"/space/{sid}/unit"))}
        missing = set(acked) - set(listed)
        assert not missing, f"{len(missing)} acknowledged units lost"
        for unit_id, s in acked.items():
            assert unb64(listed[unit_id]["Data"]) == f"s: {s}\n"
            assert listed[unit_id]["HeadRevisionNum"] == 1


def test_fixture_restart_keeps_token_and_data(server: ServerProcess) -> None:
    with server.client() as c:
        sid = new_space(c)["SpaceID"]
    server.restart()
    with server.client() as c:
        assert ok(c.get(f"/space/{sid}"))["Space"]["SpaceID"] == sid


def test_sigterm_with_an_open_worker_stream_exits_promptly(server: ServerProcess) -> None:
    with server.client() as c:
        sid = new_space(c)["SpaceID"]
        worker = ok(c.post(f"/space/{sid}/bridge_worker", json={"Slug": slug("w")}))
    headers = {"Authorization": f"Bearer {worker['Secret']}"}
    with (
        httpx.Client(base_url=server.api, headers=headers, timeout=20) as w,
        w.stream("POST", f"/bridge_worker/{worker['BridgeWorkerID']}/stream", json={}) as stream,
    ):
        assert stream.status_code == 200
        next(stream.iter_lines())
        assert server.proc is not None
        start = time.monotonic()
        server.proc.terminate()
        server.proc.wait(15)
        assert time.monotonic() - start < 6, "an open stream held the shutdown"
