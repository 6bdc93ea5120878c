"""Readiness and liveness probes on every app container (init containers excepted)."""

from __future__ import annotations

from collections.abc import Iterator

from pulumi_policy import ResourceValidationPolicy

from .base import RuleContext, container_name, object_policy
from .objects import KubeObject


def check(obj: KubeObject, ctx: RuleContext) -> Iterator[str]:
    for container in obj.containers():
        missing = [p for p in ("readinessProbe", "livenessProbe") if not container.get(p)]
        if missing:
            yield (
                f"{obj.origin}: container '{container_name(container)}' has no "
                f"{' or '.join(missing)}; add them (TCP or an HTTP path the service really serves, "
                "e.g. /stocks for reference-data, TCP 18082 for the database)."
            )


def policies() -> list[ResourceValidationPolicy]:
    return [
        object_policy(
            "probes-present",
            "Every container must have a readiness and a liveness probe.",
            check,
        )
    ]
