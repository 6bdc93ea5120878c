"""The Kubernetes bridge worker against the real local cluster: `serve --kubeconfig` runs it
inside the server; apply (server-side apply + readiness), a readiness failure that names the
Deployment, refresh with drift after an out-of-band edit, destroy until gone."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from kubernetes import client as kube_client
from kubernetes import config as kube_config

from tests.server.helpers import new_space, new_target, new_unit, ok, slug
from tests.support.server import ServerProcess
from tests.support.toolchain import KubeCluster

pytestmark = pytest.mark.cluster

MANIFEST = """\
apiVersion: v1
kind: Namespace
metadata:
  name: {ns}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: {ns}
data:
  LOG_LEVEL: info
---
apiVersion: v1
kind: Secret
metadata:
  name: creds
  namespace: {ns}
stringData:
  password: {password}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: {ns}
spec:
  replicas: 2
  selector:
    matchLabels: {{app: web}}
  template:
    metadata:
      labels: {{app: web}}
    spec:
      {extra}
      containers:
      - name: web
        image: nginx:1.27
"""


@pytest.fixture(scope="module")
def kube_server(kube_cluster: KubeCluster) -> Iterator[ServerProcess]:
    with tempfile.TemporaryDirectory(prefix="confighub-kube-") as tmp:
        server = ServerProcess(
            Path(tmp),
            extra_args=["--kubeconfig", str(kube_cluster.kubeconfig), "--ready-timeout", "120"],
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


def test_apply_refresh_drift_destroy(kube_server: ServerProcess, kube_cluster: KubeCluster) -> None:
    ns = slug("chl")
    password = slug("pw")
    api = kube_config.new_client_from_config(config_file=str(kube_cluster.kubeconfig))
    core, apps = kube_client.CoreV1Api(api), kube_client.AppsV1Api(api)
    with kube_server.client() as c:
        sid = new_space(c)["SpaceID"]
        worker = ok(c.post(f"/space/{sid}/bridge_worker", json={"Slug": slug("w")}))
        target = new_target(c, sid, worker["BridgeWorkerID"])
        unit = new_unit(
            c, sid, MANIFEST.format(ns=ns, extra="", password=password), TargetID=target["TargetID"]
        )
        uid = unit["UnitID"]
        done = _finish(c, sid, uid, ok(c.post(f"/space/{sid}/unit/{uid}/apply")))
        assert done["Status"] == "Completed", done
        dep = apps.read_namespaced_deployment("web", ns).to_dict()
        assert dep["status"]["available_replicas"] == 2
        managers = {m["manager"] for m in dep["metadata"]["managed_fields"]}
        assert "confighub-local" in managers
        assert ok(c.get(f"/space/{sid}/unit/{uid}"))["Unit"]["LiveRevisionNum"] == 1

        live = c.get(f"/space/{sid}/unit/{uid}/live_state").content
        assert b"kind: Deployment" in live and password.encode() not in live

        clean = _finish(c, sid, uid, ok(c.post(f"/space/{sid}/unit/{uid}/refresh")))
        assert clean["Status"] == "Completed"
        status = ok(c.get(f"/space/{sid}/unit/{uid}"))["UnitStatus"]
        assert status["ActionResult"] == "RefreshAndNoDrift", status

        core.patch_namespaced_config_map("settings", ns, {"data": {"LOG_LEVEL": "debug"}})
        refreshed = _finish(c, sid, uid, ok(c.post(f"/space/{sid}/unit/{uid}/refresh")))
        assert refreshed["Status"] == "Completed"
        status = ok(c.get(f"/space/{sid}/unit/{uid}"))["UnitStatus"]
        assert status["Drift"] == "Drifted" and status["ActionResult"] == "RefreshAndDrifted"

        gone = _finish(c, sid, uid, ok(c.post(f"/space/{sid}/unit/{uid}/destroy")))
        assert gone["Status"] == "Completed", gone
        with pytest.raises(kube_client.ApiException) as err:
            apps.read_namespaced_deployment("web", ns)
        assert err.value.status == 404


def test_unavailable_deployment_fails_naming_it(kube_server: ServerProcess) -> None:
    ns = slug("chl")
    with kube_server.client() as c:
        sid = new_space(c)["SpaceID"]
        worker = ok(c.post(f"/space/{sid}/bridge_worker", json={"Slug": slug("w")}))
        target = new_target(
            c, sid, worker["BridgeWorkerID"], Parameters='{"ReadyTimeoutSeconds": 8}'
        )
        stuck = MANIFEST.format(ns=ns, extra="nodeSelector: {no-such-node: 'true'}", password="x")
        unit = new_unit(c, sid, stuck, TargetID=target["TargetID"])
        uid = unit["UnitID"]
        failed = _finish(c, sid, uid, ok(c.post(f"/space/{sid}/unit/{uid}/apply")))
        assert failed["Status"] == "Failed"
        reason = failed["ErrorDetails"][0]["Description"]
        assert f"Deployment/{ns}/web not available" in reason, reason
        assert "timed out after 8s" in reason, reason
        _finish(c, sid, uid, ok(c.post(f"/space/{sid}/unit/{uid}/destroy")))


def test_standalone_worker_command(
    confighub_server: ServerProcess, kube_cluster: KubeCluster
) -> None:
    """`python -m confighub_local worker` against a server that runs no worker itself."""
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
        env = {**os.environ, "CONFIGHUB_WORKER_SECRET": worker["Secret"]}
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "confighub_local",
                "worker",
                "--url",
                confighub_server.url,
                "--worker-id",
                worker["BridgeWorkerID"],
                "--kubeconfig",
                str(kube_cluster.kubeconfig),
            ],
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
