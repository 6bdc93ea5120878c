"""The bridge worker protocol end to end over real HTTP: stream, operations, action results,
unit events, live state, drift, worker authentication.

The cluster side is a stand-in executor (this test is about the protocol and the server's
bookkeeping); test_kube_worker.py drives the real Kubernetes executor against a cluster.
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from confighub_local.worker.kube import Outcome
from confighub_local.worker.runner import WorkerRunner, decode_operation, parse_sse
from tests.server.helpers import MERGE, b64, new_space, new_target, new_unit, ok, slug
from tests.support.server import ServerProcess


class StandInExecutor:
    """Records calls; 'fail-me' in the data fails apply; refresh reports drift when asked."""

    drift = False

    def __init__(self) -> None:
        self.calls: list[str] = []

    def apply(self, data: bytes) -> Outcome:
        self.calls.append("apply")
        if b"fail-me" in data:
            return Outcome(False, "ApplyWaitFailed", "Deployment default/x not available: 0/1")
        return Outcome(True, "ApplyCompleted", "applied", live=[{"kind": "ConfigMap"}])

    def destroy(self, data: bytes) -> Outcome:
        self.calls.append("destroy")
        return Outcome(True, "DestroyCompleted", "deleted")

    def refresh(self, data: bytes) -> Outcome:
        self.calls.append("refresh")
        if self.drift:
            return Outcome(True, "RefreshAndDrifted", "ConfigMap/x differs at /data/a")
        return Outcome(True, "RefreshAndNoDrift", "no drift")


@pytest.fixture
def wired(confighub_server: ServerProcess) -> Iterator[dict[str, Any]]:
    with confighub_server.client() as c:
        sid = new_space(c)["SpaceID"]
        worker = ok(c.post(f"/space/{sid}/bridge_worker", json={"Slug": slug("w")}))
        target = new_target(c, sid, worker["BridgeWorkerID"])
    executor = StandInExecutor()
    runner = WorkerRunner(
        confighub_server.url, worker["BridgeWorkerID"], worker["Secret"], lambda params: executor
    )
    thread = threading.Thread(target=runner.run, daemon=True)
    thread.start()
    yield {"space_id": sid, "worker": worker, "target": target, "executor": executor}
    runner.shutdown()
    thread.join(40)


def _wait(c: httpx.Client, sid: str, uid: str, op: dict[str, Any]) -> dict[str, Any]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        got: dict[str, Any] = ok(
            c.get(f"/space/{sid}/unit/{uid}/unit_action/{op['QueuedOperationID']}")
        )
        if got["Status"] in ("Completed", "Failed"):
            return got
        time.sleep(0.1)
    raise AssertionError(f"operation {op['QueuedOperationID']} did not finish")


def test_apply_refresh_destroy_over_the_stream(
    confighub_server: ServerProcess, wired: dict[str, Any]
) -> None:
    sid, target = wired["space_id"], wired["target"]
    with confighub_server.client() as c:
        unit = new_unit(c, sid, "kind: ConfigMap\n", TargetID=target["TargetID"])
        uid = unit["UnitID"]
        op = ok(c.post(f"/space/{sid}/unit/{uid}/apply"))
        assert op["Status"] in ("Pending", "Delivered") and op["Action"] == "Apply"
        assert _wait(c, sid, uid, op)["Status"] == "Completed"
        got = ok(c.get(f"/space/{sid}/unit/{uid}"))
        assert got["Unit"]["LiveRevisionNum"] == 1 == got["Unit"]["HeadRevisionNum"]
        assert got["UnitStatus"]["ActionResult"] == "ApplyCompleted"
        assert got["UnitStatus"]["SyncStatus"] == "Synced"
        events = ok(
            c.get(
                f"/space/{sid}/unit/{uid}/unit_event",
                params={"where": f"QueuedOperationID = '{op['QueuedOperationID']}'"},
            )
        )
        assert [e["Status"] for e in events] == ["Completed"]
        assert b"ConfigMap" in c.get(f"/space/{sid}/unit/{uid}/live_state").content

        wired["executor"].drift = True
        ref = ok(c.post(f"/space/{sid}/unit/{uid}/refresh"))
        assert _wait(c, sid, uid, ref)["Status"] == "Completed"
        assert ok(c.get(f"/space/{sid}/unit/{uid}"))["UnitStatus"]["Drift"] == "Drifted"

        ok(c.patch(f"/space/{sid}/unit/{uid}", json={"Data": b64("fail-me: 1\n")}, headers=MERGE))
        bad = _wait(c, sid, uid, ok(c.post(f"/space/{sid}/unit/{uid}/apply")))
        assert bad["Status"] == "Failed"
        assert "not available" in bad["ErrorDetails"][0]["Description"]
        assert ok(c.get(f"/space/{sid}/unit/{uid}"))["Unit"]["LiveRevisionNum"] == 1

        gone = _wait(c, sid, uid, ok(c.post(f"/space/{sid}/unit/{uid}/destroy")))
        assert gone["Status"] == "Completed"
        assert ok(c.get(f"/space/{sid}/unit/{uid}"))["Unit"]["LiveRevisionNum"] == 0
        assert wired["executor"].calls == ["apply", "refresh", "apply", "destroy"]


def test_apply_without_target_is_400(confighub_server: ServerProcess) -> None:
    with confighub_server.client() as c:
        sid = new_space(c)["SpaceID"]
        unit = new_unit(c, sid, "a: 1\n")
        resp = c.post(f"/space/{sid}/unit/{unit['UnitID']}/apply")
        assert resp.status_code == 400 and "TargetID" in resp.json()["Message"]


def test_worker_credentials_are_confined(confighub_server: ServerProcess) -> None:
    with confighub_server.client() as c:
        sid = new_space(c)["SpaceID"]
        a = ok(c.post(f"/space/{sid}/bridge_worker", json={"Slug": slug("a")}))
        b = ok(c.post(f"/space/{sid}/bridge_worker", json={"Slug": slug("b")}))
    api = confighub_server.api
    as_a = {"Authorization": f"Bearer {a['Secret']}"}
    me = httpx.get(f"{api}/bridge_worker/{a['BridgeWorkerID']}/me", headers=as_a)
    assert me.status_code == 200 and "Secret" not in me.json()
    basic = httpx.get(
        f"{api}/bridge_worker/{a['BridgeWorkerID']}/me", auth=(a["BridgeWorkerID"], a["Secret"])
    )
    assert basic.status_code == 200
    assert (
        httpx.get(f"{api}/bridge_worker/{b['BridgeWorkerID']}/me", headers=as_a).status_code == 401
    )
    assert httpx.get(f"{api}/space", headers=as_a).status_code == 401
    assert (
        httpx.get(
            f"{api}/bridge_worker/{a['BridgeWorkerID']}/me",
            headers={"Authorization": "Bearer wrong"},
        ).status_code
        == 401
    )


def _first_operation(api: str, wid: str, secret: str) -> dict[str, Any]:
    """Open the stream, return the first operation event's QueuedOperation, hang up."""
    headers = {"Authorization": f"Bearer {secret}"}
    with (
        httpx.Client(base_url=api, headers=headers, timeout=20) as w,
        w.stream("POST", f"/bridge_worker/{wid}/stream", json={}) as stream,
    ):
        assert stream.status_code == 200
        for event, data in parse_sse(stream.iter_lines()):
            if event == "Apply":
                return decode_operation(data)
    raise AssertionError("stream ended without an Apply event")


