"""The disaster-recovery flow on the real engine, a local server and the local cluster, shared by
the e2e test (tests/ops/test_cluster_e2e.py) and the benchmark (benchmarks/restore_bench.py).

Deploy dev, staging and prod from empty with the e2e driver; back up with `traderx backup
create`; wipe the server's database (SIGKILL, delete the SQLite files, start again on the same
port and token, as after a lost disk); delete the TraderX Deployments from the cluster, so what
runs afterwards can only come from the redeploy; then restore and redeploy with `traderx dr
rebuild <env>...` (restore the spaces, `pulumi up --refresh` through the Automation API; several
environments are adopted in order, then deployed side by side). `wipe(cluster=False)` loses only
the server's database, the case where the redeploy must restart nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client as kclient
from kubernetes import config as kconfig

from components.model.catalog import SERVICE_NAMES
from tests.e2e.driver import Stacks, base_env, make_project
from tests.ops import kwok_volume
from tests.support.server import ServerProcess

ENVS = ("dev", "staging", "prod")
TRADERX = Path(sys.executable).with_name("traderx")


@dataclass
class Flow:
    work: Path
    hub: ServerProcess
    stacks: Stacks
    prefix: str
    kubeconfig: Path
    context: str = ""
    timings: dict[str, float] = field(default_factory=dict)
    # env -> the host directory standing in for its database's volume (kwok with ClusterExec)
    volumes: dict[str, Path] = field(default_factory=dict)

    def namespace(self, env: str) -> str:
        return f"{self.prefix}-{env}"

    def traderx(
        self, *args: str, timeout: float = 900, codes: tuple[int, ...] = (0,)
    ) -> dict[str, Any]:
        """Run the console script with the stacks' environment; its --json result."""
        proc = subprocess.run(
            [str(TRADERX), *args, "--json"],
            env={**self.stacks.env, "PYTHONUNBUFFERED": "1"},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            cwd=self.stacks.project,
        )
        if proc.returncode not in codes:
            log = self.hub.log_path.read_text()[-3000:] if self.hub.log_path.exists() else ""
            raise AssertionError(
                f"traderx {' '.join(args)} exited {proc.returncode}\n{proc.stdout[-4000:]}"
                f"\n{proc.stderr[-3000:]}\n--- server log (tail)\n{log}"
            )
        result: dict[str, Any] = json.loads(proc.stdout)
        result["_exit"] = proc.returncode
        return result

    def apps(self) -> kclient.AppsV1Api:
        return kclient.AppsV1Api(kconfig.new_client_from_config(config_file=str(self.kubeconfig)))


DR_CONTEXT = "traderx-dr"


def dr_kubeconfig(work: Path, kubeconfig: Path, context: str) -> Path:
    """The "other cluster" of the switch-cluster runbook: one machine has one cluster, so this
    is a second kubeconfig whose context `traderx-dr` names the same cluster and user."""
    config = yaml.safe_load(kubeconfig.read_text())
    current = next(c for c in config["contexts"] if c["name"] == context)
    config["contexts"].append({"name": DR_CONTEXT, "context": dict(current["context"])})
    path = work / "dr-kubeconfig.yaml"
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    return path


