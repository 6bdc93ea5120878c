"""The environment's release record (issue #13): one `Release` per downstream stack, after all
of its units, so a promotion is recorded only once every unit it moved is merged and applied."""

from __future__ import annotations

from typing import Any

import pulumi

from components.confighub.release import Release
from components.model.settings import Settings


def declare_release(
    settings: Settings, space_id: Any, upstream_space_id: Any, units: dict[str, Any]
) -> Release:
    """`traderx:promote` as the release's pins; `traderx:release.*` names the next release."""
    services = {
        name: svc.model_dump(mode="json", by_alias=True, exclude_defaults=True)
        for name, svc in settings.services.items()
    }
    rel = settings.release
    return Release(
        f"traderx-{settings.environment}-release",
        space_id=space_id,
        environment=settings.environment,
        pins={str(k): int(v) for k, v in settings.promote.items()},
        services={k: v for k, v in services.items() if v},
        name=rel.name,
        description=rel.description,
        source=rel.source,
        upstream_space_id=upstream_space_id,
        unit_ids={c: u.unit_id for c, u in units.items()},
        opts=pulumi.ResourceOptions(depends_on=list(units.values())),
    )
