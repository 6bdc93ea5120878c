"""Containers run as non-root, cannot escalate privileges and are not privileged."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pulumi_policy import ResourceValidationPolicy

from .base import RuleContext, container_name, object_policy
from .objects import KubeObject
from .values import UNKNOWN, dig

CONFIG: dict[str, dict[str, Any]] = {
    "allowRootWorkloads": {
        "type": "array",
        "items": {"type": "string"},
        "description": "Workloads whose image cannot run as non-root yet (a reviewed exception; "
        "privilege escalation and privileged mode stay forbidden).",
    },
    "allowRootReasons": {
        "type": "object",
        "additionalProperties": {"type": "string"},
        "description": "Why each allowRootWorkloads entry is needed (workload → reason); read by "
        "reviewers, not by the rule. policies/config/prod.json is the reviewed prod list.",
    },
}


def check(obj: KubeObject, ctx: RuleContext) -> Iterator[str]:
    spec = obj.pod_spec() or {}
    pod_non_root = dig(spec, "securityContext", "runAsNonRoot")
    root_allowed = obj.name in ctx.strings("allowRootWorkloads", ())
    for container in obj.containers(include_init=True):
        name = container_name(container)
        own = dig(container, "securityContext", "runAsNonRoot")
        non_root = own if own is not None else pod_non_root
        if non_root is not True and non_root is not UNKNOWN and not root_allowed:
            yield (
                f"{obj.origin}: container '{name}' may run as root; set "
                "securityContext.runAsNonRoot: true on the pod or the container "
                "(with a runAsUser the image supports), or list the workload in this policy's "
                "allowRootWorkloads config as a reviewed exception."
            )
        escalation = dig(container, "securityContext", "allowPrivilegeEscalation")
        if escalation is not False and escalation is not UNKNOWN:
            yield (
                f"{obj.origin}: container '{name}' allows privilege escalation; set "
                "securityContext.allowPrivilegeEscalation: false on it."
            )
        if dig(container, "securityContext", "privileged") is True:
            yield (
                f"{obj.origin}: container '{name}' is privileged; remove "
                "securityContext.privileged (or set it to false)."
            )


def policies() -> list[ResourceValidationPolicy]:
    return [
        object_policy(
            "pod-security",
            "Containers must run as non-root, without privilege escalation, never privileged.",
            check,
            CONFIG,
        )
    ]
