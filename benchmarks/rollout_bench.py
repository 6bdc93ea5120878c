"""Rollout timings (issue #14): blue-green switch time, switch-back time after a late failure,
and canary abort time from failure to weight 0 (goal: under 15 s; Flagger's nginx e2e test
uses 15 s x 5 checks, about 75 s).

Real engine (dev, staging, prod from empty), the local server with the official worker, and a
kwok cluster with the failure stages (the shared one if it runs in `simulate` readiness, else
its own); the failure is injected by labelling the new revision's pods
`traderx.finos.org/simulate=unready-after` (tests/e2e/rollout_flow.py). Health is polled every
0.3 s. Run: `source toolchain/env.sh && .venv/bin/python benchmarks/rollout_bench.py`.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.e2e import rollout_flow as rf  # noqa: E402
from tests.support.toolchain import load_toolchain  # noqa: E402

GOALS = {"canary_abort_s": 15}
FAST = ["--interval", "0.3", "--ready-timeout", "30", "--check-command", "true"]


def _event(result: dict[str, Any], name: str) -> float:
    return float(next(h["at"] for h in result["history"] if h["event"] == name))


def main() -> int:
    tc = load_toolchain()
    if isinstance(tc, str):
        print(f"cannot benchmark: {tc}", file=sys.stderr)
        return 2
    results: dict[str, Any] = {}
    with (
        tempfile.TemporaryDirectory(prefix="rollout-bench-") as tmp,
        rf.deployed(Path(tmp), tc.env) as flow,
    ):
        # canary abort: failure injected while at 25 %, until the weight-0 revision is applied
        proc = rf.start(flow, "canary", "--image", f"{rf.IMAGE}:1.0.1", "--pause", "30", *FAST)
        rf.wait("canary at 25 %", lambda: rf.canary_weight(flow) == 25, 120, proc)
        failed = rf.inject_failure(
            flow, "app.kubernetes.io/name=trade-service,traderx.finos.org/track=canary"
        )
        code, out, _ = rf.finish(proc)
        aborted = json.loads(out)
        assert code == 1 and aborted["state"]["phase"] == "Aborted", out
        results["canary_abort_s"] = round(
            _event(aborted, "canary at weight 0, scaled to 0") - failed, 2
        )
        results["canary_removed_s"] = round(_event(aborted, "canary removed") - failed, 2)

        # blue-green switch: the Service revision applied by the worker (validation done)
        proc = rf.start(flow, "bluegreen", "--image", f"{rf.IMAGE}:1.0.2", "--delay", "30", *FAST)
        rf.wait("traffic on blue", lambda: rf.service_slot(flow) == "blue", 120, proc)
        failed = rf.inject_failure(
            flow, "app.kubernetes.io/name=trade-service,traderx.finos.org/slot=blue"
        )
        code, out, _ = rf.finish(proc)
        switched = json.loads(out)
        assert code == 1 and switched["state"]["phase"] == "SwitchedBack", out
        validated = _event(switched, "phase Warm")
        results["bluegreen_switch_s"] = round(_event(switched, "traffic on blue") - validated, 2)
        results["bluegreen_switch_back_s"] = round(
            _event(switched, "traffic on stable") - failed, 2
        )
        started = time.monotonic()
        rf.log("tearing down")
    results["teardown_s"] = round(time.monotonic() - started, 1)
    results["goals"] = GOALS
    results["flagger_nginx_e2e_rollback_s"] = 75
    print(json.dumps(results, indent=2))
    return 0 if results["canary_abort_s"] < GOALS["canary_abort_s"] else 1


if __name__ == "__main__":
    sys.exit(main())
