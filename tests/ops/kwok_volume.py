"""On the local kwok cluster, a host directory standing in for the database's persistent volume.

kwok runs no containers, but it serves the exec API: kube-apiserver hands `kubectl exec` to the
kwok controller, which runs the command on the host in the working directory and with the
environment of the first ClusterExec matching the pod (toolchain/cluster.sh starts every cluster
with `--enable-crds ClusterExec`). One ClusterExec per namespace maps that namespace's database
container to a directory: `$DATABASE_DATA_DIR` there is the directory, as in the real container
it is the mounted volume, so the backup's `tar` runs unchanged. It outlives the pod, like a PV.
Where the database mounts a claim, `claim_directory` gives the directory of the hostPath
PersistentVolume bound to it (cluster.sh's provisioner), so the exec reaches the real volume.
"""

from __future__ import annotations

import time
from pathlib import Path

from kubernetes import client as kclient
from kubernetes import config as kconfig
from kubernetes.client.exceptions import ApiException

GROUP, VERSION, PLURAL = "kwok.x-k8s.io", "v1alpha1", "clusterexecs"


def has_exec(kubeconfig: str, context: str | None = None) -> bool:
    """Does the cluster watch ClusterExec resources (created by this toolchain's cluster.sh)?"""
    api = kconfig.new_client_from_config(config_file=kubeconfig, context=context)
    try:
        kclient.ApiextensionsV1Api(api).read_custom_resource_definition(f"{PLURAL}.{GROUP}")
    except ApiException as exc:
        if exc.status == 404:
            return False
        raise
    return True


def provisions(kubeconfig: str) -> bool:
    """Does the cluster have a default StorageClass (cluster.sh creates `local-hostpath`)?"""
    api = kconfig.new_client_from_config(config_file=kubeconfig)
    classes = kclient.StorageV1Api(api).list_storage_class().items
    key = "storageclass.kubernetes.io/is-default-class"
    return any((c.metadata.annotations or {}).get(key) == "true" for c in classes if c.metadata)


def claim_directory(
    kubeconfig: str, namespace: str, claim: str = "database-data", timeout: float = 60
) -> Path:
    """The host directory of the hostPath PersistentVolume bound to `claim` (waits for Bound)."""
    core = kclient.CoreV1Api(kconfig.new_client_from_config(config_file=kubeconfig))
    deadline = time.monotonic() + timeout
    while True:
        found = core.read_namespaced_persistent_volume_claim(claim, namespace)
        if found.status and found.status.phase == "Bound" and found.spec and found.spec.volume_name:
            pv = core.read_persistent_volume(found.spec.volume_name)
            if pv.spec is None or pv.spec.host_path is None:
                raise RuntimeError(f"{namespace}/{claim}: bound to {pv.metadata}, not a hostPath")
            return Path(pv.spec.host_path.path)
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"{namespace}/{claim} not Bound within {timeout:.0f}s: a cluster that predates "
                "toolchain/cluster.sh's volume provisioning has no default StorageClass; "
                "recreate it: bash toolchain/cluster.sh down && bash toolchain/cluster.sh up"
            )
        time.sleep(0.5)


def bind(kubeconfig: str, namespace: str, directory: Path, container: str = "database") -> str:
    """Map `container` of every pod in `namespace` to `directory`; the ClusterExec's name."""
    directory.mkdir(parents=True, exist_ok=True)
    name = f"traderx-volume-{namespace}"
    body = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "ClusterExec",
        "metadata": {"name": name},
        "spec": {
            "selector": {"matchNamespaces": [namespace]},
            "execs": [
                {
                    "containers": [container],
                    "local": {
                        "workDir": str(directory),
                        "envs": [{"name": "DATABASE_DATA_DIR", "value": str(directory)}],
                    },
                }
            ],
        },
    }
    api = kclient.CustomObjectsApi(kconfig.new_client_from_config(config_file=kubeconfig))
    try:
        api.create_cluster_custom_object(GROUP, VERSION, PLURAL, body)
    except ApiException as exc:
        if exc.status != 409:
            raise
        api.patch_cluster_custom_object(GROUP, VERSION, PLURAL, name, body)
    return name


def unbind(kubeconfig: str, name: str) -> None:
    api = kclient.CustomObjectsApi(kconfig.new_client_from_config(config_file=kubeconfig))
    try:
        api.delete_cluster_custom_object(GROUP, VERSION, PLURAL, name)
    except ApiException as exc:
        if exc.status != 404:
            raise
