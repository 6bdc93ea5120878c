"""ConfigHub's official bridge worker (`cub-worker`, built from the vendor SDK) against the real
local cluster: `serve --kubeconfig` supervises one per BridgeWorker. Apply (server-side apply,
then kstatus readiness), a readiness failure that names the Deployment, refresh with drift after
an out-of-band edit, destroy until gone; the worker is restarted when it dies, stopped when its
BridgeWorker is deleted, and dies with the server. Also the worker run by hand with the
environment the SDK reads, and `serve --kubeconfig` refusing to start without the binary."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from kubernetes import client as kube_client
from kubernetes import config as kube_config

from tests.server.helpers import WEB_APP as MANIFEST
from tests.server.helpers import new_space, new_target, new_unit, ok, slug
from tests.support.server import ServerProcess
from tests.support.toolchain import KubeCluster, read_versions


@pytest.fixture(scope="module")
def kube_server(kube_cluster: KubeCluster, cub_worker: str) -> Iterator[ServerProcess]:
    with tempfile.TemporaryDirectory(prefix="confighub-kube-") as tmp:
        server = ServerProcess(
            Path(tmp),
            extra_args=["--kubeconfig", str(kube_cluster.kubeconfig), "--ready-timeout", "120"],
            env={"CONFIGHUB_WORKER_BIN": cub_worker},
        )
        server.start()
        try:
            yield server
        finally:
            server.stop()


def _finish(c: httpx.Client, sid: str, uid: str, op: dict[str, Any], wait: float = 90) -> Any:
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        got = ok(c.get(f"/space/{sid}/unit/{uid}/unit_action/{op['QueuedOperationID']}"))
        if got["Status"] in ("Completed", "Failed"):
            return got
        time.sleep(0.5)
    raise AssertionError(f"{op['Action']} of {uid} did not finish in {wait}s")


def _connected(c: httpx.Client, sid: str, wid: str, wait: float = 30) -> None:
    deadline = time.monotonic() + wait
    while ok(c.get(f"/space/{sid}/bridge_worker/{wid}"))["BridgeWorker"]["Condition"] != "Ready":
        assert time.monotonic() < deadline, f"worker {wid} did not connect in {wait}s"
        time.sleep(0.2)


@pytest.mark.cluster
def test_apply_refresh_drift_destroy(kube_server: ServerProcess, kube_cluster: KubeCluster) -> None:
    ns = slug("chl")
    api = kube_config.new_client_from_config(config_file=str(kube_cluster.kubeconfig))
    core, apps = kube_client.CoreV1Api(api), kube_client.AppsV1Api(api)
    with kube_server.client() as c:
        sid = new_space(c)["SpaceID"]
        worker = ok(c.post(f"/space/{sid}/bridge_worker", json={"Slug": slug("w")}))
        wid = worker["BridgeWorkerID"]
        target = new_target(c, sid, wid)
        unit = new_unit(c, sid, MANIFEST.format(ns=ns, extra=""), TargetID=target["TargetID"])
        uid = unit["UnitID"]
        done = _finish(c, sid, uid, ok(c.post(f"/space/{sid}/unit/{uid}/apply")))
        assert done["Status"] == "Completed", done
        # health gate: Completed only once the Deployment is available (kstatus Current)
        dep = apps.read_namespaced_deployment("web", ns).to_dict()
        assert dep["status"]["available_replicas"] == 2
        managers = {m["manager"] for m in dep["metadata"]["managed_fields"]}
        assert "confighub" in managers  # the official worker's field manager
        got = ok(c.get(f"/space/{sid}/unit/{uid}"))
        assert got["Unit"]["LiveRevisionNum"] == 1
        assert got["UnitStatus"]["ActionResult"] == "ApplyCompleted"
        # the worker connected over HTTP/2 and announced a Target per kubeconfig context
        info = ok(c.get(f"/space/{sid}/bridge_worker/{wid}"))["BridgeWorker"]
        assert info["Condition"] == "Ready"
        announced = [t["Target"]["Slug"] for t in ok(c.get(f"/space/{sid}/target"))]
        assert any(s.startswith(worker["Slug"] + "-") for s in announced), announced

        live = c.get(f"/space/{sid}/unit/{uid}/live_state").content
        assert b"kind: Deployment" in live and b"LOG_LEVEL: info" in live

        clean = _finish(c, sid, uid, ok(c.post(f"/space/{sid}/unit/{uid}/refresh")))
        assert clean["Status"] == "Completed"
        status = ok(c.get(f"/space/{sid}/unit/{uid}"))["UnitStatus"]
        assert status["ActionResult"] == "RefreshAndNoDrift", status

        core.patch_namespaced_config_map("settings", ns, {"data": {"LOG_LEVEL": "debug"}})
        refreshed = _finish(c, sid, uid, ok(c.post(f"/space/{sid}/unit/{uid}/refresh")))
        assert refreshed["Status"] == "Completed"
        status = ok(c.get(f"/space/{sid}/unit/{uid}"))["UnitStatus"]
        assert status["Drift"] == "Drifted" and status["ActionResult"] == "RefreshAndDrifted"
        assert b"LOG_LEVEL: debug" in c.get(f"/space/{sid}/unit/{uid}/live_data").content

        gone = _finish(c, sid, uid, ok(c.post(f"/space/{sid}/unit/{uid}/destroy")))
        assert gone["Status"] == "Completed", gone
        with pytest.raises(kube_client.ApiException) as err:
            apps.read_namespaced_deployment("web", ns)
        assert err.value.status == 404
        assert ok(c.get(f"/space/{sid}/unit/{uid}"))["Unit"]["LiveRevisionNum"] == 0
        # the Targets the worker announced go with it, so the space can be deleted plainly
        ok(c.delete(f"/space/{sid}/unit/{uid}"))
        ok(c.delete(f"/space/{sid}/target/{target['TargetID']}"))
        ok(c.delete(f"/space/{sid}/bridge_worker/{wid}"))
        assert ok(c.get(f"/space/{sid}/target")) == []
        ok(c.delete(f"/space/{sid}"))


@pytest.mark.cluster
def test_unavailable_deployment_fails_naming_it(kube_server: ServerProcess) -> None:
    """The Target's ReadyTimeoutSeconds reaches the worker as WaitTimeout; when it passes the
    worker fails the apply naming the Deployment and its kstatus."""
    ns = slug("chl")
    with kube_server.client() as c:
        sid = new_space(c)["SpaceID"]
        worker = ok(c.post(f"/space/{sid}/bridge_worker", json={"Slug": slug("w")}))
        target = new_target(
            c, sid, worker["BridgeWorkerID"], Parameters='{"ReadyTimeoutSeconds": 8}'
        )
        stuck = MANIFEST.format(ns=ns, extra="nodeSelector: {no-such-node: 'true'}")
        unit = new_unit(c, sid, stuck, TargetID=target["TargetID"])
        uid = unit["UnitID"]
        started = time.monotonic()
        failed = _finish(c, sid, uid, ok(c.post(f"/space/{sid}/unit/{uid}/apply")))
        took = time.monotonic() - started
        assert failed["Status"] == "Failed"
        reason = failed["ErrorDetails"][0]["Description"]
        assert "timeout waiting for" in reason, reason
        assert f"Deployment/{ns}/web status: 'InProgress'" in reason, reason
        assert 8 <= took < 60, took
        events = ok(c.get(f"/space/{sid}/unit/{uid}/unit_event"))
        assert events[-1]["Result"] == "ApplyWaitFailed"
        assert ok(c.get(f"/space/{sid}/unit/{uid}"))["Unit"]["LiveRevisionNum"] == 0
        # the same wait bounds the destroy (namespace termination takes longer than 8 s here):
        # a Target's new Parameters reach the worker with the next operation
        ok(
            c.patch(
                f"/space/{sid}/target/{target['TargetID']}",
                json={"Parameters": '{"ReadyTimeoutSeconds": 90}'},
                headers={"Content-Type": "application/merge-patch+json"},
            )
        )
        gone = _finish(c, sid, uid, ok(c.post(f"/space/{sid}/unit/{uid}/destroy")), wait=120)
        assert gone["Status"] == "Completed", gone["ErrorDetails"]


@pytest.mark.cluster
def test_worker_processes_follow_the_bridge_workers(kube_server: ServerProcess) -> None:
    """A killed worker is started again and serves the next apply; deleting the BridgeWorker
    stops its process."""
    ns = slug("chl")
    with kube_server.client() as c:
        sid = new_space(c)["SpaceID"]
        before = set(kube_server.children())
        worker = ok(c.post(f"/space/{sid}/bridge_worker", json={"Slug": slug("w")}))
        wid = worker["BridgeWorkerID"]
        _connected(c, sid, wid)
        mine = set(kube_server.children()) - before
        assert len(mine) == 1, mine
        (pid,) = mine
        assert (
            Path(f"/proc/{pid}/environ").read_bytes().count(b"CONFIGHUB_WORKER_ID=" + wid.encode())
            == 1
        )
        os.kill(pid, signal.SIGKILL)
        target = new_target(c, sid, wid)
        data = f"apiVersion: v1\nkind: Namespace\nmetadata: {{name: {ns}}}\n"
        uid = new_unit(c, sid, data, TargetID=target["TargetID"])["UnitID"]
        done = _finish(c, sid, uid, ok(c.post(f"/space/{sid}/unit/{uid}/apply")), wait=60)
        assert done["Status"] == "Completed", done
        restarted = set(kube_server.children()) - before
        assert len(restarted) == 1 and pid not in restarted, restarted
        gone = _finish(c, sid, uid, ok(c.post(f"/space/{sid}/unit/{uid}/destroy")), wait=60)
        assert gone["Status"] == "Completed", gone
        ok(c.delete(f"/space/{sid}/unit/{uid}"))
        ok(c.delete(f"/space/{sid}/target/{target['TargetID']}"))
        ok(c.delete(f"/space/{sid}/bridge_worker/{wid}"))
        deadline = time.monotonic() + 15
        while set(kube_server.children()) - before:
            assert time.monotonic() < deadline, "worker process still running after delete"
            time.sleep(0.2)


@pytest.mark.cluster
def test_workers_die_with_a_killed_server(
    kube_cluster: KubeCluster, cub_worker: str, tmp_path: Path
) -> None:
    server = ServerProcess(
        tmp_path,
        extra_args=["--kubeconfig", str(kube_cluster.kubeconfig)],
        env={"CONFIGHUB_WORKER_BIN": cub_worker},
    )
    server.start()
    try:
        with server.client() as c:
            sid = new_space(c)["SpaceID"]
            wid = ok(c.post(f"/space/{sid}/bridge_worker", json={"Slug": slug("w")}))[
                "BridgeWorkerID"
            ]
            _connected(c, sid, wid)
        (pid,) = server.children()
        server.kill()
        deadline = time.monotonic() + 10
        while Path(f"/proc/{pid}").exists() and "zombie" not in _state(pid):
            assert time.monotonic() < deadline, f"cub-worker {pid} outlived the killed server"
            time.sleep(0.1)
    finally:
        server.stop()


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().split("State:")[1].split("\n")[0].lower()
    except (OSError, IndexError):
        return "gone"


@pytest.mark.cluster
def test_worker_run_by_hand_with_the_sdk_environment(
    confighub_server: ServerProcess, kube_cluster: KubeCluster, cub_worker: str
) -> None:
    """The official worker started by hand against a server that runs none itself, with the
    variables `cub worker get-envs` prints; CONFIGHUB_URL's port is dropped by the worker, so
    the port goes in CONFIGHUB_WORKER_PORT."""
    ns = slug("chl")
    with confighub_server.client() as c:
        sid = new_space(c)["SpaceID"]
        worker = ok(c.post(f"/space/{sid}/bridge_worker", json={"Slug": slug("w")}))
        target = new_target(c, sid, worker["BridgeWorkerID"])
        data = (
            f"apiVersion: v1\nkind: Namespace\nmetadata: {{name: {ns}}}\n---\n"
            f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c, namespace: {ns}}}\n"
            "data: {k: v}\n"
        )
        unit = new_unit(c, sid, data, TargetID=target["TargetID"])
        uid = unit["UnitID"]
        env = {
            **os.environ,
            "CONFIGHUB_URL": confighub_server.url,
            "CONFIGHUB_WORKER_PORT": str(confighub_server.port),
            "CONFIGHUB_WORKER_ID": worker["BridgeWorkerID"],
            "CONFIGHUB_WORKER_SECRET": worker["Secret"],
            "KUBECONFIG": str(kube_cluster.kubeconfig),
        }
        proc = subprocess.Popen(
            [cub_worker, "kubernetes"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            done = _finish(c, sid, uid, ok(c.post(f"/space/{sid}/unit/{uid}/apply")), wait=60)
            assert done["Status"] == "Completed", done
            gone = _finish(c, sid, uid, ok(c.post(f"/space/{sid}/unit/{uid}/destroy")), wait=60)
            assert gone["Status"] == "Completed", gone
        finally:
            proc.terminate()
            proc.wait(15)


def test_serve_kubeconfig_without_the_worker_binary_fails(tmp_path: Path) -> None:
    """No silent fallback: without cub-worker, `serve --kubeconfig` exits 2 saying how to get it."""
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\n")
    server = ServerProcess(
        tmp_path,
        extra_args=["--kubeconfig", str(kubeconfig)],
        env={"CONFIGHUB_WORKER_BIN": str(tmp_path / "no-such-cub-worker")},
    )
    with pytest.raises(RuntimeError) as err:
        server.start(timeout=20)
    assert "exited with 2" in str(err.value)
    log = server.log_path.read_text()
    assert "cub-worker" in log and "make bootstrap" in log, log


def test_official_binaries_report_the_pinned_commit(cub_worker: str) -> None:
    """`make bootstrap` provides cub and cub-worker at CONFIGHUB_SDK_COMMIT, and says so the way
    bootstrap tells an ambient install (toolchain/lib.sh: sdk_commit_of)."""
    pinned = read_versions()["CONFIGHUB_SDK_COMMIT"]
    lib = Path(__file__).resolve().parents[2] / "toolchain" / "lib.sh"
    sibling = Path(cub_worker).with_name("cub")
    cub = str(sibling) if sibling.is_file() else shutil.which("cub")
    assert cub, "no `cub` beside cub-worker or on PATH: run `make bootstrap`"
    for binary in (cub_worker, cub):
        got = subprocess.run(
            ["bash", "-c", f'source "{lib}" && sdk_commit_of "$1"', "-", binary],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout.strip()
        assert got == pinned, f"{binary} reports {got!r}, pinned is {pinned}"
