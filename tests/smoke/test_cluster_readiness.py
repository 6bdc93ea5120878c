"""`cluster.sh up --readiness traderx` on a cluster of its own: TraderX-like startup delays by
image, the per-pod override, and the failure labels (toolchain/kwok/).

Uses a separate cluster name so the suite's shared (instant) cluster is not disturbed; `down`
must leave no process behind.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.smoke.test_cluster_lifecycle import alive, cluster_sh, component_pids
from tests.support.toolchain import Toolchain

pytestmark = [pytest.mark.engine, pytest.mark.slow]

REGISTRY = "ghcr.io/finos/traderx"
NS = "readiness"


def deployment(name: str, image: str, labels: dict[str, str], annotations: dict[str, str]) -> Any:
    match = {"app.kubernetes.io/name": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": match},
            "template": {
                "metadata": {"labels": {**match, **labels}, "annotations": annotations},
                "spec": {"containers": [{"name": "main", "image": image}]},
            },
        },
    }


class Pods:
    """Polls the pods of the test namespace, remembering when each first became Ready."""

    def __init__(self, core: Any) -> None:
        self.core = core
        self.first_ready: dict[str, float] = {}

    def get(self) -> dict[str, Any]:
        now = time.monotonic()
        out = {}
        for pod in self.core.list_namespaced_pod(NS).items:
            name = pod.metadata.labels["app.kubernetes.io/name"]
            out[name] = pod
            if ready(pod):
                self.first_ready.setdefault(name, now)
        return out

    def wait(self, what: str, cond: Callable[[dict[str, Any]], bool], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if cond(self.get()):
                return
            time.sleep(0.25)
        pytest.fail(f"timed out after {timeout}s waiting for: {what}")


def ready(pod: Any) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in (pod.status.conditions or []))


def condition(pod: Any, kind: str) -> Any:
    return next((c for c in pod.status.conditions or [] if c.type == kind), None)


def ready_seconds(pod: Any) -> float:
    """Creation to Ready by the API server's own stamps (1 s resolution): a slow poll here under
    a loaded machine cannot stretch it."""
    ready_at = condition(pod, "Ready").last_transition_time
    return float((ready_at - pod.metadata.creation_timestamp).total_seconds())


def restarts(pod: Any) -> int:
    return sum(s.restart_count for s in pod.status.container_statuses or [])


@pytest.fixture
def slow_cluster(toolchain: Toolchain) -> Iterator[tuple[dict[str, str], Path]]:
    name = f"readiness-{uuid.uuid4().hex[:6]}"
    env = {**toolchain.env, "TRADERX_CLUSTER_NAME": name}
    cluster_dir = Path(env["TRADERX_CACHE"]) / "kwok-state" / "clusters" / name
    try:
        up = cluster_sh(env, "up", "--readiness", "traderx")
        assert up.returncode == 0, up.stderr
        assert "readiness traderx" in up.stderr
        yield env, Path(up.stdout.strip().splitlines()[-1])
    finally:
        pids = component_pids(cluster_dir) if cluster_dir.exists() else {}
        down = cluster_sh(env, "down")
        assert down.returncode == 0, down.stderr
        assert pids and [n for n, pid in pids.items() if alive(pid)] == []
        assert not cluster_dir.exists()


def test_traderx_readiness_delays_and_failure_labels(
    slow_cluster: tuple[dict[str, str], Path],
) -> None:
    from kubernetes import client, config, utils

    env, kubeconfig = slow_cluster
    status = cluster_sh(env, "status")
    assert status.returncode == 0 and "readiness traderx" in status.stderr
    other = cluster_sh(env, "up", "--readiness", "instant")
    assert other.returncode != 0 and "running with readiness 'traderx'" in other.stderr
    bad = cluster_sh(env, "up", "--readiness", "sluggish")
    assert bad.returncode != 0 and "allowed: instant, simulate, traderx" in bad.stderr

    api = config.new_client_from_config(config_file=str(kubeconfig))
    core = client.CoreV1Api(api)
    core.create_namespace({"metadata": {"name": NS}})
    fast = {"traderx.finos.org/ready-after": "1s", "traderx.finos.org/simulate-after": "3s"}
    objects = [
        deployment("jvm", f"{REGISTRY}/trade-service:1.2.3", {}, {}),
        deployment("node", f"{REGISTRY}/reference-data@sha256:{'0' * 64}", {}, {}),
        deployment("override", f"{REGISTRY}/database:latest", {}, fast),
        deployment("never", f"{REGISTRY}/trade-feed:latest", _sim("never-ready"), fast),
        deployment("restart", f"{REGISTRY}/trade-feed:latest", _sim("restart"), fast),
        deployment("unready", f"{REGISTRY}/trade-feed:latest", _sim("unready-after"), fast),
    ]
    for obj in objects:
        utils.create_from_dict(api, obj)
    pods = Pods(core)
    pods.wait("all six pods exist", lambda p: len(p) == 6, 60)

    # The override and the Node service are Ready within seconds, the JVM service is not.
    pods.wait("override and node Ready", lambda p: ready(p["override"]) and ready(p["node"]), 15)
    assert ready_seconds(pods.get()["node"]) <= 10  # 2-5 s; far below the JVM's 20
    assert not ready(pods.get()["jvm"])

    # restart: Ready, then the container fails and comes back with a restart counted.
    pods.wait("restart pod restarted", lambda p: restarts(p["restart"]) >= 1, 20)
    assert "restart" in pods.first_ready
    # unready-after: Ready once, then unready for good, with the simulated reason.
    pods.wait(
        "unready pod unready again",
        lambda p: "unready" in pods.first_ready and not ready(p["unready"]),
        20,
    )
    unready = condition(pods.get()["unready"], "Ready")
    assert unready.reason == "SimulatedUnready"

    # JVM: Ready only after its 20-40 s startup.
    pods.wait("jvm Ready", lambda p: ready(p["jvm"]), 60)
    jvm_seconds = ready_seconds(pods.get()["jvm"])
    assert 19 <= jvm_seconds <= 50, jvm_seconds  # 20-40 s
    # Restarting pods become Ready again between failures.
    pods.wait("restart pod Ready again", lambda p: ready(p["restart"]), 20)

    # never-ready: running all along, never Ready; unready-after stays unready.
    now = pods.get()
    assert now["never"].status.phase == "Running" and "never" not in pods.first_ready
    assert not ready(now["unready"])
    deployments = client.AppsV1Api(api)
    available = {
        d.metadata.name: (d.status.available_replicas or 0)
        for d in deployments.list_namespaced_deployment(NS).items
    }
    assert available["never"] == 0 and available["jvm"] == 1 and available["node"] == 1


def _sim(mode: str) -> dict[str, str]:
    return {"traderx.finos.org/simulate": mode}
