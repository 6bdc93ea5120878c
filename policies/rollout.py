"""Progressive delivery objects of trade-service (issue #14): both colours and the canary run
pinned images, the canary weight is one of the configured steps, and the Service names a known
slot. One rule set for two callers: the pack (on any unit's planned data that holds these
objects) and `traderx rollout`, which checks every revision it writes with `problems` before
writing it (its units are ConfigHub's, not a stack's, so the engine never sees them). At most
one rollout at a time is the rollout record's lock (operator_cli/rollout/hub_io.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from pulumi_policy import ResourceValidationPolicy

from components.model.rollout import DEFAULT_STEPS, SERVICE, SLOT_LABEL, SLOTS
from components.model.rollout_manifests import CANARY, WEIGHT_ANNOTATION, slot_name

from .base import RuleContext, object_policy
from .images import image_problem
from .objects import KubeObject

ROLLOUT_DEPLOYMENTS = frozenset({*(slot_name(s) for s in SLOTS), CANARY})


def object_problems(kind: str, name: str, body: dict[str, Any], steps: Iterable[int]) -> list[str]:
    """What is wrong with one object of a rollout (empty: nothing, or not a rollout object)."""
    out: list[str] = []
    if kind == "Deployment" and name in ROLLOUT_DEPLOYMENTS:
        spec = ((body.get("spec") or {}).get("template") or {}).get("spec") or {}
        for c in spec.get("containers") or []:
            problem = image_problem(c.get("image"))
            if problem:
                out.append(
                    f"Deployment '{name}' container '{c.get('name')}' image '{c.get('image')}' "
                    f"{problem}: blue, green and the canary run pinned images (tag or digest)"
                )
    if kind == "Ingress" and name == CANARY:
        raw = ((body.get("metadata") or {}).get("annotations") or {}).get(WEIGHT_ANNOTATION, "0")
        allowed = (0, *steps)
        if not str(raw).isdigit() or int(raw) not in allowed:
            out.append(
                f"Ingress '{name}' canary weight {raw!r} is not a configured step: allowed "
                + ", ".join(str(w) for w in allowed)
            )
    if kind == "Service" and name == SERVICE:
        slot = ((body.get("spec") or {}).get("selector") or {}).get(SLOT_LABEL)
        if slot is not None and slot not in SLOTS:
            out.append(
                f"Service '{name}' selects slot {slot!r}: allowed slots are {', '.join(SLOTS)}"
            )
    return out


def problems(docs: Iterable[dict[str, Any]], steps: Iterable[int] = DEFAULT_STEPS) -> list[str]:
    weights = tuple(steps)
    return [
        p
        for d in docs
        for p in object_problems(
            str(d.get("kind")), str((d.get("metadata") or {}).get("name")), d, weights
        )
    ]


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
