"""toolchain/cluster.sh clusters provision volumes: the database's claim binds under kwok.

On a cluster of its own (the shared one may predate provisioning): the default StorageClass
exists, a claim without a class binds to a hostPath PersistentVolume that kube-controller-manager
created on this machine, a pod mounting it becomes Ready, and deleting the claim deletes the
volume and its directory (reclaim Delete); `cluster.sh down` removes the directories of the
volumes still there.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as kclient
from kubernetes import config as kconfig

from tests.smoke.test_cluster_lifecycle import cluster_sh
from tests.support.toolchain import Toolchain

pytestmark = [pytest.mark.engine, pytest.mark.slow]

CLAIM: dict[str, Any] = {
    "metadata": {"name": "database-data"},
    "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
}


def _pod(claim: str) -> dict[str, Any]:
    return {
        "metadata": {"name": "database"},
        "spec": {
            "containers": [
                {"name": "database", "image": "ghcr.io/finos/traderx/database:latest",
                 "volumeMounts": [{"name": "data", "mountPath": "/database/_data"}]}
            ],
            "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": claim}}],
        },
    }  # fmt: skip


def _until(what: str, probe: Any, seconds: float = 60) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        found = probe()
        if found:
            return found
        assert time.monotonic() < deadline, f"{what} within {seconds}s"
        time.sleep(0.5)


def test_a_claim_binds_to_a_host_path_volume_and_its_pod_gets_ready(toolchain: Toolchain) -> None:
    name = f"volumes-{uuid.uuid4().hex[:6]}"
    env = {**toolchain.env, "TRADERX_CLUSTER_NAME": name}
    left: Path | None = None
    try:
        up = cluster_sh(env, "up")
        assert up.returncode == 0, up.stderr
        api = kconfig.new_client_from_config(config_file=up.stdout.strip().splitlines()[-1])
        core, storage = kclient.CoreV1Api(api), kclient.StorageV1Api(api)
        sc = storage.read_storage_class("local-hostpath")
        assert sc.provisioner == "kubernetes.io/host-path"
        assert sc.metadata.annotations["storageclass.kubernetes.io/is-default-class"] == "true"

        core.create_namespaced_persistent_volume_claim("default", CLAIM)
        core.create_namespaced_pod("default", _pod("database-data"))

        def bound() -> str | None:
            c = core.read_namespaced_persistent_volume_claim("database-data", "default")
            return c.spec.volume_name if c.status.phase == "Bound" else None

        pv_name = _until("the claim is Bound", bound)
        pv = core.read_persistent_volume(pv_name)
        assert pv.spec.storage_class_name == "local-hostpath"  # the default class, unasked
        directory = Path(pv.spec.host_path.path)
        assert directory.is_dir() and directory.parent == Path("/tmp/hostpath_pv")

        def ready() -> bool:
            pod = core.read_namespaced_pod("database", "default")
            conds = {c.type: c.status for c in (pod.status.conditions or [])}
            return conds.get("Ready") == "True"

        _until("the pod mounting the claim is Ready", ready)

        core.delete_namespaced_pod("database", "default", grace_period_seconds=0)
        core.delete_namespaced_persistent_volume_claim("database-data", "default")

        def volume_gone() -> bool:
            names = [v.metadata.name for v in core.list_persistent_volume().items]
            return pv_name not in names and not directory.exists()

        _until("the volume and its directory are deleted with the claim", volume_gone)

        # a claim still bound when the cluster goes: down removes its volume's directory
        core.create_namespaced_persistent_volume_claim("default", CLAIM)
        left = Path(
            core.read_persistent_volume(_until("the claim is Bound", bound)).spec.host_path.path
        )
        assert left.is_dir()
    finally:
        down = cluster_sh(env, "down")
    assert down.returncode == 0, down.stderr
    assert left is not None and not left.exists(), (
        "cluster.sh down removes the directories of remaining volumes"
    )
