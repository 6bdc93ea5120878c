"""Progressive delivery objects of trade-service (issue #14): both colours and the canary run
pinned images, the canary weight is one of the configured steps, and the Service names a known
slot. One rule set for two callers: the pack (on any unit's planned data that holds these
objects) and `traderx rollout`, which checks every revision it writes with `problems` before
writing it (its units are ConfigHub's, not a stack's, so the engine never sees them). At most
one rollout at a time is the rollout record's lock (operator_cli/rollout/hub_io.py).
"""

from __future__ import annotations

from collections.abc import Iterator

from pulumi_policy import ResourceValidationPolicy

from components.model.rollout import DEFAULT_STEPS
from components.model.rollout_rules import object_problems, problems

from .base import RuleContext, object_policy
from .objects import KubeObject

__all__ = ["check", "policies", "problems"]


def check(obj: KubeObject, ctx: RuleContext) -> Iterator[str]:
    steps = ctx.config.get("steps") or DEFAULT_STEPS
    for message in object_problems(obj.kind, obj.name, obj.body, steps):
        yield f"{obj.origin}: {message}"


def policies() -> list[ResourceValidationPolicy]:
    return [
        object_policy(
            "rollout-objects",
            "Blue-green slots and the canary run pinned images; the canary weight moves only in "
            "the configured steps; the Service names a known slot.",
            check,
            {"steps": {"type": "array", "items": {"type": "integer"}}},
        )
    ]
