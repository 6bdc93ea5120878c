"""Deploy speed against the design's sequential flow, the engine floor and the critical path.

In one run, per readiness mode (`instant`: kwok's built-in stages; `traderx`: startup delays
like TraderX's, toolchain/kwok/), on one local ConfigHub server and one cluster:

- flow: the design's sequential flow replayed as API calls, one at a time (design_flow.py);
- program: `pulumi up` of dev, staging and prod from empty (the sum of the three ups);
- critical path: per environment the sum over the tiers of the slowest readiness measured in
  the program's deploy (pod created -> Ready, from watch events), summed over environments;
  also the dependency graph's longest path;
- floor: the same resource graphs as trivial dynamic resources (engine_floor.py), from empty
  and as no-op ups; for staging and prod also the floor that keeps the StackReference (a real
  read of the upstream's floor stack), as an additional figure;
- no-op `up` of each stack (median of paired runs, with the ConfigHub calls they made) and a
  one-image change in dev (trade-service).

Each mode runs on a cluster of its own (`traderx-bench-<mode>`, or TRADERX_BENCH_<MODE>_CLUSTER),
started in that readiness mode and stopped again unless it was already running. Everything
else is throwaway: a fresh server, file backend and prefixes; stacks are destroyed and flow
namespaces deleted at the end.

Run: `make bench`, or `source toolchain/env.sh && .venv/bin/python benchmarks/deploy_bench.py
[--modes instant,traderx] [--repeat 3]`. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_support import (  # noqa: E402
    ENVS,
    PodWatch,
    longest_path,
    rendered_base_units,
    rendered_units,
    stack_settings,
    tier_sum,
)
from benchmarks.design_flow import DesignFlow  # noqa: E402
from benchmarks.engine_floor import floor_stacks  # noqa: E402
from components.confighub.client import ConfigHubClient  # noqa: E402
from components.confighub.connection import ConnectionSettings  # noqa: E402
from components.model.catalog import SERVICE_NAMES  # noqa: E402
from tests.e2e.driver import Stacks, base_env, make_project  # noqa: E402
from tests.support.server import ServerProcess  # noqa: E402
from tests.support.toolchain import (  # noqa: E402
    TOOLCHAIN_DIR,
    KubeCluster,
    load_cluster,
    load_toolchain,
)

CHANGED_SERVICE = "trade-service"
UPSTREAM = {"staging": "dev", "prod": "staging"}  # whose stack each one's StackReference reads
GOALS = {
    "noop_over_floor_max": 1.3,
    "traderx_deploy_over_floor_plus_critical_path_max": 1.15,
    "instant_deploy_over_flow_max": 1.0,
}


def log(message: str) -> None:
    print(f"[bench] {time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)


def cluster_sh(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(TOOLCHAIN_DIR / "cluster.sh"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


class OwnCluster:
    """A cluster of the benchmark's own in one readiness mode (started here unless running).

    Not the shared one: other test runs would share its API server and its node's pod
    capacity, and its readiness mode is whatever it was started with.
    """

    def __init__(self, base: dict[str, str], mode: str) -> None:
        name = os.environ.get(f"TRADERX_BENCH_{mode.upper()}_CLUSTER", f"traderx-bench-{mode}")
        self.env = {**base, "TRADERX_CLUSTER_NAME": name}
        self.mode = mode
        self.started = False

    def __enter__(self) -> KubeCluster:
        if cluster_sh(self.env, "status").returncode != 0:
            self.started = True
        done = cluster_sh(self.env, "up", "--readiness", self.mode)
        if done.returncode != 0:
            raise RuntimeError(
                f"cluster.sh up --readiness {self.mode} failed:\n{done.stderr[-2000:]}"
            )
        kubeconfig = done.stdout.strip().splitlines()[-1]
        found = load_cluster({**self.env, "KUBECONFIG": kubeconfig})
        if isinstance(found, str):
            raise RuntimeError(found)
        return found

    def __exit__(self, *_exc: object) -> None:
        if self.started:
            cluster_sh(self.env, "down")


class Run:
    """One readiness mode: server, pod watch, flow, program, floor."""

    def __init__(self, mode: str, tc_env: dict[str, str], cluster: KubeCluster, work: Path):
        self.mode = mode
        self.cluster = cluster
        self.work = work
        (work / "hub").mkdir(parents=True)
        self.hub = ServerProcess(work / "hub", ["--kubeconfig", str(cluster.kubeconfig)])
        self.tc_env = tc_env
        self.out: dict[str, Any] = {}
        self.watch = PodWatch(str(cluster.kubeconfig))
        self.flow_namespaces: list[str] = []

    # ------------------------------------------------------------------ pieces

    def flow(self) -> None:
        from kubernetes import client, config

        prefix = f"flow{secrets.token_hex(3)}"
        namespaces = {e: f"{prefix}-{e}" for e in ENVS}
        self.flow_namespaces = list(namespaces.values())
        units = {
            e: rendered_units(stack_settings(e, prefix, namespaces[e], self.hub.url, "x"))
            for e in ENVS
        }
        units["base"] = rendered_base_units(
            stack_settings("dev", prefix, namespaces["dev"], self.hub.url, "x")
        )
        settings = ConnectionSettings(url=self.hub.url, token=self.hub.token)  # type: ignore[arg-type]
        chub = ConfigHubClient(settings)
        core = client.CoreV1Api(
            config.new_client_from_config(config_file=str(self.cluster.kubeconfig))
        )
        started = time.monotonic()
        log(f"{self.mode}: design flow ({prefix})")
        result = DesignFlow(chub, core, prefix, units, namespaces).run(ENVS)
        readiness = {e: self.watch.readiness(namespaces[e], started) for e in ENVS}
        self.out["flow"] = {
            **result.phases,
            "api_calls": result.api_calls,
            "kube_calls": result.kube_calls,
            "sum_of_readiness_s": round(sum(sum(r.values()) for r in readiness.values()), 1),
        }
        chub.close()

    def program(self) -> tuple[Stacks, dict[str, Any]]:
        prefix = f"bench{secrets.token_hex(3)}"
        kubeconfig = str(self.cluster.kubeconfig)
        (self.work / "state").mkdir()
        env = base_env(
            self.tc_env, f"file://{self.work}/state", self.hub.url, self.hub.token, kubeconfig
        )
        # As a user's shell runs it: Python caches the program's compiled modules. A harness's
        # PYTHONDONTWRITEBYTECODE would make every program and provider process recompile
        # components/ (about 0.05 s of each no-op `up`), which the floor, whose modules are
        # pulumi's own precompiled ones, never pays.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        self.pulumi_env = env
        stacks = Stacks(make_project(self.work), env, self.work / "calls.jsonl")
        common = {
            "traderx:kubeconfig": kubeconfig,
            "traderx:kubeContext": self.cluster.context,
            "confighub:url": self.hub.url,
        }
        namespaces = {e: f"{prefix}-{e}" for e in ENVS}
        stacks.init(
            "dev", {**common, "traderx:prefix": prefix, "traderx:namespace": namespaces["dev"]}, {}
        )
        stacks.init("staging", {**common, "traderx:namespace": namespaces["staging"]}, {})
        log(f"{self.mode}: program deploy from empty ({prefix})")
        ups: dict[str, float] = {}
        readiness: dict[str, dict[str, float]] = {}
        for e in ENVS:
            if e == "prod":
                revisions = stacks.outputs("staging")["unitRevisions"]
                stacks.init(
                    "prod",
                    {
                        **common,
                        "traderx:namespace": namespaces["prod"],
                        "traderx:promote": {s: revisions[s] for s in SERVICE_NAMES},
                    },
                    {"traderx:databasePassword": secrets.token_hex(12)},
                )
            started = time.monotonic()
            stacks.up(e)
            ups[e] = round(stacks.timings[f"up {e}"], 2)
            readiness[e] = self.watch.readiness(namespaces[e], started)
        cp = {e: round(tier_sum(readiness[e]), 1) for e in ENVS}
        self.out["program"] = {
            "deploy_3_envs_from_empty_s": round(sum(ups.values()), 1),
            **{f"up_{e}_from_empty_s": ups[e] for e in ENVS},
        }
        self.out["critical_path"] = {
            "tier_sum_s": round(sum(cp.values()), 1),
            **{f"tier_sum_{e}_s": cp[e] for e in ENVS},
            "longest_path_s": round(sum(longest_path(readiness[e]) for e in ENVS), 1),
            "readiness_dev_s": {k: round(v, 1) for k, v in sorted(readiness["dev"].items())},
        }
        return stacks, namespaces

    def floor_and_noop(self, stacks: Stacks, repeat: int) -> None:
        """Floors from empty; then paired no-op runs (floor, floor with the StackReference,
        program) per stack (engine_floor.py says what each floor contains)."""
        states = {e: json.loads(stacks.run("stack", "export", stack=e)) for e in ENVS}
        salt = (stacks.project,)  # every floor stack shares the program's passphrase salt
        floors = {
            e: floor_stacks(self.work, self.pulumi_env, e, states[e], salt_from=salt) for e in ENVS
        }
        # staging and prod: the variant whose StackReference reads the upstream's floor stack
        ref_floors = {
            e: floor_stacks(
                self.work, self.pulumi_env, e, states[e], upstream=UPSTREAM[e], salt_from=salt
            )
            for e in ENVS
            if e in UPSTREAM
        }
        log(f"{self.mode}: engine floor from empty")
        for e in ENVS:
            floors[e].up(e)
        for e, ref_floor in ref_floors.items():
            ref_floor.up(e)
        floor_empty = {e: round(floors[e].timings[f"up {e}"], 2) for e in ENVS}
        log(f"{self.mode}: no-op ups, {repeat} paired runs per stack")
        noop: dict[str, list[float]] = {e: [] for e in ENVS}
        floor_noop: dict[str, list[float]] = {e: [] for e in ENVS}
        ref_noop: dict[str, list[float]] = {e: [] for e in ref_floors}
        mark = stacks.call_mark()
        for _ in range(repeat):
            for e in ENVS:
                floors[e].up(e, "--expect-no-changes")
                floor_noop[e].append(floors[e].timings[f"up {e}"])
                if e in ref_floors:
                    ref_floors[e].up(e, "--expect-no-changes")
                    ref_noop[e].append(ref_floors[e].timings[f"up {e}"])
                stacks.up(e, "--expect-no-changes")
                noop[e].append(stacks.timings[f"up {e}"])
        calls = stacks.calls_since(mark)
        med = {e: round(statistics.median(noop[e]), 2) for e in ENVS}
        fmed = {e: round(statistics.median(floor_noop[e]), 2) for e in ENVS}
        rmed = {e: round(statistics.median(v), 2) for e, v in ref_noop.items()}
        self.out["floor"] = {
            "from_empty_3_envs_s": round(sum(floor_empty.values()), 1),
            **{f"from_empty_{e}_s": floor_empty[e] for e in ENVS},
            **{f"noop_{e}_s": fmed[e] for e in ENVS},
            **{f"noop_{e}_with_stack_reference_s": rmed[e] for e in rmed},
        }
        self.out["noop"] = {
            **{f"noop_{e}_s": med[e] for e in ENVS},
            "confighub_writes": calls.writes,
            "confighub_reads": calls.reads,
            "runs_per_stack": repeat,
        }
        for e, ref_floor in ref_floors.items():
            ref_floor.destroy(e)
        for e in ENVS:
            floors[e].destroy(e)

    def image_change(self, stacks: Stacks, namespaces: dict[str, str]) -> None:
        log(f"{self.mode}: one-image change in dev ({CHANGED_SERVICE})")
        tag = f"bench-{secrets.token_hex(2)}"
        stacks.set("dev", f'traderx:services["{CHANGED_SERVICE}"].image.tag', tag)
        mark = stacks.call_mark()
        started = time.monotonic()
        stacks.up("dev")
        returned = time.monotonic()
        calls = stacks.calls_since(mark)
        # The health gate holds if the new pod was Ready before `up` returned; if not, say so
        # and measure its readiness anyway (up to 60 s more).
        ready_before = self.watch.readiness(namespaces["dev"], started).get(CHANGED_SERVICE)
        readiness = ready_before
        while readiness is None and time.monotonic() < returned + 60:
            time.sleep(0.5)
            readiness = self.watch.readiness(namespaces["dev"], started).get(CHANGED_SERVICE)
        self.out["image_change_dev"] = {
            "up_s": round(stacks.timings["up dev"], 2),
            "new_pod_readiness_s": None if readiness is None else round(readiness, 1),
            "new_pod_ready_when_up_returned": ready_before is not None,
            "confighub_writes": calls.writes,
        }

    def teardown(self, stacks: Stacks | None) -> None:
        if stacks is not None:
            for e in reversed(ENVS):
                try:
                    if e == "prod":
                        stacks.unprotect(e)
                    stacks.destroy(e)
                except Exception as exc:  # report, keep tearing down
                    print(f"destroy {e} failed: {str(exc)[:500]}", file=sys.stderr)
        if self.flow_namespaces:
            from kubernetes import client, config

            core = client.CoreV1Api(
                config.new_client_from_config(config_file=str(self.cluster.kubeconfig))
            )
            for ns in self.flow_namespaces:
                try:
                    core.delete_namespace(ns)
                except Exception as exc:
                    print(f"delete namespace {ns} failed: {exc}", file=sys.stderr)

    def ratios(self) -> None:
        flow = self.out["flow"]["total_s"]
        deploy = self.out["program"]["deploy_3_envs_from_empty_s"]
        floor = self.out["floor"]["from_empty_3_envs_s"]
        cp = self.out["critical_path"]["tier_sum_s"]
        r: dict[str, Any] = {
            "deploy_over_flow": round(deploy / flow, 2),
            "deploy_over_floor_plus_critical_path": round(deploy / (floor + cp), 2),
            "critical_path_over_flow_readiness": round(
                cp / self.out["flow"]["sum_of_readiness_s"], 2
            )
            if self.out["flow"]["sum_of_readiness_s"]
            else None,
        }
        r.update(self.noop_ratios())
        self.out["ratios"] = r

    def noop_ratios(self) -> dict[str, float]:
        """no-op ÷ floor per stack (the goal's ratio), and for staging and prod also ÷ the
        floor that keeps the StackReference (an additional figure, never instead)."""
        r: dict[str, float] = {}
        floor = self.out["floor"]
        for e in ENVS:
            noop = self.out["noop"][f"noop_{e}_s"]
            r[f"noop_{e}_over_floor"] = round(noop / floor[f"noop_{e}_s"], 2)
            with_ref = floor.get(f"noop_{e}_with_stack_reference_s")
            if with_ref:
                r[f"noop_{e}_over_floor_with_stack_reference"] = round(noop / with_ref, 2)
        return r

    # ------------------------------------------------------------------ all of it

    def run(self, repeat: int, with_flow: bool) -> dict[str, Any]:
        self.hub.start()
        self.watch.start()
        stacks: Stacks | None = None
        try:
            if with_flow:
                self.flow()
            stacks, namespaces = self.program()
            self.floor_and_noop(stacks, repeat)
            self.image_change(stacks, namespaces)
            if with_flow:
                self.ratios()
            else:
                self.out["ratios"] = self.noop_ratios()
        finally:
            self.watch.stop()
            self.teardown(stacks)
            self.hub.stop()
        return self.out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--modes", default="instant,traderx")
    parser.add_argument("--repeat", type=int, default=3, help="paired no-op runs per stack")
    parser.add_argument("--no-flow", action="store_true", help="skip the design flow replay")
    args = parser.parse_args(argv)
    tc = load_toolchain()
    if isinstance(tc, str):
        print(f"cannot benchmark: {tc}", file=sys.stderr)
        return 2
    results: dict[str, Any] = {"goals": GOALS}
    with tempfile.TemporaryDirectory(prefix="deploy-bench-") as tmp:
        for mode in [m.strip() for m in args.modes.split(",") if m.strip()]:
            work = Path(tmp) / mode
            if mode not in ("instant", "traderx"):
                print(f"unknown mode {mode!r} (allowed: instant, traderx)", file=sys.stderr)
                return 2
            with OwnCluster(tc.env, mode) as cluster:
                results[mode] = Run(mode, tc.env, cluster, work).run(args.repeat, not args.no_flow)
            print(json.dumps({mode: results[mode]}), file=sys.stderr, flush=True)
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
