"""The bridge worker protocol end to end over real HTTP, as the official worker speaks it
(ConfigHub SDK `bridge-worker/lib`): HTTP/2 cleartext with prior knowledge beside HTTP/1.1 on
one port, the SSE stream's EventMessage envelope and BridgeWorkerPayload, ActionResults,
heartbeats, unit events, live state, drift, worker authentication, the readable worker secret.

The worker here is tests/support/sdk_worker.py (the SDK's wire protocol with a stand-in for
the cluster); test_kube_worker.py runs the official `cub-worker` against the local cluster.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.server.helpers import MERGE, b64, new_space, new_target, new_unit, ok, slug
from tests.support.sdk_worker import NIL_UUID, Outcome, SdkWorker, events
from tests.support.server import ServerProcess

#: The SDK's BridgeWorkerPayload fields (bridge-worker/api/event_request_bridge_worker.go).
PAYLOAD_FIELDS = {
    "QueuedOperationID",
    "ToolchainType",
    "ProviderType",
    "UnitSlug",
    "UnitID",
    "SpaceID",
    "Data",
    "LiveState",
    "TargetParams",
    "ExtraParams",
    "RevisionNum",
}


class StandInExecutor:
    """Records calls; 'fail-me' in the data fails apply; refresh reports drift when asked."""

    drift = False

    def __init__(self) -> None:
        self.calls: list[str] = []

    def apply(self, data: bytes) -> Outcome:
        self.calls.append("apply")
        if b"fail-me" in data:
            return Outcome(
                False,
                "ApplyWaitFailed",
                "Failed to wait for resources: timeout waiting for: "
                "[Deployment/default/x status: 'InProgress']",
            )
        return Outcome(True, "ApplyCompleted", "applied", live_state="kind: ConfigMap\n")

    def destroy(self, data: bytes) -> Outcome:
        self.calls.append("destroy")
        return Outcome(True, "DestroyCompleted", "deleted")

    def refresh(self, data: bytes) -> Outcome:
        self.calls.append("refresh")
        if self.drift:
            return Outcome(True, "RefreshAndDrifted", "drifted", data="kind: ConfigMap\nx: 2\n")
        return Outcome(True, "RefreshAndNoDrift", "no drift")


@pytest.fixture
def wired(confighub_server: ServerProcess) -> Iterator[dict[str, Any]]:
    with confighub_server.client() as c:
        sid = new_space(c)["SpaceID"]
        worker = ok(c.post(f"/space/{sid}/bridge_worker", json={"Slug": slug("w")}))
        target = new_target(c, sid, worker["BridgeWorkerID"])
    executor = StandInExecutor()
    runner = SdkWorker(
        confighub_server.url, worker["BridgeWorkerID"], worker["Secret"], lambda params: executor
    )
    thread = threading.Thread(target=runner.run, daemon=True)
    thread.start()
    yield {"space_id": sid, "worker": worker, "target": target, "executor": executor, "sdk": runner}
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
        # the SDK's worker reports the data patched with live values as Data: the live data
        assert c.get(f"/space/{sid}/unit/{uid}/live_data").content == b"kind: ConfigMap\nx: 2\n"

        ok(c.patch(f"/space/{sid}/unit/{uid}", json={"Data": b64("fail-me: 1\n")}, headers=MERGE))
        bad = _wait(c, sid, uid, ok(c.post(f"/space/{sid}/unit/{uid}/apply")))
        assert bad["Status"] == "Failed"
        assert "Deployment/default/x status: 'InProgress'" in bad["ErrorDetails"][0]["Description"]
        assert ok(c.get(f"/space/{sid}/unit/{uid}"))["Unit"]["LiveRevisionNum"] == 1

        gone = _wait(c, sid, uid, ok(c.post(f"/space/{sid}/unit/{uid}/destroy")))
        assert gone["Status"] == "Completed"
        assert ok(c.get(f"/space/{sid}/unit/{uid}"))["Unit"]["LiveRevisionNum"] == 0
        assert wired["executor"].calls == ["apply", "refresh", "apply", "destroy"]
    posted = [r for r in wired["sdk"].results if r["Action"] != "Heartbeat"]
    assert [r["Status"] for r in posted] == ["Progressing", "Completed"] * 2 + [
        "Progressing",
        "Failed",
        "Progressing",
        "Completed",
    ]


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


def _first_events(api: str, wid: str, secret: str, n: int = 2, http2: bool = True) -> list[Any]:
    """Open the stream as the official worker does, return the first n EventMessages, hang up."""
    headers = {"Authorization": f"Bearer {secret}", "Accept": "text/event-stream"}
    with (
        httpx.Client(base_url=api, headers=headers, timeout=20, http1=not http2, http2=http2) as w,
        w.stream("POST", f"/bridge_worker/{wid}/stream", json={}) as stream,
    ):
        assert stream.status_code == 200
        assert stream.http_version == ("HTTP/2" if http2 else "HTTP/1.1")
        assert stream.headers["content-type"].startswith("text/event-stream")
        got = []
        for message in events(stream.iter_lines()):
            got.append(message)
            if len(got) == n:
                return got
    raise AssertionError(f"stream ended after {got}")


def _first_operation(api: str, wid: str, secret: str) -> dict[str, Any]:
    """The first BridgeWorkerEvent's payload (after the opening heartbeat)."""
    first, second = _first_events(api, wid, secret)
    assert first["Event"] == "WorkerEvent" and first["Data"]["Action"] == "Heartbeat"
    assert second["Event"] == "BridgeWorkerEvent" and second["Data"]["Action"] == "Apply"
    payload: dict[str, Any] = second["Data"]["Payload"]
    return payload


