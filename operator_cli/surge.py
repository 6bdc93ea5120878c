"""A faster unit rollback: roll every replica of the restored Deployment at once.

The program's Deployments roll one pod at a time (`maxSurge: 1, maxUnavailable: 0`): a
3-replica JVM service needs three 20-40 s starts in a row. For a rollback, the CLI first writes
the target revision's data with `maxSurge: 100%` (all new pods start together, none of the old
ones stops before they are ready) and applies it; then it restores the target revision itself
and applies that, which only puts the strategy back (no pod changes). The final head equals the
target revision exactly, and the strategy is no field a stack declares, so the next `up` has
nothing to change. Pure: no API calls here.
"""

from __future__ import annotations

from typing import Any

from components.confighub import fields

SURGE: dict[str, Any] = {"maxSurge": "100%", "maxUnavailable": 0}
DESCRIPTION = "rollback: surge all replicas at once (maxSurge 100%); the next revision restores"


def _deployments(text: str) -> dict[str, dict[str, Any]]:
    return {
        str((d.get("metadata") or {}).get("name")): d
        for d in fields.load(text)
        if isinstance(d, dict) and d.get("kind") == "Deployment"
    }


def surged(current: str, target: str) -> tuple[str, list[str]] | None:
    """`target` with a surging strategy on each Deployment whose pods the rollback replaces
    (its pod template changes, it rolls (RollingUpdate) and has more than one replica), and
    their names; None when no Deployment gains from it."""
    now = _deployments(current)
    changed: dict[str, Any] = {}
    for name, doc in _deployments(target).items():
        spec = doc.get("spec") or {}
        strategy = spec.get("strategy") or {}
        if strategy.get("type", "RollingUpdate") != "RollingUpdate":
            continue  # Recreate: the singletons (database, trade-feed, trade-processor)
        if int(spec.get("replicas", 1)) < 2 or (strategy.get("rollingUpdate") or {}) == SURGE:
            continue
        before = (now.get(name) or {}).get("spec") or {}
        if before.get("template") == spec.get("template"):
            continue  # no pod is replaced: the rollout is immediate anyway
        key = fields.field_key(f"Deployment/{name}", "spec", "strategy")
        changed[key] = {"type": "RollingUpdate", "rollingUpdate": dict(SURGE)}
    if not changed:
        return None
    names = sorted(fields.parse_key(k)[1] or "" for k in changed)
    return fields.apply(target, changed), names