def deploy(work: Path, toolchain_env: dict[str, str], kubeconfig: Path, context: str) -> Flow:
    """Start the local server (with its worker) and up the three environments from empty. The
    server's worker gets the kubeconfig that also knows the DR context (it must reach both)."""
    (work / "hub").mkdir()
    hub = ServerProcess(
        work / "hub", ["--kubeconfig", str(dr_kubeconfig(work, kubeconfig, context))]
    )
    hub.start()
    prefix = f"dr{secrets.token_hex(3)}"
    (work / "state").mkdir()
    env = base_env(toolchain_env, f"file://{work}/state", hub.url, hub.token, str(kubeconfig))
    stacks = Stacks(make_project(work), env, work / "calls.jsonl")
    flow = Flow(work, hub, stacks, prefix, kubeconfig, context)
    if kwok_volume.has_exec(str(kubeconfig), context):
        for name in ENVS:
            flow.volumes[name] = work / "pv" / flow.namespace(name)
            kwok_volume.bind(str(kubeconfig), flow.namespace(name), flow.volumes[name])
            seed_database(flow.volumes[name], name)
    elif os.environ.get("TRADERX_REQUIRE_REAL") == "1":
        raise RuntimeError(
            "this cluster serves no exec (it predates toolchain/cluster.sh's ClusterExec), so the "
            "database data cannot be part of the DR run; recreate it: "
            "bash toolchain/cluster.sh down && bash toolchain/cluster.sh up"
        )
    else:
        print(
            "NOTE: this cluster predates toolchain/cluster.sh's ClusterExec: the database data "
            "is not part of this DR run (tests/ops/test_database_backup.py covers it)",
            file=sys.stderr,
        )
    common = {
        "traderx:kubeconfig": str(kubeconfig),
        "traderx:kubeContext": context,
        "confighub:url": hub.url,
    }
    stacks.init(
        "dev", {**common, "traderx:prefix": prefix, "traderx:namespace": flow.namespace("dev")}, {}
    )
    stacks.init("staging", {**common, "traderx:namespace": flow.namespace("staging")}, {})
    started = time.monotonic()
    stacks.up("dev")
    stacks.up("staging")
    revisions = stacks.outputs("staging")["unitRevisions"]
    stacks.init(
        "prod",
        {
            **common,
            "traderx:namespace": flow.namespace("prod"),
            "traderx:promote": {s: revisions[s] for s in SERVICE_NAMES},
        },
        {"traderx:databasePassword": secrets.token_hex(12)},
    )
    stacks.up("prod")
    flow.timings["deploy_3_envs_s"] = round(time.monotonic() - started, 1)
    return flow


def seed_database(volume: Path, env: str) -> None:
    """What H2 keeps in its data directory: the database file, its trace, a subdirectory."""
    (volume / "backups").mkdir(parents=True, exist_ok=True)
    (volume / "traderx.mv.db").write_bytes(secrets.token_bytes(64 * 1024) + env.encode())
    (volume / "traderx.trace.db").write_text(f"{env} trace\n")
    (volume / "backups" / "accounts.sql").write_text(
        f"-- {env}\nINSERT INTO accounts VALUES (1);\n"
    )


def volume_files(volume: Path) -> dict[str, str]:
    return {
        p.relative_to(volume).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(volume.rglob("*"))
        if p.is_file()
    }


def backup(flow: Flow, dest: Path) -> dict[str, Any]:
    started = time.monotonic()
    database = ["--database", "--kubeconfig", str(flow.kubeconfig), "--context", flow.context]
    result = flow.traderx(
        "backup", "create", str(dest), "--prefix", flow.prefix, *(database if flow.volumes else [])
    )
    flow.timings["backup_s"] = round(time.monotonic() - started, 2)
    return result


def wipe(flow: Flow, *, cluster: bool = True) -> None:
    """Lose the server's database and (`cluster`) the workloads and database volumes."""
    flow.hub.kill()
    for suffix in ("", "-wal", "-shm"):
        Path(str(flow.hub.db_path) + suffix).unlink(missing_ok=True)
    flow.hub.start()
    if not cluster:
        return
    for volume in flow.volumes.values():  # the volumes are lost too: a fresh, empty database
        shutil.rmtree(volume)
        volume.mkdir()
        (volume / "traderx.mv.db").write_bytes(b"freshly seeded")
    apps = flow.apps()
    for env in ENVS:
        apps.delete_collection_namespaced_deployment(flow.namespace(env))
    deadline = time.monotonic() + 60
    while any(apps.list_namespaced_deployment(flow.namespace(e)).items for e in ENVS):
        if time.monotonic() > deadline:
            raise AssertionError("Deployments were not deleted within 60 s")
        time.sleep(0.5)


