"""The database's data directory in the backup set, through the real exec API on a kwok cluster.

A real local server holds a dev space whose deployed `database` unit says where the database
runs; the Deployment mounts a PersistentVolumeClaim `database-data`, as the rendered unit does,
on a kwok cluster whose hostPath provisioner binds it to a host directory; a ClusterExec maps
the namespace's database container to that directory (tests/ops/kwok_volume.py).
`traderx backup create --database` tars that directory through kube-apiserver -> kwok into the
backup with its checksum; after the volume is lost, `traderx dr restore-database dev` streams it
back and restarts the pod. Corrupt archives are refused before anything is written.

Uses the shared cluster when it watches ClusterExec resources and has a default StorageClass
(toolchain/cluster.sh creates every cluster that way), else a cluster of its own
(`traderx-ops-exec-<pid>`, deleted after).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client as kclient
from kubernetes import config as kconfig

from tests.ops import kwok_volume
from tests.ops.conftest import Run
from tests.ops.project import b64, ok
from tests.support.server import ServerProcess
from tests.support.toolchain import KubeCluster, toolchain_env

pytestmark = [pytest.mark.cluster]

ROOT = Path(__file__).resolve().parents[2]
OWN_CLUSTER = f"traderx-ops-exec-{os.getpid()}"  # unique: parallel runs never share it


@pytest.fixture(scope="module")
def exec_kubeconfig(kube_cluster: KubeCluster) -> Iterator[str]:
    shared = str(kube_cluster.kubeconfig)
    if kwok_volume.has_exec(shared) and kwok_volume.provisions(shared):
        yield shared
        return
    print(f"\nthe shared cluster predates ClusterExec or volumes; starting {OWN_CLUSTER}")
    env = {**toolchain_env(), "TRADERX_CLUSTER_NAME": OWN_CLUSTER}
    script = str(ROOT / "toolchain" / "cluster.sh")
    up = subprocess.run(
        ["bash", script, "up"], env=env, capture_output=True, text=True, timeout=240, check=False
    )
    try:
        assert up.returncode == 0, up.stderr[-2000:]
        kubeconfig = up.stdout.strip().splitlines()[-1]
        assert kwok_volume.has_exec(kubeconfig), "cluster.sh enables ClusterExec"
        assert kwok_volume.provisions(kubeconfig), "cluster.sh creates a default StorageClass"
        yield kubeconfig
    finally:
        subprocess.run(["bash", script, "down"], env=env, capture_output=True, timeout=120)


DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: database
  namespace: {ns}
  labels: {{app: database}}
spec:
  replicas: 1
  strategy: {{type: Recreate}}
  selector:
    matchLabels: {{app: database}}
  template:
    metadata:
      labels: {{app: database}}
    spec:
      containers:
      - name: database
        image: ghcr.io/finos/traderx/database:latest
        env:
        - {{name: DATABASE_DATA_DIR, value: /database/_data}}
        - {{name: DATABASE_DBNAME, value: traderx}}
        volumeMounts: [{{name: data, mountPath: /database/_data}}]
      volumes:
      - {{name: data, persistentVolumeClaim: {{claimName: database-data}}}}
"""
CLAIM = """apiVersion: v1
kind: PersistentVolumeClaim
metadata: {{name: database-data, namespace: {ns}}}
spec:
  accessModes: [ReadWriteOnce]
  resources: {{requests: {{storage: 1Gi}}}}
"""


