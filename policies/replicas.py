"""Replica counts that keep TraderX correct (services.md): singletons exactly 1 everywhere;
critical stateless services at least 3 in prod."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pulumi_policy import ResourceValidationPolicy

from components.model.rollout import REPLICAS_OWNER

from . import catalog
from .base import RuleContext, object_policy
from .objects import KubeObject
from .values import UNKNOWN, dig

_SCALED_KINDS = frozenset({"Deployment", "StatefulSet", "ReplicaSet"})

CONFIG: dict[str, dict[str, Any]] = {
    "singletonServices": {
        "type": "array",
        "items": {"type": "string"},
        "description": "Services that must run exactly one replica.",
    },
    "criticalServices": {
        "type": "array",
        "items": {"type": "string"},
        "description": "Stateless services that need minCriticalReplicas in prod.",
    },
    "minCriticalReplicas": {"type": "integer", "minimum": 1},
}


def _slot_serves(obj: KubeObject) -> bool:
    """A stable Deployment `traderx rollout` scaled to 0 while a blue-green slot serves (the
    slot runs the count; issue #14, docs/progressive-delivery.md)."""
    owner = dig(obj.body, "metadata", "annotations", REPLICAS_OWNER, default=None)
    return owner == "rollout" and dig(obj.body, "spec", "replicas", default=1) == 0


def check(obj: KubeObject, ctx: RuleContext) -> Iterator[str]:
    if obj.kind not in _SCALED_KINDS:
        return
    service = catalog.service_name(obj.name, obj.labels)
    if service is None:
        return
    replicas = dig(obj.body, "spec", "replicas", default=1)
    if replicas is UNKNOWN:
        return
    if not isinstance(replicas, int) or isinstance(replicas, bool):
        yield f"{obj.origin}: spec.replicas is {replicas!r}; set it to an integer."
        return
    singletons = ctx.strings("singletonServices", catalog.SINGLETONS)
    critical = ctx.strings("criticalServices", catalog.CRITICAL_STATELESS)
    minimum = ctx.config.get("minCriticalReplicas", catalog.MIN_CRITICAL_REPLICAS)
    if service in singletons and replicas != 1:
        yield (
            f"{obj.origin}: {service} runs {replicas} replicas; set spec.replicas: 1 "
            "(a second replica means a second database, duplicate trade bookings or split "
            "pub/sub state)."
        )
    elif service in critical and ctx.is_prod and replicas < minimum and not _slot_serves(obj):
        yield (
            f"{obj.origin}: critical service {service} runs {replicas} replica(s) in prod; "
            f"set spec.replicas to at least {minimum}."
        )


def policies() -> list[ResourceValidationPolicy]:
    return [
        object_policy(
            "replicas-within-bounds",
            "Replicas must keep TraderX correct: database, trade-feed and trade-processor exactly "
            "1; critical stateless services at least 3 in prod.",
            check,
            CONFIG,
        )
    ]