def rebuild(flow: Flow, backup_dir: Path, *envs: str, database: bool = True) -> dict[str, Any]:
    """`traderx dr rebuild <env>...`: restore the environments' spaces, redeploy their stacks
    (several: adopt in order, then deploy side by side), restore their databases."""
    started = time.monotonic()
    result = flow.traderx(
        "dr", "rebuild", *envs, "--backup", str(backup_dir), "--project-dir",
        str(flow.stacks.project), "--kubeconfig", str(flow.kubeconfig), "--context", flow.context,
        *(() if database else ("--no-database",)),
    )  # fmt: skip
    label = "+".join(envs)
    flow.timings[f"rebuild_{label}_s"] = round(time.monotonic() - started, 1)
    for key, seconds in result["seconds"].items():
        if key.startswith(("database_", "adopt_", "up_")):  # the database: streamed through exec
            flow.timings[f"{label}:{key}_s"] = seconds
    return result


def pod_uids(flow: Flow, env: str) -> set[str]:
    """The environment's TraderX pods (their UIDs: a restarted pod gets a new one)."""
    core = kclient.CoreV1Api(kconfig.new_client_from_config(config_file=str(flow.kubeconfig)))
    pods = core.list_namespaced_pod(
        flow.namespace(env), label_selector="app.kubernetes.io/part-of=traderx"
    )
    return {str(p.metadata.uid) for p in pods.items}  # type: ignore[union-attr]


def unavailable(flow: Flow, env: str) -> list[str]:
    """Deployments of the environment that are missing or not available (empty: all good)."""
    items: list[Any] = flow.apps().list_namespaced_deployment(flow.namespace(env)).items
    found = {d.metadata.name: d for d in items}
    bad = [f"{name}: missing" for name in SERVICE_NAMES if name not in found]
    for name, d in found.items():
        have = (d.status.available_replicas if d.status else None) or 0
        if have != d.spec.replicas:
            bad.append(f"{name}: {have}/{d.spec.replicas} available")
    return bad


def drift_correction(flow: Flow, audit: Path, interval: float = 3.0) -> float:
    """Seconds from a `kubectl scale` of dev's trade-service (the API call kubectl makes, under
    its field manager) until `traderx drift watch` has scaled it back and recorded the finished
    correction (the apply reported Completed) in the audit file."""
    watch = subprocess.Popen(
        [str(TRADERX), "drift", "watch", "dev", "--prefix", flow.prefix, "--interval",
         str(interval), "--audit", str(audit), "--json", "--context", flow.context],
        env=flow.stacks.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    apps = flow.apps()
    namespace = flow.namespace("dev")
    try:
        time.sleep(interval)  # let the first (clean) round pass
        apps.patch_namespaced_deployment_scale(
            "trade-service", namespace, {"spec": {"replicas": 3}}, field_manager="kubectl"
        )
        scaled = time.monotonic()
        while True:
            d: Any = apps.read_namespaced_deployment("trade-service", namespace)
            # done when the cluster is back AND the watch recorded the finished correction
            if d.spec.replicas == 1 and audit.exists() and "spec.replicas" in audit.read_text():
                return time.monotonic() - scaled
            if watch.poll() is not None:
                raise AssertionError(f"drift watch exited: {watch.stderr.read()[-2000:]}")  # type: ignore[union-attr]
            if time.monotonic() - scaled > 3 * interval + 30:
                raise AssertionError("the scaled Deployment was not corrected")
            time.sleep(0.2)
    finally:
        watch.terminate()
        watch.wait(10)


def teardown(flow: Flow) -> None:
    for env in reversed(ENVS):
        try:
            if env == "prod":
                flow.stacks.unprotect(env)
            flow.stacks.destroy(env)
        except Exception as exc:  # report and keep tearing down
            print(f"destroy {env} failed: {str(exc)[:500]}", file=sys.stderr)
    for env in flow.volumes:
        kwok_volume.unbind(str(flow.kubeconfig), f"traderx-volume-{flow.namespace(env)}")
    flow.hub.stop()


def environ_ok() -> bool:
    return os.access(TRADERX, os.X_OK)
