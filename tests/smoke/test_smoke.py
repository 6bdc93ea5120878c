"""Smoke test of the toolchain: the real Pulumi engine against the real local Kubernetes API.

Drives tests/smoke/program (a Namespace, a Deployment awaited until its replicas are
available on kwok's fake node, a dynamic-provider resource) through the Automation API with a
file backend in a temp dir: `up`, then a `preview` that must report no changes, then
`destroy`, after which the cluster must look exactly as before.
"""

from __future__ import annotations

import hashlib
import shutil
import uuid
from collections.abc import Mapping
from pathlib import Path

import pytest
from kubernetes import client, config
from pulumi import automation as auto

from tests.support.toolchain import KubeCluster, Toolchain

PROGRAM = Path(__file__).parent / "program"

pytestmark = [pytest.mark.engine, pytest.mark.cluster, pytest.mark.slow]


def cluster_objects(kubeconfig: Path) -> set[str]:
    """Namespaces and Deployments in the cluster, as comparable names."""
    api = config.new_client_from_config(config_file=str(kubeconfig))
    with api:
        namespaces = client.CoreV1Api(api).list_namespace().items
        deployments = client.AppsV1Api(api).list_deployment_for_all_namespaces().items
    names = {f"ns/{n.metadata.name}" for n in namespaces if n.metadata}
    names |= {f"deploy/{d.metadata.namespace}/{d.metadata.name}" for d in deployments if d.metadata}
    return names


def available_replicas(kubeconfig: Path, namespace: str, name: str) -> int | None:
    """What the Kubernetes API itself reports for the Deployment."""
    api = config.new_client_from_config(config_file=str(kubeconfig))
    with api:
        dep = client.AppsV1Api(api).read_namespaced_deployment(name, namespace)
    return dep.status.available_replicas if dep.status else None


def changes(summary: Mapping[object, int] | Mapping[auto.OpType, int]) -> dict[str, int]:
    """The non-`same` entries of a change summary (keys are OpType or str by SDK version)."""
    out = {str(getattr(op, "value", op)): n for op, n in summary.items()}
    return {op: n for op, n in out.items() if op != "same" and n}


def test_up_preview_destroy(
    toolchain: Toolchain, kube_cluster: KubeCluster, pulumi_backend: str, tmp_path: Path
) -> None:
    work = tmp_path / "program"
    shutil.copytree(PROGRAM, work)
    namespace = f"smoke-{uuid.uuid4().hex[:8]}"
    env = {
        **toolchain.env,
        "PULUMI_BACKEND_URL": pulumi_backend,
        "KUBECONFIG": str(kube_cluster.kubeconfig),
    }
    assert env.get("PULUMI_CONFIG_PASSPHRASE") or env.get("PULUMI_CONFIG_PASSPHRASE_FILE"), (
        "toolchain env must provide the file backend's passphrase"
    )
    before = cluster_objects(kube_cluster.kubeconfig)
    assert {o for o in before if namespace in o} == set()

    stack = auto.create_or_select_stack(
        "smoke",
        work_dir=str(work),
        opts=auto.LocalWorkspaceOptions(
            env_vars=env,
            pulumi_command=auto.PulumiCommand(root=str(toolchain.pulumi_root)),
        ),
    )
    destroyed = False
    try:
        stack.set_config("smoke:namespace", auto.ConfigValue(namespace))

        up = stack.up(on_output=print)
        assert up.summary.result == "succeeded"
        assert changes(up.summary.resource_changes or {}) == {"create": 4}, up.summary
        assert up.outputs["namespace"].value == namespace
        assert up.outputs["available_replicas"].value == 2
        assert up.outputs["digest"].value == hashlib.sha256(namespace.encode()).hexdigest()
        assert available_replicas(kube_cluster.kubeconfig, namespace, "web") == 2

        preview = stack.preview(on_output=print)
        assert changes(preview.change_summary) == {}, preview.change_summary

        down = stack.destroy(on_output=print)
        destroyed = True
        assert down.summary.result == "succeeded"
        # The cluster is shared with concurrently running tests: compare what concerns us,
        # plus everything that existed before and that nobody else would remove.
        after = cluster_objects(kube_cluster.kubeconfig)
        assert {o for o in after if namespace in o} == set()
        system = {o for o in before if o == "ns/default" or o.startswith("ns/kube-")}
        assert system <= after
    finally:
        if not destroyed:
            stack.destroy()
        stack.workspace.remove_stack("smoke")
