"""What prod's stack does for `traderx rollout` (issue #14), pure: under stack config
`traderx:services.trade-service.delivery: bluegreen` the stack sets the stable Deployment's
replicas only when it creates the unit (Pulumi `ignore_changes` on that one declared field)
and marks the unit so the rollout knows it may scale the stable Deployment to 0 while a
blue-green slot serves. Without it, the stack declares the replicas and the rollout leaves
them alone.
"""

from __future__ import annotations

from components.confighub.fields import field_key
from components.model.catalog import SERVICE_BY_NAME, ComponentName
from components.model.rollout import DELIVERY_ANNOTATION
from components.model.settings import Settings


def replicas_key(component: str) -> str:
    return field_key(f"Deployment/{component}", "spec", "replicas")


def delivery_annotations(s: Settings, component: ComponentName) -> dict[str, str]:
    """The unit's annotation `traderx rollout` reads: the stable's replicas are handed over."""
    if component in SERVICE_BY_NAME and s.hands_over_replicas(component):
        return {DELIVERY_ANNOTATION: "bluegreen"}
    return {}


def handed_over_fields(s: Settings, component: ComponentName) -> list[str]:
    """Inputs the stack sets only at creation (`ignore_changes`): the stable Deployment's
    replicas, which blue-green scales to 0 once a slot serves; Pulumi keeps the created
    value, so `up` neither reverts the rollout nor plans a change."""
    if component in SERVICE_BY_NAME and s.hands_over_replicas(component):
        return [f'fields["{replicas_key(component)}"]']
    return []
