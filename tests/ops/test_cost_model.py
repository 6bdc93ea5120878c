"""The pure cost model: quantities, workloads from unit YAML, prices, and each rule."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from operator_cli.cost.model import (
    Prices,
    Request,
    UnitInput,
    catalog_defaults,
    load_prices,
    quantity,
    report,
    stack_cost,
    workloads,
)
from tests.ops.project import deployment

NOW = datetime(2026, 12, 1, tzinfo=UTC)
PRICES = Prices.model_validate({"cpuCoreMonth": 30, "memoryGiBMonth": 4})


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("250m", "0.25"),
        ("1", "1"),
        ("1.5", "1.5"),
        (2, "2"),
        ("512Mi", str(512 * 2**20)),
        ("1Gi", str(2**30)),
        ("2G", "2000000000"),
        ("1e3", "1000"),
        ("100k", "100000"),
    ],
)
def test_quantities(text: object, value: str) -> None:
    assert quantity(text) == Decimal(value)


@pytest.mark.parametrize("text", ["", "abc", "1Xi", "--1", "1.2.3m"])
def test_bad_quantities_are_refused_naming_them(text: str) -> None:
    with pytest.raises(ValueError, match="quantity"):
        quantity(text)


def test_workloads_sum_containers_and_fall_back_to_limits() -> None:
    data = (
        deployment("a", replicas=3, cpu="250m", memory="512Mi")
        + """---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: b}
spec:
  template:
    spec:
      containers:
      - name: x
        resources: {limits: {cpu: "1", memory: 1Gi}}
      - name: y
        resources: {requests: {cpu: 500m}}
