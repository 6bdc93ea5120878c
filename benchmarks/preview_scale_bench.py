"""Preview scaling (issue #11): `pulumi preview` of N regions x 3 environments, from empty.

The program is benchmarks/scale_program: per region the whole layout of the dev, staging and
prod stacks, declared with the real components (44 units, about 150 resources a region). For
each N (default 1, 5, 10, 20) a fresh stack is previewed against one local ConfigHub server
and the local kwok cluster (the kubernetes provider's previews), and this records:

- wall time of `pulumi preview`, and the resources (create steps) and units it planned;
- peak memory: the largest sum of resident memory over the whole process tree (CLI engine,
  language host, program, dynamic-provider and kubernetes-provider processes), sampled every
  20 ms from /proc, and the largest single process;
- per-unit figures (ms and MiB per unit), and the marginal cost per unit between consecutive
  sizes, so linearity is visible: a linear preview keeps the marginal ms/unit flat.

The previews run with `PULUMI_SKIP_CHECKPOINTS=true` (what the project's own previews should
use, see benchmarks/README.md): without it this engine version serializes the whole planned
snapshot after every step of a preview too, which makes the CLI's time quadratic and its
memory about 0.9 MiB per resource. `--engine-checkpoints` measures that default instead.

Run: `make bench`, or `source toolchain/env.sh && .venv/bin/python benchmarks/preview_scale_bench.py
[--regions 1,5,10,20]`. Prints one JSON object. Needs the toolchain and a running cluster
(`make cluster-up`); everything else is throwaway.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from operator_cli.stacks import init_stack, pulumi_cli  # noqa: E402
from tests.support.procs import child_pids  # noqa: E402
from tests.support.server import ServerProcess  # noqa: E402
from tests.support.toolchain import load_cluster, load_toolchain  # noqa: E402

PROGRAM = ROOT / "benchmarks" / "scale_program" / "__main__.py"
LINKED = ("components", "benchmarks", "tests", ".venv")
UNITS_PER_REGION = 4 * 11  # base + dev + staging + prod, 11 units each
MEMORY_GOAL_MIB = 1024


def log(message: str) -> None:
    print(f"[scale] {time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)


class TreeMemory:
    """Peak resident memory of a process and all its descendants, sampled from /proc."""

    def __init__(self, pid: int, every: float = 0.02) -> None:
        self.pid, self.every = pid, every
        self.peak_total_kib = 0
        self.peak_process_kib = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _tree(self) -> list[int]:
        pids, todo = [], [self.pid]
        while todo:
            pid = todo.pop()
            pids.append(pid)
            todo.extend(child_pids(pid))
        return pids

    @staticmethod
    def _rss_kib(pid: int) -> int:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        except OSError:
            pass
        return 0

    def _run(self) -> None:
        while not self._stop.is_set():
            sizes = [self._rss_kib(p) for p in self._tree()]
            self.peak_total_kib = max(self.peak_total_kib, sum(sizes))
            self.peak_process_kib = max(self.peak_process_kib, max(sizes, default=0))
            self._stop.wait(self.every)


def project(work: Path) -> Path:
    """A Pulumi project around the scale program, running this checkout's code."""
    proj = work / "scale-project"
    proj.mkdir(parents=True)
    shutil.copy(PROGRAM, proj / "__main__.py")
    for name in LINKED:
        (proj / name).symlink_to(ROOT / name)
    (proj / "Pulumi.yaml").write_text(
        "name: traderx-scale\nruntime:\n  name: python\n  options:\n"
        f"    toolchain: pip\n    virtualenv: {ROOT / '.venv'}\n"
    )
    return proj


def pulumi(env: dict[str, str], cwd: Path, *args: str) -> str:
    proc = pulumi_cli(cwd, env, *args, timeout=1200)
    if proc.returncode != 0:
        tail = f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        raise RuntimeError(f"pulumi {' '.join(args)} failed:\n{tail}")
    return proc.stdout