def _files(directory: Path) -> dict[str, str]:
    return {
        p.relative_to(directory).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def _wait_for_exec(core: kclient.CoreV1Api, ns: str, volume: Path) -> None:
    from kubernetes.stream import stream

    found: Any = core.list_namespaced_pod(ns, label_selector="app=database").items[0]
    pod = found.metadata.name
    deadline = time.monotonic() + 30
    while True:
        try:
            said = stream(core.connect_get_namespaced_pod_exec, pod, ns, container="database",
                          command=["sh", "-c", 'echo "$DATABASE_DATA_DIR"'], stdout=True,
                          stderr=True, stdin=False, tty=False)  # fmt: skip
        except Exception as exc:  # the exec API answers 500 until the ClusterExec is seen
            said = str(exc)
        if str(volume) in said:
            return
        assert time.monotonic() < deadline, f"kwok never served exec for {ns}: {said}"
        time.sleep(0.5)


@pytest.fixture
def deployed(confighub_server: ServerProcess, exec_kubeconfig: str) -> Iterator[dict[str, Any]]:
    prefix = f"db{os.urandom(3).hex()}"
    ns = f"{prefix}-dev"
    claim = CLAIM.format(ns=ns)
    data = DEPLOYMENT.format(ns=ns) + "---\n" + claim
    with confighub_server.client() as http:
        space = ok(
            http.post(
                "/space",
                json={
                    "Slug": f"{prefix}-traderx-dev",
                    "Labels": {"project": f"{prefix}-traderx", "environment": "dev"},
                },
            )
        )
        sid = space["SpaceID"]
        worker = ok(http.post(f"/space/{sid}/bridge_worker", json={"Slug": "w"}))
        target = ok(
            http.post(
                f"/space/{sid}/target",
                json={
                    "Slug": "t",
                    "BridgeWorkerID": worker["BridgeWorkerID"],
                    "ProviderType": "Kubernetes",
                    "ToolchainType": "Kubernetes/YAML",
                    "Parameters": "{}",
                },
            )
        )
        ok(
            http.post(
                f"/space/{sid}/unit",
                json={
                    "Slug": "database",
                    "ToolchainType": "Kubernetes/YAML",
                    "Data": b64(data),
                    "TargetID": target["TargetID"],
                },
            )
        )
    api = kconfig.new_client_from_config(config_file=exec_kubeconfig)
    core, apps = kclient.CoreV1Api(api), kclient.AppsV1Api(api)
    core.create_namespace({"metadata": {"name": ns}})  # type: ignore[arg-type]
    core.create_namespaced_persistent_volume_claim(ns, yaml.safe_load(claim))
    apps.create_namespaced_deployment(ns, yaml.safe_load(DEPLOYMENT.format(ns=ns)))
    # the claim's volume: a directory kube-controller-manager made on this machine
    volume = kwok_volume.claim_directory(exec_kubeconfig, ns)
    # what H2 keeps in its data directory: the database file and its trace, plus a subdirectory
    (volume / "traderx.mv.db").write_bytes(os.urandom(3 * 2**20 + 123))  # many exec chunks
    (volume / "traderx.trace.db").write_text("trace\n")
    (volume / "backups").mkdir()
    (volume / "backups" / "seed.sql").write_text("INSERT INTO accounts VALUES (1);\n")
    bound = kwok_volume.bind(exec_kubeconfig, ns, volume)
    try:
        deadline = time.monotonic() + 60
        while not [
            p
            for p in core.list_namespaced_pod(ns, label_selector="app=database").items
            if p.status and p.status.phase == "Running"
        ]:
            assert time.monotonic() < deadline, "the database pod did not start"
            time.sleep(0.5)
        # kwok's controller picks the ClusterExec up through a watch
        _wait_for_exec(core, ns, volume)
        yield {"prefix": prefix, "ns": ns, "volume": volume, "core": core,
               "kubeconfig": exec_kubeconfig, "space": sid}  # fmt: skip
    finally:
        kwok_volume.unbind(exec_kubeconfig, bound)
        core.delete_namespace(ns)
        with confighub_server.client() as http:
            http.delete(f"/space/{sid}", params={"recursive": "true"})


def test_backup_holds_the_data_directory_and_dr_restores_it(
    deployed: dict[str, Any], source: Run, tmp_path: Path
) -> None:
    volume: Path = deployed["volume"]
    before = _files(volume)
    dest = tmp_path / "backup"
    kube = ["--kubeconfig", deployed["kubeconfig"]]
    started = time.monotonic()
    ran = source("backup", "create", str(dest), "--prefix", deployed["prefix"], "--database",
                 *kube, "--json")  # fmt: skip
    took = time.monotonic() - started
    assert ran.code == 0, ran.stdout + ran.stderr
    assert ran.json()["counts"]["database"] == 1
    manifest = json.loads((dest / "manifest.json").read_text())
    space = f"{deployed['prefix']}-traderx-dev"
    entry = manifest["database"][space]
    assert entry["namespace"] == deployed["ns"] and entry["container"] == "database"
    assert entry["data_dir"] == "/database/_data" and entry["pod"].startswith("database-")
    archive = (dest / entry["file"]).read_bytes()
    assert manifest["files"][entry["file"]]["sha256"] == hashlib.sha256(archive).hexdigest()
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        got = {
            m.name.removeprefix("./"): hashlib.sha256(tar.extractfile(m).read()).hexdigest()  # type: ignore[union-attr]
            for m in tar.getmembers()
            if m.isfile()
        }
    assert got == before, "the archive holds exactly the data directory"
    print(f"\ndatabase data backed up through exec: {len(archive)} bytes in {took:.1f} s")
    assert source("backup", "verify", str(dest)).code == 0

    # the volume is lost; the DR step brings it back and restarts the database on it
    for p in sorted(volume.rglob("*"), reverse=True):
        p.unlink() if p.is_file() else p.rmdir()
    (volume / "traderx.mv.db").write_bytes(b"an empty, freshly seeded database")
    restored = source("dr", "restore-database", "dev", "--backup", str(dest), *kube, "--json")
    assert restored.code == 0, restored.stdout + restored.stderr
    result = restored.json()
    assert result["bytes"] == len(archive) and result["pod"] != entry["pod"], result
    assert _files(volume) == before, "every file of the data directory is back, byte for byte"
    pod: Any = deployed["core"].read_namespaced_pod(result["pod"], deployed["ns"])
    assert pod.status.phase == "Running", "the database runs again, on the restored files"
    claim = pod.spec.volumes[0].persistent_volume_claim
    assert claim.claim_name == "database-data", "the new pod mounts the same claim"
    assert kwok_volume.claim_directory(deployed["kubeconfig"], deployed["ns"]) == volume


def test_a_corrupt_or_missing_archive_is_refused_naming_it(
    deployed: dict[str, Any], source: Run, tmp_path: Path
) -> None:
    dest = tmp_path / "b"
    kube = ["--kubeconfig", deployed["kubeconfig"]]
    ran = source("backup", "create", str(dest), "--prefix", deployed["prefix"], "--database", *kube)
    assert ran.code == 0, ran.stderr
    volume: Path = deployed["volume"]
    before = _files(volume)
    tar = next((dest / "database").glob("*.tar"))
    data = bytearray(tar.read_bytes())
    data[600] ^= 0xFF
    tar.write_bytes(bytes(data))
    bad = source("dr", "restore-database", "dev", "--backup", str(dest), *kube, "--json")
    assert bad.code == 4 and tar.name in bad.json()["error"] and "checksum" in bad.json()["error"]
    assert source("backup", "verify", str(dest)).code == 4
    tar.unlink()
    gone = source("dr", "restore-database", "dev", "--backup", str(dest), *kube, "--json")
    assert gone.code == 4 and "missing" in gone.json()["error"], gone.stdout
    assert _files(volume) == before, "nothing was written"


def test_backup_without_a_running_database_says_so(
    confighub_server: ServerProcess, exec_kubeconfig: str, deployed: dict[str, Any],
    source: Run, tmp_path: Path,
) -> None:  # fmt: skip
    kclient.AppsV1Api(kconfig.new_client_from_config(config_file=exec_kubeconfig)).patch_namespaced_deployment_scale(
        "database", deployed["ns"], {"spec": {"replicas": 0}}
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while deployed["core"].list_namespaced_pod(deployed["ns"]).items:
        assert time.monotonic() < deadline
        time.sleep(0.5)
    ran = source("backup", "create", str(tmp_path / "c"), "--prefix", deployed["prefix"],
                 "--database", "--kubeconfig", exec_kubeconfig, "--json")  # fmt: skip
    assert ran.code == 6 and "no running, ready pod of the database" in ran.json()["error"]
    assert not (tmp_path / "c").exists(), "no half-written backup"
    assert not (tmp_path / "c.partial").exists()
