"""`cub unit apply|refresh|destroy --wait` on the local cluster, through the official bridge
worker that `serve --kubeconfig` runs for each BridgeWorker (cub-worker from the SDK). Checked
in cub's output, in the server's state and in the cluster itself."""

from __future__ import annotations

import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from kubernetes import client as kube_client
from kubernetes import config as kube_config

from tests.conformance.conftest import Cub
from tests.conformance.test_cub_flow import entity, unit, write
from tests.server.helpers import WEB_APP as APP
from tests.support.server import ServerProcess
from tests.support.toolchain import KubeCluster

STUCK = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  namespace: default
spec:
  replicas: 1
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}}}
    spec:
      nodeSelector: {{no-such-node: 'true'}}
      containers:
        - name: web
          image: nginx:1.27
"""

pytestmark = pytest.mark.cluster


@pytest.fixture(scope="module")
def cub_server(kube_cluster: KubeCluster, cub_worker: str) -> Iterator[ServerProcess]:
    """This module's server runs the official worker for every BridgeWorker created here."""
    with tempfile.TemporaryDirectory(prefix="cub-conformance-kube-") as tmp:
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


@pytest.fixture
def apps(kube_cluster: KubeCluster) -> tuple[kube_client.CoreV1Api, kube_client.AppsV1Api]:
    api = kube_config.new_client_from_config(config_file=str(kube_cluster.kubeconfig))
    return kube_client.CoreV1Api(api), kube_client.AppsV1Api(api)


def _ready_worker(cub: Cub, slug: str, wait: float = 60) -> dict[str, Any]:
    cub.ok("worker", "create", slug)
    deadline = time.monotonic() + wait
    while True:
        worker = entity(cub.json("worker", "get", slug), "BridgeWorker")
        if worker.get("Condition") == "Ready":
            return worker
        assert time.monotonic() < deadline, f"worker {slug} not Ready after {wait}s: {worker}"
        time.sleep(0.5)


def _events(cub: Cub, slug: str) -> list[list[str]]:
    return cub.ok("unit-event", "list", slug).rows()[1:]


def test_apply_refresh_destroy_with_wait(
    cub: Cub,
    space: str,
    api: httpx.Client,
    tmp_path: Path,
    apps: tuple[kube_client.CoreV1Api, kube_client.AppsV1Api],
) -> None:
    core, deployments = apps
    ns = f"cf-{uuid.uuid4().hex[:8]}"
    _ready_worker(cub, "w")
    assert cub.ok("worker", "list-status", "w").rows()[1:], "a connected worker reports status"
    cub.ok("target", "create", "t", '{"ReadyTimeoutSeconds": 90}', "w")
    cub.ok("unit", "create", "app", write(tmp_path, "app.yaml", APP.format(ns=ns, extra="")))
    cub.ok("unit", "set-target", "app", "t")

    applied = cub.ok("unit", "apply", "--wait", "app", timeout=240)
    assert "Successfully completed Apply on unit app" in applied.out, applied.text
    dep = deployments.read_namespaced_deployment("web", ns).to_dict()
    assert dep["status"]["available_replicas"] == 2  # done only once available
    assert "confighub" in {m["manager"] for m in dep["metadata"]["managed_fields"]}
    stored = unit(api, space, "app")
    assert stored["LiveRevisionNum"] == stored["HeadRevisionNum"] == 1
    row = {r[0]: r for r in cub.ok("unit", "list").rows()[1:]}["app"]
    assert row[2] == "t" and row[3] == "Completed"
    assert _events(cub, "app")[0][:3] == ["Apply", "ApplyCompleted", "Completed"]
    shown = cub.ok("unit", "get", "--verbose", "app").out
    assert "Live Revision Num             1" in shown
    live = shown.split("Live State:", 1)
    # the live objects, as the cluster has them (the API server labels the namespace)
    state = live[1].split("Config Data:", 1)[0] if len(live) == 2 else ""
    assert f"kubernetes.io/metadata.name: {ns}" in state and "kind: Deployment" in state, shown

    refreshed = cub.ok("unit", "refresh", "--wait", "app", timeout=240)
    assert "Successfully completed Refresh on unit app" in refreshed.out, refreshed.text
    assert _events(cub, "app")[0][1] == "RefreshAndNoDrift"
    core.patch_namespaced_config_map("settings", ns, {"data": {"LOG_LEVEL": "debug"}})
    cub.ok("unit", "refresh", "--wait", "app", timeout=240)
    assert _events(cub, "app")[0][1] == "RefreshAndDrifted"
    sid = stored["SpaceID"]
    status = api.get(f"/space/{sid}/unit/{stored['UnitID']}").json()["UnitStatus"]
    assert status["Drift"] == "Drifted"

    # a function change, then a bulk apply with --wait puts it on the cluster
    cub.ok("function", "do", "--where", "Slug = 'app'", "set-replicas", "3", "--quiet")
    bulk = cub.ok("unit", "apply", "--where", "Slug = 'app'", "--wait", timeout=240)
    assert "Units queued for apply: 1" in bulk.out, bulk.text
    dep = deployments.read_namespaced_deployment("web", ns).to_dict()
    assert dep["spec"]["replicas"] == 3 and dep["status"]["available_replicas"] == 3
    assert unit(api, space, "app")["LiveRevisionNum"] == 2

    destroyed = cub.ok("unit", "destroy", "--wait", "app", timeout=240)
    assert "Successfully completed Destroy on unit app" in destroyed.out, destroyed.text
    with pytest.raises(kube_client.ApiException) as gone:
        deployments.read_namespaced_deployment("web", ns)
    assert gone.value.status == 404
    assert unit(api, space, "app")["LiveRevisionNum"] == 0


def test_apply_wait_reports_a_failed_unit(
    cub: Cub, space: str, api: httpx.Client, tmp_path: Path
) -> None:
    """A Deployment that never becomes available: `apply --wait` fails, the unit event names
    the Deployment and why, and nothing is recorded as live."""
    name = f"cf-stuck-{uuid.uuid4().hex[:8]}"
    _ready_worker(cub, "w")
    cub.ok("target", "create", "t", '{"ReadyTimeoutSeconds": 8}', "w")
    # only the Deployment, in `default`: with the 8 s wait a namespace could not finish
    # terminating in time on destroy
    stuck = STUCK.format(name=name)
    cub.ok("unit", "create", "stuck", write(tmp_path, "stuck.yaml", stuck))
    cub.ok("unit", "set-target", "stuck", "t")
    failed = cub.fails("unit", "apply", "--wait", "stuck")
    assert "Apply failed on unit" in failed.text, failed.text
    event = _events(cub, "stuck")[0]
    assert event[:3] == ["Apply", "ApplyWaitFailed", "Failed"]
    message = " ".join(event[3:])
    assert f"Deployment/default/{name}" in message, message
    assert unit(api, space, "stuck")["LiveRevisionNum"] == 0
    cub.ok("unit", "destroy", "--wait", "stuck", timeout=240)
