"""How the pack decides prod, its default level, unknown preview values, the pack's shape."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pulumi_policy import EnforcementLevel, proxy

from policies.environment import (
    default_enforcement_level,
    environment_of_name,
    stack_environment,
    unit_environment,
)
from policies.pack import build_policies
from policies.values import UNKNOWN, plain
from tests.policies.factories import (
    DEPLOYMENT,
    UNIT,
    RunResource,
    container,
    good_deployment,
    unit_props,
)


@pytest.mark.parametrize(
    ("name", "env"),
    [
        ("prod", "prod"),
        ("prod-eu", "prod"),
        ("eu_production", "prod"),
        ("organization/traderx/prod", "prod"),
        ("staging", "staging"),
        ("stage-2", "staging"),
        ("dev", "dev"),
        ("product-demo", "dev"),
        ("", "dev"),
    ],
)
def test_environment_from_stack_name(name: str, env: str) -> None:
    assert environment_of_name(name) == env


def test_default_level_mandatory_only_for_prod() -> None:
    assert default_enforcement_level("prod") == EnforcementLevel.MANDATORY
    assert default_enforcement_level("staging") == EnforcementLevel.ADVISORY
    assert default_enforcement_level("dev") == EnforcementLevel.ADVISORY


def test_policy_config_environment_overrides_stack(stack: Any) -> None:
    stack("dev")
    assert stack_environment() == "dev"
    assert stack_environment({"environment": "prod"}) == "prod"
    with pytest.raises(ValueError, match="policy config 'environment' is 'qa'"):
        stack_environment({"environment": "qa"})


def test_unknown_preview_values_are_not_judged(run_resource: RunResource) -> None:
    dep = good_deployment()
    container(dep)["image"] = proxy.UNKNOWN_STRING_VALUE
    dep["spec"]["replicas"] = proxy.UNKNOWN_NUMBER_VALUE
    assert plain(dep)["spec"]["replicas"] is UNKNOWN
    assert run_resource("images-pinned", DEPLOYMENT, dep) == []
    assert run_resource("replicas-within-bounds", DEPLOYMENT, dep) == []


def test_plain_unwraps_the_sdk_proxy() -> None:
    wrapped = proxy.unknown_checking_proxy({"a": {"b": [proxy.UNKNOWN_STRING_VALUE, "x"]}})
    with pytest.raises(proxy.UnknownValueError):
        _ = wrapped["a"]["b"][0]
    assert plain(wrapped) == {"a": {"b": [UNKNOWN, "x"]}}


def test_pack_has_unique_names_with_descriptions() -> None:
    policies = build_policies()
    names = [p.name for p in policies]
    assert len(names) == len(set(names)) == 13
    assert all(p.description and p.config_schema for p in policies)
    assert all("environment" in p.config_schema.properties for p in policies if p.config_schema)


def test_stack_config_environment_beats_the_stack_name(
    stack: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack("qa-eu")
    assert stack_environment() == "dev"
    monkeypatch.setenv("PULUMI_CONFIG", json.dumps({"traderx:environment": "prod"}))
    assert stack_environment() == "prod"
    assert default_enforcement_level() == EnforcementLevel.MANDATORY
    monkeypatch.setenv("PULUMI_CONFIG", "not json")
    assert stack_environment() == "dev"


@pytest.mark.parametrize(
    ("stack_name", "label", "judged"),
    [
        ("prod", "dev", "prod"),  # a label can never weaken the prod gate
        ("prod", None, "prod"),
        ("dev", "prod", "prod"),  # a prod unit is prod wherever it is declared
        ("staging", "dev", "staging"),
        ("dev", "staging", "staging"),
        ("dev", None, "dev"),
    ],
)
def test_unit_environment_is_the_stricter_of_stack_and_label(
    monkeypatch: pytest.MonkeyPatch, stack_name: str, label: str | None, judged: str
) -> None:
    monkeypatch.delenv("PULUMI_CONFIG", raising=False)
    monkeypatch.setenv("PULUMI_STACK", stack_name)
    labels = {"environment": label} if label else {}
    assert unit_environment(labels) == judged


def test_a_dev_label_in_the_prod_stack_keeps_the_prod_rules(run_resource: RunResource) -> None:
    """The prod minimum of replicas is prod-only; a unit labelled dev in the prod stack (the
    `stack` fixture sets PULUMI_STACK=prod) still has to meet it."""
    thin = unit_props([good_deployment(replicas=1)], env="dev")
    assert run_resource("replicas-within-bounds", UNIT, thin), "a dev label weakened prod"
    planned = {**thin, "data": None, "planned_data": thin["data"]}  # a fields-only unit
    assert run_resource("replicas-within-bounds", UNIT, planned), "planned data is judged"
