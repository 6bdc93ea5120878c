"""Apply an environment's units in start order, health-gated (the design's `bin/apply-all`).

Units are grouped by their `tier` label (components/layout.py: units of one tier do not need
each other) and a tier starts only when every unit of the previous tier is applied and its
workloads are available (the worker reports Completed only then). Units without a target are
skipped and reported.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from components.confighub.client import SPACE, ConfigHubClient
from components.confighub.errors import OperationFailedError
from components.confighub.operations import wait_for
from operator_cli.output import CliError, Exit, Step


def start_rank(unit: dict[str, Any]) -> tuple[int, int, str]:
    """(tier, order, slug) from the unit's labels: the start order; unlabelled units last."""
    labels = unit.get("Labels") or {}

    def num(key: str) -> int:
        value = str(labels.get(key, ""))
        return int(value) if value.isdigit() else 1_000

    return num("tier"), num("order"), str(unit.get("Slug"))


def environment_units(client: ConfigHubClient, space_slug: str) -> tuple[str, list[dict[str, Any]]]:
    space = client.find_by_slug(SPACE, None, space_slug)
    if space is None:
        raise CliError(
            Exit.NOT_FOUND,
            f"ConfigHub has no space {space_slug!r}",
            "restore it first: traderx restore <backup> --space <env>",
        )
    listed = client.request("GET", f"/space/{space.id}/unit") or []
    units = [item.get("Unit", item) for item in listed]
    return space.id, sorted(units, key=start_rank)


def apply_tiers(
    client: ConfigHubClient,
    space_id: str,
    space_slug: str,
    units: list[dict[str, Any]],
    step: Step,
    *,
    timeout: float,
    again: str,
) -> list[str]:
    """Apply `units` tier by tier, up to 4 at once within a tier, each waiting for the health
    gate; units without a target are skipped. The first failure stops the run, saying what was
    applied and (`again`) what to run after fixing the cause."""
    tiers: dict[int, list[dict[str, Any]]] = {}
    for unit in units:
        tiers.setdefault(start_rank(unit)[0], []).append(unit)
    applied: list[str] = []

    def one(unit: dict[str, Any]) -> str:
        what = f"apply of unit {space_slug}/{unit['Slug']}"
        op = client.apply_unit(space_id, unit["UnitID"])
        wait_for(client, space_id, unit["UnitID"], op, what=what, timeout=timeout)
        return str(unit["Slug"])

    with ThreadPoolExecutor(max_workers=4) as pool:
        for _, members in sorted(tiers.items()):
            todo = [u for u in members if u.get("TargetID")]
            try:
                for slug in pool.map(one, todo):
                    applied.append(slug)
                    step.advance(slug)
            except OperationFailedError as exc:
                raise CliError(
                    Exit.FAILED,
                    str(exc),
                    f"fix the cause (kubectl -n <namespace> describe deployment), then run "
                    f"{again} again; applied so far: {applied}",
                ) from exc
            step.advance("", len(members) - len(todo))
    return applied


def apply_all(
    client: ConfigHubClient, space_slug: str, step: Step, *, timeout: float = 300.0
) -> dict[str, Any]:
    """Apply every unit of the space tier by tier; the first failure stops the run."""
    space_id, units = environment_units(client, space_slug)
    step.total(len(units))
    skipped = [u["Slug"] for u in units if not u.get("TargetID")]
    applied = apply_tiers(
        client, space_id, space_slug, units, step, timeout=timeout, again="traderx dr apply-all"
    )
    return {"space": space_slug, "applied": applied, "skipped": skipped}