"""
    )
    found = workloads(data)
    assert [(w.kind, w.name, w.replicas) for w in found] == [
        ("Deployment", "a", 3),
        ("StatefulSet", "b", 1),
    ]
    assert found[0].cpu == Decimal("0.75") and found[0].memory_gib == Decimal("1.5")
    assert found[1].per_replica == Request(cpu=Decimal("1.5"), memory_gib=Decimal(1))


def test_a_bad_resource_names_the_unit_workload_and_container() -> None:
    with pytest.raises(ValueError, match=r"prod/x Deployment/a container a: .*'lots'"):
        workloads(deployment("a", cpu="lots"), "prod/x")


def _unit(
    env: str, name: str, data: str, sets: tuple[str, ...] = (), days_ago: int = 0
) -> UnitInput:
    return UnitInput(
        environment=env,
        unit=name,
        service=name,
        data=data,
        sets=sets,
        last_activity=NOW - timedelta(days=days_ago),
    )


def test_totals_and_each_rule() -> None:
    units = [
        _unit(
            "prod",
            "trade-service",
            deployment("trade-service", replicas=3, cpu="250m", memory="512Mi"),
            sets=("critical-services",),
        ),
        _unit(
            "prod",
            "web-front-end",
            deployment("web-front-end", replicas=4, cpu="250m", memory="768Mi"),
        ),
        _unit(
            "prod",
            "people-service",
            deployment("people-service", replicas=2, cpu="2", memory="256Mi"),
        ),
        _unit("dev", "trade-service", deployment("trade-service"), days_ago=30),
    ]
    result = report(units, PRICES, catalog_defaults(), NOW)
    by_unit = {(u.environment, u.unit): u.monthly for u in result.units}
    assert by_unit[("prod", "trade-service")] == Decimal("28.5")  # 0.75 cpu x 30 + 1.5 GiB x 4
    assert by_unit[("prod", "web-front-end")] == Decimal("42")  # 1 x 30 + 3 x 4
    assert by_unit[("prod", "people-service")] == Decimal("122")  # 4 x 30 + 0.5 x 4
    assert result.environments["prod"] == Decimal("192.5")
    assert result.environments["dev"] == Decimal("8.5")  # 0.25 x 30 + 0.25 x 4
    assert result.total == Decimal("201")
    rules = {(r.rule, r.environment, r.unit): r for r in result.recommendations}
    assert set(rules) == {
        ("replicas-above-sla", "prod", "web-front-end"),
        ("requests-above-default", "prod", "people-service"),
        ("idle-environment", "dev", "*"),
    }
    assert rules[("replicas-above-sla", "prod", "web-front-end")].monthly_saving == Decimal("21")
    people = rules[("requests-above-default", "prod", "people-service")]
    assert "cpu 2 vs default 0.05" in people.detail and "memory" not in people.detail
    assert people.monthly_saving == Decimal("117")  # (2 - 0.05) x 30 x 2 replicas
    idle = rules[("idle-environment", "dev", "*")]
    assert "30 days" in idle.detail and idle.monthly_saving == Decimal("8.5")


def test_prod_is_never_idle_and_the_critical_set_needs_three() -> None:
    units = [
        _unit(
            "prod",
            "trade-service",
            deployment("trade-service", replicas=3),
            sets=("critical-services",),
            days_ago=400,
        )
    ]
    assert report(units, PRICES, catalog_defaults(), NOW).recommendations == []
    four = [
        _unit(
            "prod",
            "trade-service",
            deployment("trade-service", replicas=4),
            sets=("critical-services",),
        )
    ]
    (rec,) = report(four, PRICES, catalog_defaults(), NOW).recommendations
    assert rec.rule == "replicas-above-sla" and "needs 3" in rec.detail


def test_price_file(tmp_path: Path) -> None:
    good = tmp_path / "prices.yaml"
    good.write_text("currency: EUR\ncpuCoreMonth: 20\nslaReplicas:\n  default: {prod: 1}\n")
    prices = load_prices(good)
    assert prices.currency == "EUR" and prices.cpu_core_month == 20
    assert prices.memory_gib_month == Prices.model_validate({}).memory_gib_month
    typo = tmp_path / "typo.yaml"
    typo.write_text("cpuCoreMonh: 20\n")
    with pytest.raises(ValueError, match=r"typo.yaml: cpuCoreMonh: Extra inputs"):
        load_prices(typo)
    negative = tmp_path / "neg.yaml"
    negative.write_text("memoryGiBMonth: -1\n")
    with pytest.raises(ValueError, match=r"neg.yaml: memoryGiBMonth"):
        load_prices(negative)
    assert load_prices(None) == Prices.model_validate({})


def test_stack_cost_output_agrees_with_the_report_and_is_deterministic() -> None:
    datas: dict[str, str | None] = {
        "trade-service": deployment("trade-service", replicas=3, cpu="250m", memory="512Mi"),
        "database": deployment("database", replicas=1, cpu="500m", memory="1Gi"),
        "namespace": "apiVersion: v1\nkind: Namespace\nmetadata: {name: x}\n",
        "ingress": None,  # data not known (a first preview)
    }
    out = stack_cost(datas, PRICES)
    assert out == {
        "currency": "USD",
        "total": 47.5,  # 3 x (0.25 x 30 + 0.5 x 4) + 1 x (0.5 x 30 + 1 x 4)
        "units": {"database": 19.0, "trade-service": 28.5},
        "unknown": ["ingress"],
    }
    known = [UnitInput(environment="prod", unit=k, data=v) for k, v in datas.items() if v]
    assert out["total"] == report(known, PRICES, {}, NOW).as_json()["total"]
    assert stack_cost(dict(reversed(list(datas.items()))), PRICES) == out, "order-independent"
    assert list(stack_cost(datas)["units"]) == ["database", "trade-service"], "sorted keys"


def test_prod_eu_is_judged_like_prod() -> None:
    """A second prod region (lateral promotion) has prod's SLA, so 3 critical replicas are no
    waste there and a quiet prod-eu is never reported as idle."""
    prices = Prices()
    for sets, needed in ((["critical-services"], 3), ([], 2)):
        assert prices.needed_replicas("prod-eu", sets) == prices.needed_replicas("prod", sets)
        assert prices.needed_replicas("prod-eu", sets) == needed
