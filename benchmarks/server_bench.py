"""Benchmark of the local ConfigHub server; prints measured figures.

- create and update throughput (sequential, one keep-alive connection);
- list-with-where over 10,000 units through HTTP versus the same SQL run directly on the
  SQLite file (the where translator's own output), median of repeated runs, and the ratio;
- apply round trip over the official worker's wire protocol (h2c SSE stream + action_result,
  tests/support/sdk_worker.py) with a no-op executor: the server and protocol overhead;
- with a cluster (--kubeconfig / $KUBECONFIG): apply round trip through ConfigHub's official
  bridge worker (`cub-worker kubernetes`, server-side apply + kstatus wait) of a 2-replica
  Deployment with a new image each time, until the worker reports it available.

Usage: python benchmarks/server_bench.py [--units 10000] [--updates 1000] [--repeat 15]
       python benchmarks/server_bench.py --apply-only     # just the two apply figures
"""

from __future__ import annotations

import argparse
import base64
import os
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import subprocess  # noqa: E402

from confighub_local.where import compile_where  # noqa: E402
from tests.support.sdk_worker import Outcome, SdkWorker  # noqa: E402
from tests.support.server import ServerProcess, official_worker  # noqa: E402

TIERS = ("backend", "frontend", "data", "ops")
DOC = """\
apiVersion: apps/v1
kind: Deployment
metadata: {{name: svc-{i}, namespace: bench}}
spec:
  replicas: 1
  template:
    spec:
      containers: [{{name: svc-{i}, image: 'ghcr.io/example/svc:{i}'}}]
"""


