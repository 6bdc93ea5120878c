"""Wall time of a three-environment deploy from empty, and of a no-op `up`.

Real engine, local ConfigHub server (with its bridge worker) and the local kwok cluster, on a
throwaway Pulumi file backend and unique prefix/namespaces; everything is destroyed at the end.
Run: `source toolchain/env.sh && make cluster-up && .venv/bin/python benchmarks/deploy_bench.py`.
Prints one JSON object of measured seconds and ConfigHub call counts.
"""

from __future__ import annotations

import json
import secrets
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from components.model.catalog import SERVICE_NAMES  # noqa: E402
from tests.e2e.driver import Stacks, base_env, make_project  # noqa: E402
from tests.support.server import ServerProcess  # noqa: E402
from tests.support.toolchain import load_cluster, load_toolchain, toolchain_env  # noqa: E402

ENVS = ("dev", "staging", "prod")


def main() -> int:
    tc = load_toolchain()
    cluster = load_cluster(toolchain_env())
    if isinstance(tc, str) or isinstance(cluster, str):
        print(f"cannot benchmark: {tc if isinstance(tc, str) else cluster}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="deploy-bench-") as tmp:
        work = Path(tmp)
        (work / "hub").mkdir()
        hub = ServerProcess(work / "hub", ["--kubeconfig", str(cluster.kubeconfig)])
        hub.start()
        prefix = f"bench{secrets.token_hex(3)}"
        (work / "state").mkdir()
        env = base_env(tc.env, f"file://{work}/state", hub.url, hub.token, str(cluster.kubeconfig))
        stacks = Stacks(make_project(work), env, work / "calls.jsonl")
        common = {
            "traderx:kubeconfig": str(cluster.kubeconfig),
            "traderx:kubeContext": cluster.context,
            "confighub:url": hub.url,
        }
        results: dict[str, float | int] = {}
        try:
            stacks.init(
                "dev",
                {**common, "traderx:prefix": prefix, "traderx:namespace": f"{prefix}-dev"},
                {},
            )
            stacks.init("staging", {**common, "traderx:namespace": f"{prefix}-staging"}, {})
            t0 = time.monotonic()
            stacks.up("dev")
            stacks.up("staging")
            revisions = stacks.outputs("staging")["unitRevisions"]
            t_cfg = time.monotonic()
            stacks.init(
                "prod",
                {
                    **common,
                    "traderx:namespace": f"{prefix}-prod",
                    "traderx:promote": {s: revisions[s] for s in SERVICE_NAMES},
                },
                {"traderx:databasePassword": secrets.token_hex(12)},
            )
            config_time = time.monotonic() - t_cfg
            stacks.up("prod")
            results["deploy_3_envs_from_empty_s"] = round(time.monotonic() - t0 - config_time, 1)
            for e in ENVS:
                results[f"up_{e}_from_empty_s"] = round(stacks.timings[f"up {e}"], 1)
            t1 = time.monotonic()
            mark = stacks.call_mark()
            for e in ENVS:
                stacks.up(e, "--expect-no-changes")
                results[f"noop_up_{e}_s"] = round(stacks.timings[f"up {e}"], 1)
            results["noop_up_3_envs_s"] = round(time.monotonic() - t1, 1)
            calls = stacks.calls_since(mark)
            results["noop_confighub_writes"] = calls.writes
            results["noop_confighub_reads"] = calls.reads
        finally:
            for e in reversed(ENVS):
                try:
                    if e == "prod":  # protected: the documented teardown (docs/program.md)
                        stacks.unprotect(e)
                    stacks.destroy(e)
                except Exception as exc:  # report, keep tearing down
                    print(f"destroy {e} failed: {str(exc)[:500]}", file=sys.stderr)
            hub.stop()
        print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
