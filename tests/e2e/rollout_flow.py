"""The rollout flow on the real engine, a local server with its worker and a kwok cluster with
the failure stages (toolchain/kwok/pod-failures.yaml), shared by tests/e2e/test_rollout.py and
benchmarks/rollout_bench.py.

The cluster: the shared one if it runs in `simulate` readiness, else one of our own
(`TRADERX_CLUSTER_NAME=rollout-<hex>`, `cluster.sh up --readiness simulate`), removed after.
Failures are injected the way a crash happens: the running pods of the new revision get the
label `traderx.finos.org/simulate=unready-after` (with `simulate-after: 0s`), and kwok's stage
turns them unready; the rollout has to notice and roll back on its own.
"""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kubernetes import client as kclient
from kubernetes import config as kconfig

from tests.ops import dr_flow

ROOT = Path(__file__).resolve().parents[2]
CLUSTER_SH = ROOT / "toolchain" / "cluster.sh"
IMAGE = "ghcr.io/finos/traderx/trade-service"
FAIL = {
    "metadata": {
        "labels": {"traderx.finos.org/simulate": "unready-after"},
        "annotations": {"traderx.finos.org/simulate-after": "0s"},
    }
}


def _cluster_sh(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(CLUSTER_SH), *args], env=env, capture_output=True, text=True, timeout=300
    )


@contextmanager
def simulate_cluster(toolchain_env: dict[str, str]) -> Iterator[tuple[Path, str]]:
    """(kubeconfig, context) of a cluster with the failure stages."""
    shared = _cluster_sh(toolchain_env, "status")
    if shared.returncode == 0 and "readiness simulate" in shared.stderr:
        kubeconfig = Path(shared.stdout.split()[-1])
        yield kubeconfig, _context(kubeconfig)
        return
    env = {**toolchain_env, "TRADERX_CLUSTER_NAME": f"rollout-{uuid.uuid4().hex[:6]}"}
    try:
        up = _cluster_sh(env, "up", "--readiness", "simulate")
        if up.returncode != 0:  # a busy machine can miss the node's first heartbeat: once more
            _cluster_sh(env, "down")
            up = _cluster_sh(env, "up", "--readiness", "simulate")
        if up.returncode != 0:
            raise RuntimeError(f"cluster.sh up --readiness simulate failed:\n{up.stderr[-3000:]}")
        kubeconfig = Path(up.stdout.strip().splitlines()[-1])
        yield kubeconfig, _context(kubeconfig)
    finally:
        _cluster_sh(env, "down")


def _context(kubeconfig: Path) -> str:
    _contexts, active = kconfig.list_kube_config_contexts(config_file=str(kubeconfig))
    return str(active["name"])


@contextmanager
def deployed(work: Path, toolchain_env: dict[str, str]) -> Iterator[dr_flow.Flow]:
    """dev, staging, prod from empty; then prod hands the stable trade-service Deployment's
    replicas to the rollout (`services.trade-service.delivery: bluegreen`, one more `up`)."""
    with simulate_cluster(toolchain_env) as (kubeconfig, context):
        env = {**toolchain_env, "KUBECONFIG": str(kubeconfig)}
        flow = dr_flow.deploy(work, env, kubeconfig, context)
        flow.stacks.env["KUBECONFIG"] = str(kubeconfig)
        try:
            flow.stacks.set("prod", 'traderx:services["trade-service"].delivery', "bluegreen")
            flow.stacks.up("prod")
            yield flow
        finally:
            try:  # the rollout's units are ConfigHub's, not the stack's: remove them first
                flow.traderx("rollout", "clean", "--prefix", flow.prefix)
            finally:
                dr_flow.teardown(flow)


def rollout_args(flow: dr_flow.Flow, *args: str) -> list[str]:
    return [
        str(dr_flow.TRADERX),
        "rollout",
        *args,
        "--prefix",
        flow.prefix,
        "--kubeconfig",
        str(flow.kubeconfig),
        "--context",
        flow.context,
        "--json",
    ]


def start(flow: dr_flow.Flow, *args: str) -> subprocess.Popen[str]:
    """A rollout in the background (to inject a failure while it runs)."""
    return subprocess.Popen(
        rollout_args(flow, *args),
        env=flow.stacks.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=flow.stacks.project,
    )


def core(flow: dr_flow.Flow) -> kclient.CoreV1Api:
    return kclient.CoreV1Api(kconfig.new_client_from_config(config_file=str(flow.kubeconfig)))


def networking(flow: dr_flow.Flow) -> kclient.NetworkingV1Api:
    api = kconfig.new_client_from_config(config_file=str(flow.kubeconfig))
    return kclient.NetworkingV1Api(api)


def wait(what: str, cond: Any, timeout: float = 120, proc: Any = None) -> float:
    """Poll until cond() is true; the monotonic time it became true."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return time.monotonic()
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"rollout exited early waiting for {what}: {proc.stdout.read()}")
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s waiting for: {what}")


def service_slot(flow: dr_flow.Flow) -> str:
    svc: Any = core(flow).read_namespaced_service("trade-service", flow.namespace("prod"))
    return str((svc.spec.selector or {}).get("traderx.finos.org/slot", ""))


def canary_weight(flow: dr_flow.Flow) -> int | None:
    try:
        ing: Any = networking(flow).read_namespaced_ingress(
            "trade-service-canary", flow.namespace("prod")
        )
    except kclient.ApiException as exc:
        if exc.status == 404:
            return None
        raise
    return int(ing.metadata.annotations.get("nginx.ingress.kubernetes.io/canary-weight", "0"))


def inject_failure(flow: dr_flow.Flow, selector: str) -> float:
    """Turn the pods matching `selector` unready; the wall-clock time of the injection."""
    api = core(flow)
    ns = flow.namespace("prod")
    pods: list[Any] = api.list_namespaced_pod(ns, label_selector=selector).items
    assert pods, f"no pods match {selector}"
    at = time.time()
    for pod in pods:
        api.patch_namespaced_pod(pod.metadata.name, ns, FAIL)
    return at


def finish(proc: subprocess.Popen[str], timeout: float = 300) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def log(message: str) -> None:
    print(message, file=sys.stderr)


def endpoint_pods(flow: dr_flow.Flow, service: str) -> set[str]:
    """The pods behind a Service, from its EndpointSlices (ready or not)."""
    api = kclient.DiscoveryV1Api(kconfig.new_client_from_config(config_file=str(flow.kubeconfig)))
    slices: Any = api.list_namespaced_endpoint_slice(
        flow.namespace("prod"), label_selector=f"kubernetes.io/service-name={service}"
    )
    return {
        ep.target_ref.name
        for sl in slices.items
        for ep in sl.endpoints or []
        if ep.target_ref is not None and ep.target_ref.kind == "Pod"
    }


def pod_names(flow: dr_flow.Flow, selector: str) -> set[str]:
    pods: Any = core(flow).list_namespaced_pod(flow.namespace("prod"), label_selector=selector)
    return {p.metadata.name for p in pods.items if p.metadata.deletion_timestamp is None}
