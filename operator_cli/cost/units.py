"""Read the project's deployed environments from ConfigHub as cost-model inputs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from components.confighub.client import ConfigHubClient
from components.confighub.models import decode_data
from components.model.settings import ENVIRONMENTS
from operator_cli.cost.model import UnitInput
from operator_cli.hub import project_spaces

__all__ = ["ENVIRONMENTS", "read_units", "sets_of"]


def _time(value: Any) -> datetime | None:
    if not value or not isinstance(value, str) or value.startswith("0001-"):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def sets_of(labels: dict[str, str]) -> tuple[str, ...]:
    """Set slugs from member labels (`set_<slug with _>: member`, UnitSet.member_labels)."""
    return tuple(
        sorted(
            k[4:].replace("_", "-")
            for k, v in labels.items()
            if k.startswith("set_") and v == "member"
        )
    )


def read_units(
    client: ConfigHubClient, project: str, environments: tuple[str, ...] = ENVIRONMENTS
) -> list[UnitInput]:
    """Every unit in the project's environment spaces (not base, not filters), with its data."""
    out: list[UnitInput] = []
    for space in project_spaces(client, project):
        env = (space.get("Labels") or {}).get("environment")
        if env not in environments:
            continue
        listed = client.request("GET", f"/space/{space['SpaceID']}/unit") or []
        for item in listed:
            unit = item.get("Unit", item)
            if unit.get("Data") is None:
                full = client.request("GET", f"/space/{space['SpaceID']}/unit/{unit['UnitID']}")
                unit = full.get("Unit", full)
            labels = unit.get("Labels") or {}
            times = [
                t for t in (_time(unit.get("UpdatedAt")), _time(unit.get("LastActionAt"))) if t
            ]
            out.append(
                UnitInput(
                    environment=str(env),
                    unit=str(unit["Slug"]),
                    service=str(labels.get("service", unit["Slug"])),
                    data=decode_data(unit.get("Data")),
                    sets=sets_of(labels),
                    last_activity=max(times) if times else None,
                )
            )
    return sorted(out, key=lambda u: (ENVIRONMENTS.index(u.environment), u.unit))
