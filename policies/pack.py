"""Assembles the TraderX policy pack (one module per rule family)."""

from __future__ import annotations

from pulumi_policy import EnforcementLevel, Policy, PolicyPack

from . import (
    deletion,
    images,
    network,
    probes,
    promotion,
    releases,
    replicas,
    resources,
    rollout,
    secret_env,
    security,
    unit_data,
)
from .environment import default_enforcement_level

PACK_NAME = "traderx-prod-gate"


def build_policies() -> list[Policy]:
    """Every policy of the pack, in the order they are reported."""
    families = (
        unit_data,
        images,
        resources,
        security,
        probes,
        replicas,
        secret_env,
        network,
        promotion,
        releases,
        deletion,
        rollout,
    )
    return [policy for family in families for policy in family.policies()]


def serve(level: EnforcementLevel | None = None) -> PolicyPack:
    """Start the analyzer server (blocks): mandatory on prod stacks, advisory elsewhere."""
    return PolicyPack(
        name=PACK_NAME,
        policies=build_policies(),
        enforcement_level=level or default_enforcement_level(),
        description="TraderX prod gate: pinned images, resources, pod security, probes, "
        "replica bounds, no secret literals, network isolation, promotion and deletion guards.",
    )
