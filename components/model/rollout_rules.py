"""The prod gate's rules for the rollout objects (issue #14), pure: both colours and the canary
run pinned images, the canary weight is 0 or a configured step, the Service names a known slot.
Used by the policy pack (policies/rollout.py) and by `traderx rollout` on every revision it
writes (its units are ConfigHub's; the engine never sees them).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from components.model.rollout import DEFAULT_STEPS, SERVICE, SLOT_LABEL, SLOTS
from components.model.rollout_manifests import CANARY, WEIGHT_ANNOTATION, pinned, slot_name


def image_problem(image: Any) -> str | None:
    if not isinstance(image, str) or not image.strip():
        return "has no image"
    return None if pinned(image) else "is not pinned"


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