def preview(env: dict[str, str], cwd: Path, regions: int) -> dict[str, Any]:
    stack = f"scale-{regions}"
    init_stack(cwd, stack, env)  # as the project creates stacks (one at a time here)
    pulumi(env, cwd, "config", "set", "--stack", stack, "scale:regions", str(regions))
    cmd = ["pulumi", "preview", "--json", "--non-interactive", "--stack", stack]
    started = time.monotonic()
    proc = subprocess.Popen(
        cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    with TreeMemory(proc.pid) as memory:
        out, err = proc.communicate(timeout=1200)
    wall = time.monotonic() - started
    if proc.returncode != 0:
        raise RuntimeError(f"preview of {regions} regions failed:\n{out[-3000:]}\n{err[-3000:]}")
    steps = json.loads(out).get("steps") or []
    creates = sum(1 for s in steps if s.get("op") == "create")
    units = sum(1 for s in steps if "dynamic/confighub:Unit::" in s.get("urn", ""))
    pulumi(env, cwd, "stack", "rm", "--yes", "--force", "--stack", stack)
    return {
        "regions": regions,
        "environments": 3 * regions,
        "units": units,
        "resources_to_create": creates,
        "wall_s": round(wall, 2),
        "peak_rss_total_mib": round(memory.peak_total_kib / 1024, 1),
        "peak_rss_largest_process_mib": round(memory.peak_process_kib / 1024, 1),
        "ms_per_unit": round(1000 * wall / units, 1) if units else None,
        "mib_per_unit": round(memory.peak_total_kib / 1024 / units, 2) if units else None,
    }


def linearity(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Marginal cost per added unit between consecutive sizes, and a least-squares line."""
    marginal = [
        {
            "from_regions": a["regions"],
            "to_regions": b["regions"],
            "ms_per_added_unit": round(1000 * (b["wall_s"] - a["wall_s"]) / added, 1),
            "mib_per_added_unit": round(
                (b["peak_rss_total_mib"] - a["peak_rss_total_mib"]) / added, 2
            ),
        }
        for a, b in itertools.pairwise(rows)
        if (added := b["units"] - a["units"]) > 0
    ]
    xs = [r["units"] for r in rows]
    ys = [r["wall_s"] for r in rows]
    n = len(rows)
    fit: dict[str, Any] = {}
    if n >= 2 and len(set(xs)) > 1:
        mx, my = sum(xs) / n, sum(ys) / n
        slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum(
            (x - mx) ** 2 for x in xs
        )
        intercept = my - slope * mx
        ss_res = sum((y - (intercept + slope * x)) ** 2 for x, y in zip(xs, ys, strict=True))
        ss_tot = sum((y - my) ** 2 for y in ys) or 1.0
        fit = {
            "wall_s_fixed": round(intercept, 2),
            "ms_per_unit": round(1000 * slope, 1),
            "r_squared": round(1 - ss_res / ss_tot, 4),
        }
    return {"marginal": marginal, "wall_fit": fit}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--regions", default="1,5,10,20")
    parser.add_argument(
        "--engine-checkpoints",
        action="store_true",
        help="leave PULUMI_SKIP_CHECKPOINTS unset (the engine's default, quadratic in a preview)",
    )
    args = parser.parse_args(argv)
    sizes = sorted({int(x) for x in args.regions.split(",") if x.strip()})
    tc = load_toolchain()
    if isinstance(tc, str):
        print(f"cannot benchmark: {tc}", file=sys.stderr)
        return 2
    cluster = load_cluster(tc.env)
    if isinstance(cluster, str):
        print(f"cannot benchmark: {cluster} (make cluster-up)", file=sys.stderr)
        return 2
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="preview-scale-") as tmp:
        work = Path(tmp)
        (work / "hub").mkdir()
        hub = ServerProcess(work / "hub")
        hub.start()
        try:
            env = {
                **os.environ,
                **tc.env,
                "PULUMI_BACKEND_URL": f"file://{work}/state?metadata=skip",
                "PULUMI_CONFIG_PASSPHRASE": secrets.token_hex(8),
                "PULUMI_SKIP_UPDATE_CHECK": "true",
                "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
                "CONFIGHUB_URL": hub.url,
                "CONFIGHUB_TOKEN": hub.token,
                "KUBECONFIG": str(cluster.kubeconfig),
                "TRADERX_SCALE_KUBE_CONTEXT": cluster.context,
            }
            env.pop("PULUMI_CONFIG_PASSPHRASE_FILE", None)
            if args.engine_checkpoints:
                env.pop("PULUMI_SKIP_CHECKPOINTS", None)
            else:
                env["PULUMI_SKIP_CHECKPOINTS"] = "true"
            (work / "state").mkdir()
            cwd = project(work)
            for n in sizes:
                log(f"preview of {n} region(s) x 3 environments")
                rows.append(preview(env, cwd, n))
                log(json.dumps(rows[-1]))
        finally:
            hub.stop()
    largest = max(rows, key=lambda r: r["regions"])
    result = {
        "skip_checkpoints": not args.engine_checkpoints,
        "sizes": rows,
        "linearity": linearity(rows),
        "goal": {
            "peak_memory_under_mib": MEMORY_GOAL_MIB,
            "largest_regions": largest["regions"],
            "peak_rss_total_mib": largest["peak_rss_total_mib"],
            "met": largest["peak_rss_total_mib"] < MEMORY_GOAL_MIB,
        },
    }
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
