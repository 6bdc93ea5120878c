"""The deploy benchmark's pure arithmetic and graph export (benchmarks/)."""

from __future__ import annotations

from typing import Any

import pytest

from benchmarks.bench_support import (
    PodTimes,
    PodWatch,
    longest_path,
    rendered_units,
    stack_settings,
    tier_sum,
)
from benchmarks.engine_floor import graph_of
from components.model.catalog import START_ORDER

# One readiness per component: JVM services slow, the rest fast.
READY = {
    "namespace": 0.0,
    "database": 30.0,
    "reference-data": 3.0,
    "trade-feed": 3.0,
    "people-service": 4.0,
    "account-service": 25.0,
    "position-service": 35.0,
    "trade-processor": 20.0,
    "trade-service": 28.0,
    "web-front-end": 10.0,
    "ingress": 0.0,
}


def test_tier_sum_is_the_slowest_of_each_tier_added_up() -> None:
    # tiers: 1 {database 30, ...}, 2 {position 35, ...}, 3 {trade-service 28}, 4 {web 10}
    assert tier_sum(READY) == pytest.approx(30 + 35 + 28 + 10)


def test_restore_floor_adds_the_database_restart_after_the_tiers() -> None:
    watch = PodWatch("unused")
    t0 = 100.0
    pods = [  # (component, created, ready) seconds after t0
        ("database", 0, 30),
        ("account-service", 30, 55),
        ("position-service", 30, 65),
        ("trade-service", 65, 93),
        ("web-front-end", 93, 103),
        ("database", 110, 140),  # the restart on the restored files: after the tiers
    ]
    for i, (component, created, ready) in enumerate(pods):
        watch.pods[str(i)] = PodTimes("ns", component, t0 + created, t0 + ready)
    watch.pods["old"] = PodTimes("ns", "database", t0 - 50, t0 - 10)  # before the rebuild
    watch.pods["other"] = PodTimes("elsewhere", "database", t0, t0 + 99)
    # tiers: database 30, {account 25, position 35} 35, trade-service 28, web 10; restart 30
    assert watch.restore_floor("ns", t0) == pytest.approx(30 + 35 + 28 + 10 + 30)


def test_longest_path_follows_the_dependencies_and_never_exceeds_the_tier_sum() -> None:
    # database -> account-service -> trade-service -> web-front-end; position-service (35)
    # does not lead to trade-service, so it ends at web-front-end: 30 + 35 + 10.
    assert longest_path(READY) == pytest.approx(max(30 + 25 + 28 + 10, 30 + 35 + 10))
    assert longest_path(READY) <= tier_sum(READY)


def test_flow_units_are_the_programs_rendering_for_the_environment() -> None:
    settings = stack_settings("prod", "benchx", "benchx-prod", "http://127.0.0.1:1", "t")
    units = rendered_units(settings)
    assert list(units) == list(START_ORDER)
    assert "namespace: benchx-prod" in units["trade-service"]
    assert "replicas: 3" in units["trade-service"]  # prod's stack file


def _res(urn: str, custom: bool, parent: str | None = None, deps: list[str] | None = None) -> Any:
    return {"urn": urn, "type": "t", "custom": custom, "parent": parent, "dependencies": deps or []}


def test_floor_graph_keeps_nodes_parents_and_edges_but_not_stack_or_providers() -> None:
    state = {
        "deployment": {
            "resources": [
                {"urn": "stack", "type": "pulumi:pulumi:Stack", "custom": False},
                {"urn": "prov", "type": "pulumi:providers:kubernetes", "custom": True},
                _res("comp", False, parent="stack"),
                _res("a", True, parent="comp"),
                _res("b", True, parent="comp", deps=["a", "prov"]),
            ]
        }
    }
    assert graph_of(state) == [
        {"urn": "comp", "custom": False, "parent": None, "deps": []},
        {"urn": "a", "custom": True, "parent": "comp", "deps": []},
        {"urn": "b", "custom": True, "parent": "comp", "deps": ["a"]},
    ]


def test_floor_graph_keeps_stack_references_real_only_in_the_variant() -> None:
    ref = {
        "urn": "ref",
        "type": "pulumi:pulumi:StackReference",
        "custom": True,
        "dependencies": [],
    }
    state = {"deployment": {"resources": [ref, _res("a", True, deps=["ref"])]}}
    plain = graph_of(state)
    assert [n.get("stack_reference") for n in plain] == [None, None]  # all trivial
    variant = graph_of(state, "organization/floor-dev/dev")
    assert variant[0] == {
        "urn": "ref",
        "custom": True,
        "parent": None,
        "deps": [],
        "stack_reference": "organization/floor-dev/dev",
    }
    assert variant[1] == plain[1] == {"urn": "a", "custom": True, "parent": None, "deps": ["ref"]}
