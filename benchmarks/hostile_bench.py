"""Hostile-input benchmark of the local ConfigHub server (issue 12); prints measured figures.

Throws a deterministic corpus (seeded) of hostile requests at a fresh server: catastrophic
regexes over long values, out-of-range literals, clause floods, LIKE/contains wildcards,
YAML alias bombs, deep nesting and huge scalars, generated YAML text, generated function
arguments, oversized, chunked and deeply nested bodies. A probe polls /healthz throughout.

Prints: corpus size; status counts (any 5xx is reported as a failure); worst-case and median
latency of a hostile request, naming the worst; health-check latency during the attack
(median, 99th percentile, worst); and the server's memory (VmRSS baseline and VmHWM peak)
while it handles the largest body it accepts (just under the request-size limit).

Usage: python benchmarks/hostile_bench.py [--random 400] [--seed 12]
"""

from __future__ import annotations

import argparse
import base64
import json
import random
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from confighub_local.middleware import DEFAULT_MAX_BODY_BYTES  # noqa: E402
from tests.support.server import ServerProcess  # noqa: E402

MIB = 1024 * 1024
WORKLOAD = """apiVersion: apps/v1
kind: Deployment
metadata: {name: w}
spec:
  template: {spec: {containers: [{name: w, image: 'x:1'}]}}
"""
Request = tuple[str, str, str, dict[str, Any]]  # label, method, url, httpx kwargs


def b64(data: str | bytes) -> str:
    return base64.b64encode(data.encode() if isinstance(data, str) else data).decode()


def bomb(levels: int, width: int = 9, leaf: str = "lol") -> str:
    names = "abcdefghijklmnopqrstuvwxyz"
    lines = [f"a: &a [{','.join([repr(leaf)] * width)}]"]
    for i in range(1, levels):
        lines.append(f"{names[i]}: &{names[i]} [{','.join(['*' + names[i - 1]] * width)}]")
    return "\n".join(lines) + "\n"


def unit(data: str | bytes, toolchain: str = "Kubernetes/YAML", **extra: Any) -> dict[str, Any]:
    return {
        "Slug": f"h-{random.getrandbits(48):012x}",
        "ToolchainType": toolchain,
        "Data": b64(data),
        **extra,
    }


def crafted(space: str) -> list[Request]:
    """The issue's list, and its relatives."""
    u = f"/space/{space}/unit"
    out: list[Request] = []
    for pattern in ("(a+)+$", "(a|a)*b", "(a*)*$", "^(a|aa)+$", "(.*a){20}", "((a+)+)+$"):
        out.append(
            (
                f"regex {pattern}",
                "GET",
                "/unit",
                {"params": {"where": f"DisplayName ~ '{pattern}'"}},
            )
        )
        out.append(
            (f"regex ~* {pattern}", "GET", u, {"params": {"where": f"DisplayName ~* '{pattern}'"}})
        )
    for where in (
        "HeadRevisionNum = 99999999999999999999999",
        "HeadRevisionNum > -" + "9" * 5000,
        " AND ".join(["HeadRevisionNum > 0"] * 1001),
        "Slug IN (" + ",".join(["'x'"] * 5000) + ")",
        "Slug ~ DisplayName",
        "DisplayName ~ Slug",
        "Slug LIKE DisplayName",
        "Slug ~ '(?=a)'",
        r"Slug ~ '(a)\1'",
        r"Slug LIKE 'a\'",
        "UnitID = 'NOT-A-UUID'",
        "CreatedAt > 'yesterday'",
        "Slug = '" + "x" * 60_000 + "'",
    ):
        out.append((f"where {where[:40]}", "GET", "/unit", {"params": {"where": where}}))
    for text in ("_", "%", "\\", "%_%", "'"):
        out.append((f"contains {text}", "GET", u, {"params": {"contains": text}}))
    for levels in (4, 6, 9, 12):
        out.append((f"bomb {levels}", "POST", u, {"json": unit(bomb(levels))}))
        out.append(
            (
                f"bomb {levels} other toolchain",
                "POST",
                u,
                {"json": unit(bomb(levels, leaf="confighubplaceholder"), "AppConfig/YAML")},
            )
        )
    cases: tuple[tuple[str, str | bytes], ...] = (
        ("flow depth 100k", "a: " + "[" * 100_000),
        ("block depth 300", "".join(f"{' ' * i}k:\n" for i in range(300))),
        ("int 5000 digits", "a: " + "9" * 5000),
        ("recursive alias", "&a [*a]"),
        ("110k nodes", "x:\n" + "- 1\n" * 110_000),
        ("3 MiB scalar", "a: " + "x" * (3 * MIB)),
        ("not utf-8", b"a: \xff\xfe"),
    )
    for label, data in cases:
        out.append((f"yaml {label}", "POST", u, {"json": unit(data)}))
    invoke = f"/space/{space}/function/invoke"
    vet = {"FunctionInvocations": [{"FunctionName": "vet-placeholders"}]}
    out.append(
        (
            "invoke vet over bombs",
            "POST",
            invoke,
            {"params": {"where": "Slug LIKE 'h-%'"}, "json": vet},
        )
    )
    big_env = {
        "FunctionInvocations": [
            {
                "FunctionName": "set-env-var",
                "Arguments": [{"Value": "*"}, {"Value": "BIG"}, {"Value": "x" * (3 * MIB)}],
            }
        ]
    }
    out.append(
        (
            "invoke 3 MiB env",
            "POST",
            invoke,
            {"params": {"where": "Slug LIKE 'w-%'"}, "json": big_env},
        )
    )
    trig = {
        "Slug": "t-bad",
        "Event": "Mutation",
        "ToolchainType": "Kubernetes/YAML",
        "FunctionName": "vet-placeholders",
        "WhereUnit": "HeadRevisionNum = 99999999999999999999",
    }
    out.append(("trigger bad WhereUnit", "POST", f"/space/{space}/trigger", {"json": trig}))
    flt = {"Slug": "f-bad", "From": "Unit", "Where": " AND ".join(["Slug = 'x'"] * 1001)}
    out.append(("filter bad Where", "POST", f"/space/{space}/filter", {"json": flt}))
    long = {"Slug": "f-long", "From": "Unit", "Where": "Slug = '" + "x" * 70_000 + "'"}
    out.append(("filter 70k Where", "POST", f"/space/{space}/filter", {"json": long}))
    for size in (20, 49):
        body = json.dumps(unit("") | {"Data": "A" * (size * MIB)}).encode()
        out.append(
            (
                f"body {size} MiB",
                "POST",
                u,
                {"content": body, "headers": {"Content-Type": "application/json"}},
            )
        )
    deep = '{"Slug": "d", "Labels": ' + "[" * 200_000 + "]" * 200_000 + "}"
    out.append(
        (
            "json depth 200k",
            "POST",
            u,
            {"content": deep.encode(), "headers": {"Content-Type": "application/json"}},
        )
    )
    return out