def _wait_disconnected(c: httpx.Client, sid: str, wid: str) -> None:
    """Until the server has seen the last stream end: only then does it hand a delivered
    operation out again (on a busy machine the reconnect can come first)."""
    deadline = time.monotonic() + 10
    while (
        ok(c.get(f"/space/{sid}/bridge_worker/{wid}"))["BridgeWorker"]["Condition"]
        != "Disconnected"
    ):
        assert time.monotonic() < deadline, "worker still shown connected"
        time.sleep(0.1)


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
        _wait_disconnected(c, sid, wid)
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


def test_http2_prior_knowledge_and_http1_share_the_port(confighub_server: ServerProcess) -> None:
    """The official worker speaks h2c with prior knowledge on http://; everything else 1.1."""
    headers = {"Authorization": f"Bearer {confighub_server.token}"}
    for http2, version in ((True, "HTTP/2"), (False, "HTTP/1.1")):
        with httpx.Client(
            base_url=confighub_server.api, headers=headers, http1=not http2, http2=http2
        ) as c:
            resp = c.get("/info")
            assert resp.status_code == 200 and resp.http_version == version
            sid = new_space(c)["SpaceID"]
            assert ok(c.get(f"/space/{sid}"))["Space"]["SpaceID"] == sid
            missing = c.get("/space/00000000-0000-0000-0000-000000000001")
            assert missing.status_code == 404 and "Message" in missing.json()


def test_stream_speaks_the_sdk_envelope(confighub_server: ServerProcess) -> None:
    """Heartbeat first (WorkerEvent, Timestamp in Unix microseconds); an apply is a
    BridgeWorkerEvent whose Payload has exactly the SDK's fields, []byte fields base64, and the
    Target's ReadyTimeoutSeconds mapped to the worker's WaitTimeout."""
    with confighub_server.client() as c:
        sid = new_space(c)["SpaceID"]
        worker = ok(c.post(f"/space/{sid}/bridge_worker", json={"Slug": slug("w")}))
        wid = worker["BridgeWorkerID"]
        target = new_target(
            c, sid, wid, Parameters=json.dumps({"KubeContext": "ctx", "ReadyTimeoutSeconds": "27"})
        )
        unit = new_unit(c, sid, "a: 1\n", TargetID=target["TargetID"])
        op = ok(c.post(f"/space/{sid}/unit/{unit['UnitID']}/apply"))
    before = time.time_ns() // 1000
    for http2 in (False, True):  # the payload is the same over either protocol
        if http2:
            with confighub_server.client() as c:
                _wait_disconnected(c, sid, wid)
        beat, apply = _first_events(confighub_server.api, wid, worker["Secret"], http2=http2)
        assert beat == {
            "Event": "WorkerEvent",
            "Data": {
                "Action": "Heartbeat",
                "Payload": {"Timestamp": beat["Data"]["Payload"]["Timestamp"]},
            },
        }
        assert abs(beat["Data"]["Payload"]["Timestamp"] - before) < 60_000_000
        assert apply["Event"] == "BridgeWorkerEvent"
        assert set(apply["Data"]) == {"Action", "Payload"} and apply["Data"]["Action"] == "Apply"
        payload = apply["Data"]["Payload"]
        assert set(payload) == PAYLOAD_FIELDS
        assert payload["QueuedOperationID"] == op["QueuedOperationID"]
        assert payload["UnitID"] == unit["UnitID"] and payload["SpaceID"] == sid
        assert payload["UnitSlug"] == unit["Slug"] and payload["RevisionNum"] == 1
        assert payload["ToolchainType"] == "Kubernetes/YAML"
        assert payload["ProviderType"] == "Kubernetes"
        assert base64.b64decode(payload["Data"]) == b"a: 1\n"
        params = json.loads(base64.b64decode(payload["TargetParams"]))
        assert params["KubeContext"] == "ctx" and params["WaitTimeout"] == "27s"


