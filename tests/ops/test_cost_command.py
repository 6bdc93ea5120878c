"""`traderx cost` reads the units' data from a real server; the prod figure matches a hand
computation from that data."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest

from tests.ops.conftest import Run
from tests.ops.project import b64, deployment, ok
from tests.support.server import ServerProcess


@pytest.fixture(scope="module")
def prefix(confighub_server: ServerProcess) -> str:
    prefix = "cost" + uuid.uuid4().hex[:8]
    project = f"{prefix}-traderx"
    with confighub_server.client() as http:
        for env in ("base", "prod"):
            space = ok(
                http.post(
                    "/space",
                    json={
                        "Slug": f"{project}-{env}",
                        "Labels": {"project": project, "environment": env},
                    },
                )
            )
            units = {
                "trade-service": (
                    deployment("trade-service", replicas=3, cpu="250m", memory="512Mi"),
                    {"set_critical_services": "member"},
                ),
                "database": (deployment("database", cpu="500m", memory="1Gi"), {}),
                "web-front-end": (
                    deployment("web-front-end", replicas=4, cpu="250m", memory="768Mi"),
                    {},
                ),
                "people-service": (
                    deployment("people-service", replicas=2, cpu="2", memory="256Mi"),
                    {},
                ),
            }
            for slug, (data, labels) in units.items():
                _unit(http, space["SpaceID"], slug, data, {"service": slug, **labels})
    return prefix


def _unit(http: httpx.Client, space_id: str, slug: str, data: str, labels: dict[str, str]) -> None:
    ok(
        http.post(
            f"/space/{space_id}/unit",
            json={
                "Slug": slug,
                "ToolchainType": "Kubernetes/YAML",
                "Data": b64(data),
                "Labels": labels,
            },
        )
    )


def test_prod_cost_matches_a_hand_computation(prefix: str, source: Run, tmp_path: Path) -> None:
    prices = tmp_path / "prices.yaml"
    prices.write_text("cpuCoreMonth: 30\nmemoryGiBMonth: 4\n")
    ran = source("cost", "--prefix", prefix, "--prices", str(prices), "--json")
    assert ran.code == 0, ran.stdout + ran.stderr
    report = ran.json()
    # by hand, per unit: replicas x (cpu cores x 30 + GiB x 4); base units are not deployed
    hand = {
        "trade-service": 3 * (0.25 * 30 + 0.5 * 4),  # 28.5
        "database": 1 * (0.5 * 30 + 1 * 4),  # 19
        "web-front-end": 4 * (0.25 * 30 + 0.75 * 4),  # 42
        "people-service": 2 * (2 * 30 + 0.25 * 4),  # 122
    }
    assert {u["unit"]: u["monthly"] for u in report["units"]} == hand
    assert report["environments"] == {"prod": 211.5} and report["total"] == 211.5
    rules = sorted((r["rule"], r["unit"], r["monthlySaving"]) for r in report["recommendations"])
    assert rules == [
        ("replicas-above-sla", "web-front-end", 21.0),
        ("requests-above-default", "people-service", 117.0),
    ]
    table = source("cost", "--prefix", prefix, "--prices", str(prices))
    assert table.code == 0, table.stderr
    assert "211.50" in table.stdout and "replicas-above-sla" in table.stdout, table.stdout


def test_cost_errors_say_what_to_do(prefix: str, source: Run, tmp_path: Path) -> None:
    typo = tmp_path / "p.yaml"
    typo.write_text("cpuCoreMonht: 1\n")
    bad = source("cost", "--prefix", prefix, "--prices", str(typo))
    assert bad.code == 4 and "cpuCoreMonht" in bad.stderr and "docs/operations.md" in bad.stderr
    assert source("cost", "--prefix", prefix, "--env", "qa").code == 2
    empty = source("cost", "--prefix", prefix, "--env", "dev", "--json")
    assert empty.code == 6 and "no units" in empty.json()["error"]
    assert source("cost").code == 2