class NoopExecutor:
    def apply(self, data: bytes) -> Outcome:
        return Outcome(True, "ApplyCompleted", "noop")

    def destroy(self, data: bytes) -> Outcome:
        return Outcome(True, "DestroyCompleted", "noop")

    def refresh(self, data: bytes) -> Outcome:
        return Outcome(True, "RefreshAndNoDrift", "noop")


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def median_ms(fn: Any, repeat: int) -> float:
    fn()  # warm-up
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--units", type=int, default=10_000)
    parser.add_argument("--updates", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--applies", type=int, default=30)
    parser.add_argument("--cluster-applies", type=int, default=10)
    parser.add_argument(
        "--apply-only", action="store_true", help="skip the create/update/list figures"
    )
    parser.add_argument(
        "--kubeconfig",
        default=os.environ.get("KUBECONFIG"),
        help="also time applies of a Deployment to this cluster (default: $KUBECONFIG)",
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="confighub-bench-") as tmp:
        server = ServerProcess(Path(tmp))
        server.start()
        try:
            run(server, args)
        finally:
            server.stop()


def run(server: ServerProcess, args: argparse.Namespace) -> None:
    with server.client(timeout=60.0) as c:
        space = c.post("/space", json={"Slug": "bench"}).json()
        sid = space["SpaceID"]
        if not args.apply_only:
            crud_and_lists(c, server, sid, args)
        apply_round_trips(c, server, sid, args.applies)
        if args.kubeconfig:
            cluster_round_trips(c, server, sid, args.kubeconfig, args.cluster_applies)
        else:
            print("cluster apply round trip: skipped (no --kubeconfig / KUBECONFIG)")


def crud_and_lists(c: Any, server: ServerProcess, sid: str, args: argparse.Namespace) -> None:
    ids = []
    start = time.perf_counter()
    for i in range(args.units):
        resp = c.post(
            f"/space/{sid}/unit",
            json={
                "Slug": f"svc-{i}",
                "ToolchainType": "Kubernetes/YAML",
                "Data": b64(DOC.format(i=i)),
                "Labels": {"tier": TIERS[i % 4], "order": str(i % 100)},
            },
        )
        resp.raise_for_status()
        ids.append(resp.json()["UnitID"])
    created = time.perf_counter() - start
    print(
        f"create: {args.units} units in {created:.1f}s = {args.units / created:.0f} units/s "
        f"({created / args.units * 1000:.2f} ms each)"
    )

    start = time.perf_counter()
    for i, uid in enumerate(ids[: args.updates]):
        resp = c.patch(
            f"/space/{sid}/unit/{uid}",
            json={"Data": b64(DOC.format(i=i) + "# v2\n")},
            headers={"Content-Type": "application/merge-patch+json"},
        )
        resp.raise_for_status()
    updated = time.perf_counter() - start
    print(
        f"update: {args.updates} data updates in {updated:.1f}s = "
        f"{args.updates / updated:.0f} updates/s ({updated / args.updates * 1000:.2f} ms "
        "each, each a new revision)"
    )

    raw = sqlite3.connect(f"file:{server.db_path}?mode=ro", uri=True)
    raw.execute("PRAGMA case_sensitive_like=ON")
    queries = [
        ("narrow", "Labels.tier = 'data' AND Labels.order = '42'"),
        ("medium", "Labels.tier = 'backend' AND Labels.order IN ('1', '2', '3', '4', '5')"),
        ("revisions", "HeadRevisionNum > LiveRevisionNum AND HeadRevisionNum > 1"),
        ("wide", "Labels.tier = 'backend'"),
    ]
    print(f"list-with-where over {args.units} units (median of {args.repeat}):")
    for name, where in queries:
        compiled = compile_where(where, "Unit")
        sql = (
            f"SELECT e.cursor, e.doc FROM entities e {compiled.join_sql()} "
            f"WHERE e.kind = 'Unit' AND e.space_id = ? AND ({compiled.sql}) "
            "ORDER BY e.cursor"
        )
        params = [sid, *compiled.params]
        count = len(raw.execute(sql, params).fetchall())
        http_count = len(c.get(f"/space/{sid}/unit", params={"where": where}).json())
        assert count == http_count, (name, count, http_count)

        def via_http(where: str = where) -> None:
            c.get(f"/space/{sid}/unit", params={"where": where}).raise_for_status()

        def via_sql(sql: str = sql, params: list[Any] = params) -> None:
            raw.execute(sql, params).fetchall()

        http_ms = median_ms(via_http, args.repeat)
        sql_ms = median_ms(via_sql, args.repeat)
        print(
            f"  {name:9} {count:5} rows: HTTP {http_ms:7.1f} ms, raw SQL {sql_ms:7.1f} ms, "
            f"ratio {http_ms / sql_ms:4.2f}x   where: {where}"
        )
    raw.close()


def apply_round_trips(c: Any, server: ServerProcess, sid: str, count: int) -> None:
    worker = c.post(f"/space/{sid}/bridge_worker", json={"Slug": "bench-worker"}).json()
    target = c.post(
        f"/space/{sid}/target",
        json={
            "Slug": "bench-target",
            "BridgeWorkerID": worker["BridgeWorkerID"],
            "ProviderType": "Kubernetes",
            "ToolchainType": "Kubernetes/YAML",
        },
    ).json()
    executor = NoopExecutor()
    runner = SdkWorker(
        server.url, worker["BridgeWorkerID"], worker["Secret"], lambda params: executor
    )
    thread = threading.Thread(target=runner.run, daemon=True)
    thread.start()
    unit = c.post(
        f"/space/{sid}/unit",
        json={
            "Slug": "bench-apply",
            "ToolchainType": "Kubernetes/YAML",
            "Data": b64(DOC.format(i=0)),
            "TargetID": target["TargetID"],
        },
    ).json()
    uid = unit["UnitID"]
    samples = []
    for _ in range(count):
        start = time.perf_counter()
        got = wait_operation(c, sid, uid, c.post(f"/space/{sid}/unit/{uid}/apply").json())
        assert got["Status"] == "Completed", got
        samples.append((time.perf_counter() - start) * 1000)
    runner.shutdown()
    print(
        f"apply round trip (queue -> h2c SSE -> SDK-protocol worker -> action_result -> "
        f"Completed, no-op executor, {count} runs): median {statistics.median(samples):.1f} ms, "
        f"p90 {sorted(samples)[int(count * 0.9) - 1]:.1f} ms"
    )


CLUSTER_DOC = """\
apiVersion: v1
kind: Namespace
metadata: {{name: {ns}}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: bench, namespace: {ns}}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: bench}}}}
  template:
    metadata: {{labels: {{app: bench}}}}
    spec:
      containers: [{{name: bench, image: 'nginx:1.{n}'}}]
"""


CONFIG_MAP_DOC = """\
apiVersion: v1
kind: ConfigMap
metadata: {{name: bench-cm, namespace: {ns}}}
data: {{n: '{n}'}}
"""


def cluster_round_trips(
    c: Any, server: ServerProcess, sid: str, kubeconfig: str, count: int
) -> None:
    """Apply a Deployment (new image each time) through the official cub-worker and wait for
    Completed, which it reports only once kstatus sees the Deployment available."""
    binary = official_worker()
    if binary is None:
        print("cluster apply round trip: skipped (no cub-worker: run `make bootstrap`)")
        return
    worker = c.post(f"/space/{sid}/bridge_worker", json={"Slug": "bench-kube"}).json()
    target = c.post(
        f"/space/{sid}/target",
        json={
            "Slug": "bench-kube",
            "BridgeWorkerID": worker["BridgeWorkerID"],
            "ProviderType": "Kubernetes",
            "ToolchainType": "Kubernetes/YAML",
            "Parameters": '{"WaitTimeout": "60s"}',
        },
    ).json()
    env = {
        **os.environ,
        "CONFIGHUB_URL": "http://127.0.0.1",
        "CONFIGHUB_WORKER_PORT": str(server.port),
        "CONFIGHUB_WORKER_ID": worker["BridgeWorkerID"],
        "CONFIGHUB_WORKER_SECRET": worker["Secret"],
        "KUBECONFIG": kubeconfig,
    }
    proc = subprocess.Popen(
        [binary, "kubernetes"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    ns = f"bench-{int(time.time())}"
    unit = c.post(
        f"/space/{sid}/unit",
        json={
            "Slug": "bench-kube",
            "ToolchainType": "Kubernetes/YAML",
            "Data": b64(CLUSTER_DOC.format(ns=ns, n=0)),
            "TargetID": target["TargetID"],
        },
    ).json()
    uid = unit["UnitID"]
    samples = []
    try:
        first = wait_operation(c, sid, uid, c.post(f"/space/{sid}/unit/{uid}/apply").json())
        assert first["Status"] == "Completed", first  # namespace + first rollout, not timed
        for n in range(1, count + 1):
            c.patch(
                f"/space/{sid}/unit/{uid}",
                json={"Data": b64(CLUSTER_DOC.format(ns=ns, n=n))},
                headers={"Content-Type": "application/merge-patch+json"},
            ).raise_for_status()
            start = time.perf_counter()
            got = wait_operation(c, sid, uid, c.post(f"/space/{sid}/unit/{uid}/apply").json())
            assert got["Status"] == "Completed", got
            samples.append((time.perf_counter() - start) * 1000)
        # a unit with nothing to roll out (a ConfigMap): the worker's own overhead
        cm_samples = []
        cm = c.post(
            f"/space/{sid}/unit",
            json={
                "Slug": "bench-kube-cm",
                "ToolchainType": "Kubernetes/YAML",
                "Data": b64(CONFIG_MAP_DOC.format(ns=ns, n=0)),
                "TargetID": target["TargetID"],
            },
        ).json()
        for n in range(1, count + 1):
            c.patch(
                f"/space/{sid}/unit/{cm['UnitID']}",
                json={"Data": b64(CONFIG_MAP_DOC.format(ns=ns, n=n))},
                headers={"Content-Type": "application/merge-patch+json"},
            ).raise_for_status()
            start = time.perf_counter()
            op = c.post(f"/space/{sid}/unit/{cm['UnitID']}/apply").json()
            got = wait_operation(c, sid, cm["UnitID"], op)
            assert got["Status"] == "Completed", got
            cm_samples.append((time.perf_counter() - start) * 1000)
        wait_operation(
            c, sid, cm["UnitID"], c.post(f"/space/{sid}/unit/{cm['UnitID']}/destroy").json()
        )
        wait_operation(c, sid, uid, c.post(f"/space/{sid}/unit/{uid}/destroy").json())
    finally:
        proc.terminate()
        proc.wait(15)
    print(
        f"cluster apply round trip through the official cub-worker, a ConfigMap ({count} runs): "
        f"median {statistics.median(cm_samples):.0f} ms, max {max(cm_samples):.0f} ms"
    )
    print(
        f"cluster apply round trip through the official cub-worker (server-side apply of a "
        f"2-replica Deployment with a new image + kstatus wait until available, {count} runs): "
        f"median {statistics.median(samples):.0f} ms, min {min(samples):.0f} ms, "
        f"max {max(samples):.0f} ms"
    )


def wait_operation(c: Any, sid: str, uid: str, op: dict[str, Any]) -> dict[str, Any]:
    while True:
        got: dict[str, Any] = c.get(
            f"/space/{sid}/unit/{uid}/unit_action/{op['QueuedOperationID']}"
        ).json()
        if got["Status"] in ("Completed", "Failed"):
            return got
        time.sleep(0.002)


if __name__ == "__main__":
    main()
