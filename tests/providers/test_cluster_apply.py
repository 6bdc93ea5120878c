"""Units applied to the real local Kubernetes cluster by ConfigHub's official bridge worker.

The server runs with `--kubeconfig`, so the BridgeWorker created by the stack is served by an
official `cub-worker` the server supervises (server-side apply, kstatus wait). create -> objects
exist in the cluster; a data change reaches the cluster; destroy removes them from the cluster
and ConfigHub.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pulumi
import pytest
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.client.exceptions import ApiException

from components.confighub import BridgeWorker, Space, Target, Unit
from tests.support.server import ServerProcess

from .engine import EngineStack, changes

pytestmark = [pytest.mark.engine, pytest.mark.cluster]


def config_map(ns: str, value: str) -> str:
    return (
        f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: provider-test, namespace: {ns}}}\n"
        f"data: {{value: '{value}'}}\n"
    )


def test_units_reach_the_cluster_and_leave_it(
    toolchain: Any, kube_cluster: Any, pulumi_backend: str, tmp_path: Path, unique: str
) -> None:
    ns = f"chp-{unique}"
    (tmp_path / "hub").mkdir()
    server = ServerProcess(tmp_path / "hub", ["--kubeconfig", str(kube_cluster.kubeconfig)])
    server.start()
    api = k8s.CoreV1Api(k8s_config.new_client_from_config(config_file=str(kube_cluster.kubeconfig)))
    spec: dict[str, Any] = {"value": "one"}

    def program() -> None:
        space = Space("space", slug=f"cluster-{unique}")
        worker = BridgeWorker("worker", space_id=space.space_id, slug="worker")
        target = Target(
            "target",
            space_id=space.space_id,
            slug="cluster",
            bridge_worker_id=worker.worker_id,
            provider_type="Kubernetes",
            toolchain_type="Kubernetes/YAML",
            parameters={"KubeContext": kube_cluster.context},
        )
        namespace = Unit(
            "ns",
            space_id=space.space_id,
            slug="namespace",
            data=f"apiVersion: v1\nkind: Namespace\nmetadata: {{name: {ns}}}\n",
            target_id=target.target_id,
            apply_timeout_seconds=120,
        )
        Unit(
            "cm",
            space_id=space.space_id,
            slug="config",
            data=config_map(ns, spec["value"]),
            target_id=target.target_id,
            apply_timeout_seconds=120,
            opts=pulumi.ResourceOptions(depends_on=[namespace]),
        )

    try:
        st = EngineStack(
            "cluster",
            program,
            toolchain=toolchain,
            backend=pulumi_backend,
            url=server.url,
            token=server.token,
            workdir=tmp_path,
        )
        st.up()
        assert api.read_namespaced_config_map("provider-test", ns).data == {"value": "one"}

        st.reset_calls()
        assert set(changes(st.up())) == {"same"} and st.calls().writes == 0

        spec["value"] = "two"
        assert changes(st.up()).get("update") == 1
        assert api.read_namespaced_config_map("provider-test", ns).data == {"value": "two"}

        st.destroy()
        with pytest.raises(ApiException) as gone:
            api.read_namespaced_config_map("provider-test", ns)
        assert gone.value.status == 404
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                status = api.read_namespace(ns).status
                phase = status.phase if status else None
            except ApiException as exc:
                assert exc.status == 404
                break
            assert phase == "Terminating"
            time.sleep(1)
    finally:
        server.stop()
