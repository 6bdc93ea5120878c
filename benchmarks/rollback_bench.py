"""Rollback times against the design's RTO table (issue #13; design section 9.1).

On a cluster with TraderX-like readiness delays (its own kwok cluster, `cluster.sh up
--readiness traderx`, named by TRADERX_BENCH_ROLLBACK_CLUSTER, default traderx-rollback-bench,
stopped afterwards unless it was already running) and a fresh local server: dev, staging and
prod are deployed, prod gets release R1, then trade-service and reference-data get a new image
and are promoted to prod as R2. Measured, each through the operator CLI as a user runs it:

- single-unit rollback: `traderx rollback unit prod trade-service --to -1` (its 3 replicas
  surging at once, then the exact restore; until available). Design RTO 30 s; goal under 10 s;
- whole-prod rollback to the previous release: `traderx rollback env prod --to R1` (restore,
  apply in start order health-gated, then the stack's `pulumi up`). Design RTO 15 min; goal
  under 2 min;
- the same unit rollback inside blue-green's warm window: prod's trade-service under
  `delivery: bluegreen`, a `traderx rollout bluegreen` of a new image `Warm` with the previous
  version still running, then `rollback unit ... --to -1` (the runner's switch-back; the pod
  watch lists any pod it started). Goal under 10 s.

Floors (a pod watch, pod created -> Ready): the single-unit rollback cannot finish before its
slowest new pod is Ready, the whole-prod one before the tier sum of its new pods' readiness;
`ratios` says how far above those the rollbacks are.

Run: `make bench`, or `source toolchain/env.sh && .venv/bin/python benchmarks/rollback_bench.py`.
Prints one JSON object.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_support import PodWatch, tier_sum  # noqa: E402
from benchmarks.deploy_bench import OwnCluster  # noqa: E402
from tests.e2e.driver import Stacks, base_env, make_project  # noqa: E402
from tests.support.server import ServerProcess  # noqa: E402
from tests.support.toolchain import KubeCluster, load_toolchain  # noqa: E402

MOVED = ("trade-service", "reference-data")
TRADERX = ROOT / ".venv" / "bin" / "traderx"
WARM_IMAGE = "ghcr.io/finos/traderx/trade-service:1.2.0"


def cli(env: dict[str, str], project: Path, *args: str) -> tuple[float, dict[str, Any]]:
    started = time.monotonic()
    proc = subprocess.run(
        [str(TRADERX), *args, "--json"],
        cwd=project, env=env, capture_output=True, text=True, timeout=1800, check=False,
    )  # fmt: skip
    seconds = time.monotonic() - started
    if proc.returncode != 0:
        raise RuntimeError(f"traderx {' '.join(args)} exited {proc.returncode}: {proc.stdout}")
    return seconds, json.loads(proc.stdout)


def warm_rollback(
    env: dict[str, str],
    project: Path,
    stacks: Stacks,
    cluster: KubeCluster,
    prefix: str,
    watch: PodWatch,
) -> dict[str, Any]:
    """The unit rollback inside blue-green's warm window: prod's trade-service under
    `delivery: bluegreen`, a blue-green of a new image running with the previous version warm
    (`--delay 900`), then the same `traderx rollback unit prod trade-service --to -1`. It is
    the rollout's switch-back: no pod starts (the pod watch counts any that did)."""
    stacks.set("prod", 'traderx:services["trade-service"].delivery', "bluegreen")
    stacks.up("prod")
    kube = ("--kubeconfig", str(cluster.kubeconfig), "--context", cluster.context)
    runner = subprocess.Popen(
        [str(TRADERX), "rollout", "bluegreen", "--prefix", prefix, "--image", WARM_IMAGE,
         "--delay", "900", "--ready-timeout", "240", "--check-command", "true", *kube, "--json"],
        cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    started = time.monotonic()
    try:
        while True:  # the new slot deploys (JVM pods: 20-40 s each), validates, then serves
            status = cli(env, project, "rollout", "status", "--prefix", prefix)[1]
            if (status["record"].get("state") or {}).get("phase") == "Warm" and status[
                "activeSlot"
            ]:
                break
            if runner.poll() is not None or time.monotonic() - started > 600:
                raise RuntimeError(f"the blue-green never became warm: {runner.communicate()}")
            time.sleep(1)
        to_warm = time.monotonic() - started
        at = time.monotonic()
        seconds, report = cli(env, project, "rollback", "unit", "prod", "trade-service",
                              "--to", "-1", "--prefix", prefix)  # fmt: skip
        started_pods = watch.created(f"{prefix}-prod", at)
        code = runner.wait(timeout=120)
    finally:
        if runner.poll() is None:
            runner.kill()
    return {
        "rollback_s": round(seconds, 1),
        "goal_s": 10,
        "switched_back_s": report.get("switchedBackSeconds"),
        "warm_slot": report.get("warmSlot"),
        "restored_revision": report.get("restoredRevision"),
        "pods_started_during_rollback": started_pods,
        "rollout_exit": code,
        "blue_green_to_warm_s": round(to_warm, 1),
    }


def main() -> None:
    tc = load_toolchain()
    if isinstance(tc, str):
        raise SystemExit(tc)
    # its own cluster with TraderX-like readiness, never the shared `traderx` one (OwnCluster
    # reads this name)
    os.environ["TRADERX_BENCH_TRADERX_CLUSTER"] = os.environ.get(
        "TRADERX_BENCH_ROLLBACK_CLUSTER", "traderx-rollback-bench"
    )
    with (
        tempfile.TemporaryDirectory(prefix="rollback-bench-") as tmp,
        OwnCluster(tc.env, "traderx") as cluster,
    ):
        work = Path(tmp)
        (work / "hub").mkdir()
        server = ServerProcess(work / "hub", extra_args=["--kubeconfig", str(cluster.kubeconfig)])
        server.start()
        prefix = f"rb{secrets.token_hex(3)}"
        env = base_env(
            tc.env, f"file://{work / 'state'}", server.url, server.token, str(cluster.kubeconfig)
        )
        (work / "state").mkdir()
        project = make_project(work)
        stacks = Stacks(project, env, work / "calls.jsonl")
        common = {
            "confighub:url": server.url,
            "traderx:kubeconfig": str(cluster.kubeconfig),
            "traderx:kubeContext": cluster.context,
            "traderx:applyTimeoutSeconds": 300,
        }
        secret = {"confighub:token": server.token}
        created: list[str] = []
        watch = PodWatch(str(cluster.kubeconfig))  # pod created -> Ready, for the floors
        figures: dict[str, Any] = {}
        try:
            stacks.init("dev", {**common, "traderx:prefix": prefix,
                                "traderx:namespace": f"{prefix}-dev"}, secret)  # fmt: skip
            created.append("dev")
            stacks.up("dev")
            stacks.init("staging", {**common, "traderx:namespace": f"{prefix}-staging"}, secret)
            created.append("staging")
            stacks.up("staging")
            pins = stacks.outputs("staging")["unitRevisions"]
            stacks.init(
                "prod",
                {**common, "traderx:namespace": f"{prefix}-prod", "traderx:promote": pins,
                 "traderx:release": {"name": "R1"}},
                {**secret, "traderx:databasePassword": secrets.token_hex(8)},
            )  # fmt: skip
            created.append("prod")
            stacks.up("prod")
            for svc in MOVED:
                stacks.set("dev", f'traderx:services["{svc}"]["image"]["tag"]', "1.1.0")
            stacks.up("dev")
            dev = stacks.outputs("dev")["unitRevisions"]
            for svc in MOVED:
                stacks.set("staging", f'traderx:promote["{svc}"]', dev[svc])
            stacks.up("staging")
            staging = stacks.outputs("staging")
            for svc in MOVED:
                stacks.set("prod", f'traderx:promote["{svc}"]', staging["unitRevisions"][svc])
            stacks.set("prod", "traderx:release", {"name": "R2", "source": staging["release"]})
            stacks.up("prod")
            stacks.run("config", "rm", "traderx:release", stack="prod")
            args = ("--prefix", prefix, "--project-dir", str(project))
            # the whole prod first (R2 → R1: two units, one a JVM service), then one unit
            watch.start()
            at = time.monotonic()
            env_s, whole = cli(env, project, "rollback", "env", "prod", "--to", "R1", *args)
            # the floor: what the start order must wait for, the new pods' readiness per tier
            env_floor = tier_sum(watch.readiness(f"{prefix}-prod", at))
            at = time.monotonic()
            unit_s, unit = cli(env, project, "rollback", "unit", "prod", "trade-service",
                               "--to", "-1", "--prefix", prefix)  # fmt: skip
            unit_floor = watch.readiness(f"{prefix}-prod", at).get("trade-service", 0.0)
            warm = warm_rollback(env, project, stacks, cluster, prefix, watch)
            figures = {
                "readiness": "traderx",
                "single_unit_rollback_s": round(unit_s, 1),
                "single_unit_goal_s": 10,
                "single_unit_design_rto_s": 30,
                "prod_rollback_s": round(env_s, 1),
                "prod_rollback_phases_s": whole["seconds"],
                "prod_rollback_units_restored": sorted(whole["restored"]),
                "prod_rollback_goal_s": 120,
                "prod_rollback_design_rto_s": 900,
                "unit_report": {k: unit[k] for k in ("previousHead", "head", "live", "surged")},
                # the same rollback while blue-green keeps the previous version warm
                "warm_slot_unit_rollback": warm,
                # the slowest new pod's readiness (single unit) and the tier sum (whole prod)
                "single_unit_floor_s": round(unit_floor, 1),
                "prod_rollback_floor_s": round(env_floor, 1),
                "ratios": {
                    "single_unit_to_floor": round(unit_s / unit_floor, 2) if unit_floor else None,
                    "prod_rollback_to_floor": round(env_s / env_floor, 2) if env_floor else None,
                },
                "pod_watch_error": watch.error,
                "deploy_timings_s": {k: round(v, 1) for k, v in stacks.timings.items()},
            }
        finally:
            watch.stop()
            if "prod" in created:  # the rollout's units are ConfigHub's: removed before prod
                subprocess.run([str(TRADERX), "rollout", "clean", "--prefix", prefix],
                               cwd=project, env=env, capture_output=True, check=False)  # fmt: skip
            for e in reversed(created):
                try:
                    if e == "prod":
                        stacks.unprotect(e)
                    stacks.destroy(e)
                except Exception as exc:
                    figures.setdefault("teardown_errors", []).append(str(exc)[-500:])
            server.stop()
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