_ATOMS = [
    "Slug",
    "DisplayName",
    "HeadRevisionNum",
    "UnitID",
    "Labels.x",
    "CreatedAt",
    "=",
    "!=",
    "<",
    "LIKE",
    "ILIKE",
    "~",
    "~*",
    "!~",
    "IN",
    "?",
    "AND",
    "OR",
    "IS",
    "NOT",
    "NULL",
    "(",
    ")",
    ",",
    "'",
    "''",
    "%",
    "_",
    "\\",
    "(a+)+",
    "*",
    "[",
    "{99999}",
    "99999999999999999999",
    "-1",
    "'a%'",
    "'(?i)x'",
    "'\\y'",
    "TRUE",
    "LEN(ApprovedBy)",
]
_YAML = [*"ab:&*!-[]{},?|>'\"#% \n\t09.~@`\\", "&a ", "*a", "<<: ", "\n  ", "- "]
_FUNCS = [
    "set-image-reference",
    "set-image",
    "set-replicas",
    "get-replicas",
    "get-image",
    "set-namespace",
    "set-env-var",
    "set-container-resources",
    "vet-placeholders",
    "nope",
]


def _value(rng: random.Random) -> Any:
    return rng.choice(
        [
            None,
            True,
            -(2**70),
            2**63,
            0,
            "",
            "*",
            "x" * rng.randint(0, 300),
            "250m",
            "9" * 400,
            [1, [2]],
            {"a": {"b": 1}},
            "@sha256:" + "a" * 64,
        ]
    )


def generated(space: str, count: int, rng: random.Random) -> Iterator[Request]:
    u = f"/space/{space}/unit"
    for i in range(count):
        kind = i % 4
        if kind == 0:
            where = " ".join(rng.choice(_ATOMS) for _ in range(rng.randint(1, 12)))
            yield ("random where", "GET", u, {"params": {"where": where}})
        elif kind == 1:
            text = "".join(rng.choice(_YAML) for _ in range(rng.randint(1, 80)))
            yield ("random yaml", "POST", u, {"json": unit(text)})
        elif kind == 2:
            args = [{"Value": _value(rng)} for _ in range(rng.randint(0, 5))]
            body = {
                "FunctionInvocations": [{"FunctionName": rng.choice(_FUNCS), "Arguments": args}]
            }
            yield (
                "random function",
                "POST",
                f"/space/{space}/function/invoke",
                {"params": {"where": "Slug LIKE 'w-%'", "dry_run": "true"}, "json": body},
            )
        else:
            entity = rng.choice(["unit", "trigger", "filter", "tag", "view"])
            fields = [
                "Slug",
                "ToolchainType",
                "Data",
                "Where",
                "WhereUnit",
                "Event",
                "From",
                "FunctionName",
                "Labels",
                "Arguments",
            ]
            body = {f: _value(rng) for f in rng.sample(fields, rng.randint(0, 6))}
            yield ("random body", "POST", f"/space/{space}/{entity}", {"json": body})


class Probe(threading.Thread):
    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.latencies: list[float] = []
        self.samples: list[tuple[float, float]] = []  # (start, latency)
        self.stop = threading.Event()

    def run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=30) as client:
            while not self.stop.is_set():
                start = time.perf_counter()
                client.get("/healthz")
                self.latencies.append(time.perf_counter() - start)
                self.samples.append((start, self.latencies[-1]))
                self.stop.wait(0.01)


