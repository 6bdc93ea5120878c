"""Every container states CPU and memory requests and limits (scheduling and noisy neighbours)."""

from __future__ import annotations

from collections.abc import Iterator

from pulumi_policy import ResourceValidationPolicy

from .base import RuleContext, container_name, object_policy
from .objects import KubeObject
from .values import UNKNOWN, dig

_REQUIRED = (
    ("requests", "cpu"),
    ("requests", "memory"),
    ("limits", "cpu"),
    ("limits", "memory"),
)


def check(obj: KubeObject, ctx: RuleContext) -> Iterator[str]:
    for container in obj.containers(include_init=True):
        resources = container.get("resources")
        if resources is UNKNOWN:
            continue
        missing = [
            f"resources.{group}.{res}"
            for group, res in _REQUIRED
            if dig(container, "resources", group, res) in (None, "")
        ]
        if missing:
            yield (
                f"{obj.origin}: container '{container_name(container)}' lacks "
                f"{', '.join(missing)}; set CPU and memory requests and limits on it "
                "(the web front end needs 768Mi-1.5Gi)."
            )


def policies() -> list[ResourceValidationPolicy]:
    return [
        object_policy(
            "container-resources",
            "Every container must set CPU and memory requests and limits.",
            check,
        )
    ]