def test_results_as_the_sdk_posts_them(confighub_server: ServerProcess) -> None:
    """A heartbeat acknowledgement (nil IDs) is accepted; Progressing messages become the
    event's message (the worker's last word while it waits); Status "None" (the SDK's answer to
    an action it does not know) fails the operation; a nil operation ID is a 400."""
    with confighub_server.client() as c:
        sid = new_space(c)["SpaceID"]
        worker = ok(c.post(f"/space/{sid}/bridge_worker", json={"Slug": slug("w")}))
        wid = worker["BridgeWorkerID"]
        target = new_target(c, sid, wid)
        uid = new_unit(c, sid, "a: 1\n", TargetID=target["TargetID"])["UnitID"]
        op = ok(c.post(f"/space/{sid}/unit/{uid}/apply"))
        as_worker = httpx.Client(
            base_url=confighub_server.api,
            headers={"Authorization": f"Bearer {worker['Secret']}"},
            http1=False,
            http2=True,
        )
        post = lambda body: as_worker.post(f"/bridge_worker/{wid}/action_result", json=body)  # noqa: E731
        ids = {"UnitID": uid, "SpaceID": sid, "QueuedOperationID": op["QueuedOperationID"]}
        beat = {"UnitID": NIL_UUID, "SpaceID": NIL_UUID, "QueuedOperationID": NIL_UUID}
        assert (
            post(
                {**beat, "Action": "Heartbeat", "Status": "Completed", "Result": "None"}
            ).status_code
            == 200
        )
        nil = post({**beat, "Action": "Apply", "Status": "Completed", "Result": "None"})
        assert nil.status_code == 400 and "QueuedOperationID" in nil.json()["Message"]
        waiting = (
            "Failed to wait for resources: timeout waiting for: "
            "[Deployment/n/x status: 'InProgress']"
        )
        common = {**ids, "Action": "Apply", "RevisionNum": 1, "StartedAt": "2026-01-01T00:00:00Z"}
        assert (
            post(
                {**common, "Status": "Progressing", "Result": "None", "Message": waiting}
            ).status_code
            == 200
        )
        events_now = ok(c.get(f"/space/{sid}/unit/{uid}/unit_event"))
        assert events_now[-1]["Status"] == "Progressing" and events_now[-1]["Message"] == waiting
        unknown = {
            **common,
            "Status": "None",
            "Result": "None",
            "Message": "unknown operation name: Apply",
        }
        assert post(unknown).status_code == 200
        got = ok(c.get(f"/space/{sid}/unit/{uid}/unit_action/{op['QueuedOperationID']}"))
        assert got["Status"] == "Failed"
        assert got["ErrorDetails"][0]["Description"] == "unknown operation name: Apply"
        bad = post({**common, "Status": "Sideways"})
        assert bad.status_code == 400 and "Status" in bad.json()["Message"]
        as_worker.close()


def test_worker_secret_is_readable_but_sealed_at_rest(confighub_server: ServerProcess) -> None:
    """`cub worker get-secret`/`get-envs`/`run` read the secret from GET and list; the worker's
    own /me, related entities and the database file never carry it in plain text."""
    with confighub_server.client() as c:
        sid = new_space(c)["SpaceID"]
        created = ok(c.post(f"/space/{sid}/bridge_worker", json={"Slug": slug("w")}))
        wid, secret = created["BridgeWorkerID"], created["Secret"]
        assert len(secret) >= 32
        got = ok(c.get(f"/space/{sid}/bridge_worker/{wid}"))["BridgeWorker"]
        assert got["Secret"] == secret
        assert not {"SecretHash", "SecretSealed"} & set(got)
        listed = ok(
            c.get(f"/space/{sid}/bridge_worker", params={"where": f"Slug = '{created['Slug']}'"})
        )
        assert [w["BridgeWorker"]["Secret"] for w in listed] == [secret]
        target = new_target(c, sid, wid)
        related = ok(c.get(f"/space/{sid}/target/{target['TargetID']}"))
        assert "Secret" not in related.get("BridgeWorker", {})
        # a PATCH cannot overwrite the sealed copy or the hash
        ok(
            c.patch(
                f"/space/{sid}/bridge_worker/{wid}",
                json={"SecretSealed": "x", "SecretHash": "y"},
                headers=MERGE,
            )
        )
        assert ok(c.get(f"/space/{sid}/bridge_worker/{wid}"))["BridgeWorker"]["Secret"] == secret
    me = httpx.get(
        f"{confighub_server.api}/bridge_worker/{wid}/me",
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert me.status_code == 200 and "Secret" not in me.json()
    db = confighub_server.db_path
    stored = b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*") if p.is_file())
    assert secret.encode() not in stored
    key = Path(str(db) + ".key")
    assert key.stat().st_mode & 0o777 == 0o600
    assert secret not in (confighub_server.log_path.read_text())