def status(pid: int) -> dict[str, int]:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(("VmRSS:", "VmHWM:")):
            out[line.split(":")[0]] = int(line.split()[1])
    return out


def memory_of_largest_accepted_body(tmp: Path) -> None:
    """A fresh server, so its VmHWM (peak) is this request's and start-up's only."""
    (tmp / "mem").mkdir()
    server = ServerProcess(tmp / "mem")
    server.start()
    try:
        assert server.proc is not None
        with server.client(timeout=60) as c:
            space = c.post("/space", json={"Slug": "mem"}).json()["SpaceID"]
            c.get("/unit")
            before = status(server.proc.pid)
            data = "A" * ((DEFAULT_MAX_BODY_BYTES - 4096) * 3 // 4)  # base64 stays under limit
            body = json.dumps(unit(data, "AppConfig/Text")).encode()
            start = time.perf_counter()
            resp = c.post(
                f"/space/{space}/unit", content=body, headers={"Content-Type": "application/json"}
            )
            elapsed = time.perf_counter() - start
            after = status(server.proc.pid)
        print(
            f"largest accepted body: {len(body) / MIB:.2f} MiB -> {resp.status_code} in "
            f"{elapsed * 1000:.0f} ms (limit {DEFAULT_MAX_BODY_BYTES / MIB:.0f} MiB)"
        )
        print(
            f"server memory: VmRSS before {before['VmRSS'] / 1024:.0f} MiB, peak (VmHWM) "
            f"{after['VmHWM'] / 1024:.0f} MiB, after {after['VmRSS'] / 1024:.0f} MiB "
            f"(+{(after['VmHWM'] - before['VmRSS']) / 1024:.0f} MiB for the request)"
        )
    finally:
        server.stop()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--random", type=int, default=400, help="generated requests")
    parser.add_argument("--seed", type=int, default=12)
    opts = parser.parse_args()
    rng = random.Random(opts.seed)
    random.seed(opts.seed)
    with tempfile.TemporaryDirectory(prefix="hostile-bench-") as tmpdir:
        tmp = Path(tmpdir)
        server = ServerProcess(tmp)
        server.start()
        try:
            with server.client(timeout=60) as c:
                space = c.post("/space", json={"Slug": "hostile"}).json()["SpaceID"]
                for name in ("w-web", "w-odd"):
                    c.post(
                        f"/space/{space}/unit",
                        json={
                            "Slug": name,
                            "ToolchainType": "Kubernetes/YAML",
                            "Data": b64(WORKLOAD),
                        },
                    )
                c.post(
                    f"/space/{space}/unit",
                    json=unit("", "AppConfig/Text", DisplayName="a" * 5000 + "!"),
                )
                corpus = crafted(space) + list(generated(space, opts.random, rng))
                probe = Probe(server.url)
                probe.start()
                time.sleep(0.1)
                results: list[tuple[float, str, int]] = []
                spans: list[tuple[float, float, str]] = []
                for label, method, url, kwargs in corpus:
                    start = time.perf_counter()
                    resp = c.request(method, url, **kwargs)
                    end = time.perf_counter()
                    results.append((end - start, label, resp.status_code))
                    spans.append((start, end, label))
                probe.stop.set()
                probe.join(30)
        finally:
            server.stop()
        memory_of_largest_accepted_body(tmp)
    counts: dict[int, int] = {}
    for _, _, code in results:
        counts[code] = counts.get(code, 0) + 1
    times = sorted(r[0] for r in results)
    worst = max(results)
    health = sorted(probe.latencies)
    print(
        f"corpus: {len(corpus)} hostile requests ({len(corpus) - opts.random} crafted, "
        f"{opts.random} generated, seed {opts.seed})"
    )
    print("statuses: " + ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())))
    print(
        f"hostile request latency: median {statistics.median(times) * 1000:.1f} ms, "
        f"worst {worst[0] * 1000:.0f} ms ({worst[1]}, status {worst[2]})"
    )
    print(
        f"health checks during the attack: {len(health)}, median "
        f"{statistics.median(health) * 1000:.1f} ms, p99 "
        f"{health[int(len(health) * 0.99)] * 1000:.1f} ms, worst {health[-1] * 1000:.1f} ms"
    )
    w_start, w_lat = max(probe.samples, key=lambda s: s[1])
    during = sorted({lab for a, b, lab in spans if a < w_start + w_lat and b > w_start})
    print(f"the worst health check overlapped: {', '.join(during) or 'no hostile request'}")
    slowest = ", ".join(
        f"{lab} {t * 1000:.0f} ms ({code})" for t, lab, code in sorted(results)[-4:]
    )
    print(f"slowest hostile requests: {slowest}")
    five = sum(v for k, v in counts.items() if k >= 500)
    if five:
        print(f"FAIL: {five} responses were 5xx")
    return 1 if five else 0


if __name__ == "__main__":
    sys.exit(main())
