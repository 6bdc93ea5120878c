"""Helpers for calling the pack's validation functions directly with resource args."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
import yaml
from pulumi_policy import (
    Policy,
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from policies.pack import build_policies

DEPLOYMENT = "kubernetes:apps/v1:Deployment"
UNIT = "pulumi-python:dynamic/confighub:Unit"
SPACE = "pulumi-python:dynamic/confighub:Space"


def good_deployment(name: str = "trade-service", replicas: int = 3) -> dict[str, Any]:
    """A Deployment that passes every rule (the base the failing cases mutate)."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": "traderx-prod", "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "securityContext": {"runAsNonRoot": True, "runAsUser": 1000},
                    "containers": [
                        {
                            "name": name,
                            "image": f"ghcr.io/finos/traderx/{name}:1.4.2",
                            "ports": [{"containerPort": 18092}],
                            "env": [
                                {"name": "TRADING_SERVICE_PORT", "value": "18092"},
                                {
                                    "name": "DATABASE_DBPASS",
                                    "valueFrom": {
                                        "secretKeyRef": {"name": "traderx-db", "key": "password"}
                                    },
                                },
                            ],
                            "resources": {
                                "requests": {"cpu": "100m", "memory": "256Mi"},
                                "limits": {"cpu": "1", "memory": "512Mi"},
                            },
                            "securityContext": {"allowPrivilegeEscalation": False},
                            "readinessProbe": {"tcpSocket": {"port": 18092}},
                            "livenessProbe": {"tcpSocket": {"port": 18092}},
                        }
                    ],
                },
            },
        },
    }


def container(dep: dict[str, Any]) -> dict[str, Any]:
    return dep["spec"]["template"]["spec"]["containers"][0]


def unit_props(
    docs: list[dict[str, Any]], env: str = "prod", slug: str = "trade-service", **extra: Any
) -> dict[str, Any]:
    """Inputs of a ConfigHub Unit whose data renders `docs` as multi-document YAML."""
    return {
        "space_id": "0b4a3c1e-0000-4000-8000-000000000001",
        "slug": slug,
        "data": yaml.safe_dump_all(docs, sort_keys=False),
        "labels": {"environment": env, "project": "traderx"},
        "annotations": {},
        "target_id": "0b4a3c1e-0000-4000-8000-0000000000aa",
        "apply": True,
        **extra,
    }


def policy(name: str) -> Policy:
    found = [p for p in build_policies() if p.name == name]
    assert found, f"no policy named {name}"
    return found[0]


def opts(protect: bool = False) -> PolicyResourceOptions:
    return PolicyResourceOptions(protect, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], None)


RunResource = Callable[..., list[str]]


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], None]:
    """Set the stack name the pack sees (as the engine does via PULUMI_STACK)."""

    def set_stack(name: str) -> None:
        monkeypatch.setenv("PULUMI_STACK", name)

    set_stack("prod")
    return set_stack


@pytest.fixture
def run_resource(stack: Callable[[str], None]) -> RunResource:
    """Validate one resource with one policy; returns the violation messages."""

    def run(
        name: str,
        resource_type: str,
        props: dict[str, Any],
        *,
        config: dict[str, Any] | None = None,
        protect: bool = False,
        resource_name: str = "res",
    ) -> list[str]:
        pol = policy(name)
        assert isinstance(pol, ResourceValidationPolicy)
        messages: list[str] = []
        args = ResourceValidationArgs(
            resource_type,
            copy.deepcopy(props),
            f"urn:pulumi:prod::traderx::{resource_type}::{resource_name}",
            resource_name,
            opts(protect),
            None,
            config,
        )

        def report(message: str, urn: str | None = None) -> None:
            messages.append(message)

        pol.validate(args, report)
        return messages

    return run


def resource(
    resource_type: str, props: dict[str, Any], name: str = "res", **deps: list[PolicyResource]
) -> PolicyResource:
    return PolicyResource(
        resource_type,
        props,
        f"urn:pulumi:prod::traderx::{resource_type}::{name}",
        name,
        opts(),
        None,
        None,
        [d for ds in deps.values() for d in ds],
        dict(deps),
    )


RunStack = Callable[..., list[tuple[str, str | None]]]


@pytest.fixture
def run_stack(stack: Callable[[str], None]) -> RunStack:
    """Validate a list of resources with one stack policy; returns (message, urn) pairs."""

    def run(
        name: str, resources: list[PolicyResource], config: dict[str, Any] | None = None
    ) -> list[tuple[str, str | None]]:
        pol = policy(name)
        assert isinstance(pol, StackValidationPolicy)
        found: list[tuple[str, str | None]] = []

        def report(message: str, urn: str | None = None) -> None:
            found.append((message, urn))

        pol.validate(StackValidationArgs(resources, config), report)
        return found

    return run
