"""Drift and restore timings against the design's goals: drift detected and corrected (a
`kubectl scale` of a dev Deployment under `traderx drift watch --interval 3`; goal: under 15 s),
and against the RTO table (section 9.1): a dev environment restored from
a backup (goal: under 1 min) and all three environments restored into an empty server (goal:
under 5 min), each until every workload is available again.

Real engine, local ConfigHub server with its worker, the local kwok cluster (with whatever
readiness delays it is configured with), a throwaway backend and unique prefix; destroyed at the
end. Flow (tests/ops/dr_flow.py): deploy three environments, back up; wipe the server's
database only (the cluster runs on) and rebuild dev, then staging and prod, with `traderx dr
rebuild ... --no-database` (`*_cluster_kept_s`; the pods must not restart); then wipe the server's
database, the cluster's Deployments and the database volumes and rebuild dev alone (timed), then
staging and prod; then everything again from empty with one `traderx dr rebuild dev staging
prod` (timed as a whole: adopted in order, deployed side by side).
On a cluster serving exec (toolchain/cluster.sh's ClusterExec) the backup holds each
environment's database data directory and every rebuild restores it (`database_*_s`).

Floors (a pod watch, pod created -> Ready): a rebuild cannot finish before its environment's
start order has: the sum over the tiers of the slowest readiness, plus the database pod's
restart on the restored files (`dev_floor_s`); side by side, the slowest environment's
(`full_floor_s`). `ratios` says how far above those floors the rebuilds are.
Run: `source toolchain/env.sh && .venv/bin/python benchmarks/restore_bench.py` (prints JSON).
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_support import PodWatch  # noqa: E402
from tests.ops import dr_flow  # noqa: E402
from tests.support.toolchain import load_cluster, load_toolchain, toolchain_env  # noqa: E402

GOALS = {
    "drift_correction_s": 15,
    "dev_restore_cluster_kept_s": 60,
    "dev_restore_s": 60,
    "full_restore_s": 300,
}


def main() -> int:
    tc = load_toolchain()
    cluster = load_cluster(toolchain_env())
    if isinstance(tc, str) or isinstance(cluster, str):
        print(f"cannot benchmark: {tc if isinstance(tc, str) else cluster}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="restore-bench-") as tmp:
        work = Path(tmp)
        flow = dr_flow.deploy(work, tc.env, Path(cluster.kubeconfig), cluster.context)
        results: dict[str, object] = {}
        watch = PodWatch(str(cluster.kubeconfig))  # pod created -> Ready, for the readiness floors
        watch.start()
        try:
            took = dr_flow.drift_correction(flow, work / "audit.jsonl", interval=3.0)
            results["drift_correction_s"] = round(took, 1)
            dr_flow.backup(flow, work / "backup")
            # the server loses its database while the cluster runs on: restore and redeploy dev;
            # the workloads must not restart (the same manifests are applied again)
            pods = dr_flow.pod_uids(flow, "dev")
            dr_flow.wipe(flow, cluster=False)
            started = time.monotonic()
            dr_flow.rebuild(flow, work / "backup", "dev", database=False)
            bad = dr_flow.unavailable(flow, "dev")
            results["dev_restore_cluster_kept_s"] = round(time.monotonic() - started, 1)
            assert not bad, bad
            results["dev_pods_restarted_cluster_kept"] = len(pods - dr_flow.pod_uids(flow, "dev"))
            started = time.monotonic()
            dr_flow.rebuild(flow, work / "backup", "staging", "prod", database=False)
            bad = [b for env in ("staging", "prod") for b in dr_flow.unavailable(flow, env)]
            results["staging_prod_restore_cluster_kept_s"] = round(time.monotonic() - started, 1)
            assert not bad, bad
            # then everything is lost: the server's database, the Deployments, the volumes
            dr_flow.wipe(flow)
            started = time.monotonic()
            dr_flow.rebuild(flow, work / "backup", "dev")
            bad = dr_flow.unavailable(flow, "dev")
            results["dev_restore_s"] = round(time.monotonic() - started, 1)
            assert not bad, bad
            results["dev_floor_s"] = round(watch.restore_floor(flow.namespace("dev"), started), 1)
            dr_flow.rebuild(flow, work / "backup", "staging", "prod")
            dr_flow.wipe(flow)
            started = time.monotonic()
            dr_flow.rebuild(flow, work / "backup", *dr_flow.ENVS)
            bad = [b for env in dr_flow.ENVS for b in dr_flow.unavailable(flow, env)]
            results["full_restore_s"] = round(time.monotonic() - started, 1)
            assert not bad, bad
            floors = {e: watch.restore_floor(flow.namespace(e), started) for e in dr_flow.ENVS}
            results["full_floor_per_env_s"] = {e: round(v, 1) for e, v in floors.items()}
            results["full_floor_s"] = round(max(floors.values()), 1)  # side by side: the slowest
            dev_s, full_s = float(results["dev_restore_s"]), float(results["full_restore_s"])  # type: ignore[arg-type]
            results["ratios"] = {
                "dev_restore_to_floor": round(dev_s / float(results["dev_floor_s"]), 2),  # type: ignore[arg-type]
                "full_restore_to_floor": round(full_s / max(floors.values()), 2),
            }
            results["pod_watch_error"] = watch.error
            results.update(flow.timings)
            results["database_in_backup"] = bool(flow.volumes)
            results["goals_s"] = GOALS
            results["met"] = {k: float(results[k]) < v for k, v in GOALS.items()}  # type: ignore[arg-type]
        finally:
            watch.stop()
            dr_flow.teardown(flow)
        print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