def test_operation_redelivered_after_the_stream_drops(confighub_server: ServerProcess) -> None:
    with confighub_server.client() as c:
        sid = new_space(c)["SpaceID"]
        worker = ok(c.post(f"/space/{sid}/bridge_worker", json={"Slug": slug("w")}))
        wid = worker["BridgeWorkerID"]
        target = ok(
            c.post(
                f"/space/{sid}/target",
                json={
                    "Slug": slug("t"),
                    "BridgeWorkerID": wid,
                    "ProviderType": "Kubernetes",
                    "ToolchainType": "Kubernetes/YAML",
                },
            )
        )
        unit = new_unit(c, sid, "a: 1\n", TargetID=target["TargetID"])
        op = ok(c.post(f"/space/{sid}/unit/{unit['UnitID']}/apply"))
        assert op["Status"] == "Pending", "no worker connected yet"
        events = ok(c.get(f"/space/{sid}/unit/{unit['UnitID']}/unit_event"))
        assert "not connected" in events[-1]["Message"]
        first = _first_operation(confighub_server.api, wid, worker["Secret"])
        assert first["QueuedOperationID"] == op["QueuedOperationID"]
        assert base64.b64decode(first["Data"]) == b"a: 1\n"
        deadline = time.monotonic() + 10
        while (
            ok(c.get(f"/space/{sid}/bridge_worker/{wid}"))["BridgeWorker"]["Condition"]
            != "Disconnected"
        ):
            assert time.monotonic() < deadline, "worker still shown connected"
            time.sleep(0.1)
        again = _first_operation(confighub_server.api, wid, worker["Secret"])
        assert again["QueuedOperationID"] == op["QueuedOperationID"]


def test_operation_without_a_worker_times_out(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path, extra_args=["--operation-timeout", "1"])
    server.start()
    try:
        with server.client() as c:
            sid = new_space(c)["SpaceID"]
            worker = ok(c.post(f"/space/{sid}/bridge_worker", json={"Slug": slug("w")}))
            target = new_target(c, sid, worker["BridgeWorkerID"])
            uid = new_unit(c, sid, "a: 1\n", TargetID=target["TargetID"])["UnitID"]
            op = ok(c.post(f"/space/{sid}/unit/{uid}/apply"))
            failed = _wait(c, sid, uid, op)
            assert failed["Status"] == "Failed"
            assert (
                "timed out after 1s: no bridge worker took it"
                in (failed["ErrorDetails"][0]["Description"])
            )
            events = ok(c.get(f"/space/{sid}/unit/{uid}/unit_event"))
            assert events[-1]["Status"] == "Failed" and events[-1]["Result"] == "ApplyFailed"
    finally:
        server.stop()
