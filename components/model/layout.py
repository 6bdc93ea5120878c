"""The ConfigHub layout of the design, as pure data: spaces, unit labels, filters, sets, links.

Corrections to the design are deliberate and listed in docs/program.md: filters and sets are
scoped to the project (the design's would match every project in the organisation), `ordered`
uses a regex instead of `IS NOT NULL` (which older `where` dialects lack), and the two sets are
saved filters over member labels (Sets were removed from the API).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from components.model.catalog import (
    CRITICAL_SERVICES,
    DATA_SERVICES,
    SERVICE_BY_NAME,
    START_ORDER,
    ComponentName,
    Layer,
    needs_of,
    tier_of,
)

SpaceKind = Literal["base", "filters", "dev", "staging", "prod", "prod-eu"]


def project_of(prefix: str) -> str:
    """The design's `${prefix}-traderx` project name (the `project` space label)."""
    return f"{prefix}-traderx"


def space_slug(prefix: str, kind: SpaceKind) -> str:
    return f"{project_of(prefix)}-{kind}"


def space_labels(prefix: str, kind: SpaceKind) -> dict[str, str]:
    """Labels from the design's space table."""
    labels = {"project": project_of(prefix)}
    if kind == "filters":
        labels["type"] = "filters"
        return labels
    labels["environment"] = kind
    if kind != "base":
        labels["targetable"] = "true"
    if kind in ("prod", "prod-eu"):  # prod-eu: a second prod region, as critical as prod
        labels["critical"] = "true"
    return labels


def unit_slug(component: ComponentName) -> str:
    return component


def _layer(component: ComponentName) -> str:
    if component == "namespace":
        return Layer.PLATFORM.value
    if component == "ingress":
        return Layer.FRONTEND.value
    return SERVICE_BY_NAME[component].layer.value


def unit_labels(component: ComponentName, environment: str) -> dict[str, str]:
    """service, layer, tech, order, port, critical, environment (+ tier for parallel starts)."""
    spec = SERVICE_BY_NAME.get(component)
    return {
        "service": component,
        "layer": _layer(component),
        "tech": spec.tech if spec else "kubernetes",
        "order": str(START_ORDER.index(component)),
        "tier": str(tier_of(component)),
        "port": str(spec.port if spec else (80 if component == "ingress" else 0)),
        "critical": "true" if spec and spec.critical else "false",
        "environment": environment,
    }


class FilterDef(BaseModel):
    """A saved Unit filter in the filters space."""

    model_config = ConfigDict(frozen=True)

    slug: str
    where: str


def _in(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


def project_scope(prefix: str) -> str:
    """The `where` clause every filter and set starts with: only this project's spaces."""
    return f"Space.Labels.project = '{project_of(prefix)}'"


def filters(prefix: str) -> tuple[FilterDef, ...]:
    """The design's 7 filters, scoped to this project's spaces."""
    scope = project_scope(prefix)
    return (
        FilterDef(slug="all", where=scope),
        FilterDef(slug="frontend", where=f"{scope} AND Labels.layer = 'frontend'"),
        FilterDef(slug="backend", where=f"{scope} AND Labels.layer = 'backend'"),
        FilterDef(slug="data", where=f"{scope} AND Labels.layer = 'data'"),
        FilterDef(
            slug="core-services",
            where=f"{scope} AND Labels.service IN "
            + _in(("reference-data", "people-service", "account-service")),
        ),
        FilterDef(
            slug="trading-services",
            where=f"{scope} AND Labels.service IN "
            + _in(("trade-service", "trade-processor", "trade-feed")),
        ),
        # `Labels.order IS NOT NULL` exists only in newer dialects; a regex match is in every
        # version, is false for units without the label, and also checks the value's shape.
        FilterDef(slug="ordered", where=f"{scope} AND Labels.order ~ '^[0-9]+$'"),
    )


class SetDef(BaseModel):
    """A design 'set': labels on the set's filter, and the services that are members."""

    model_config = ConfigDict(frozen=True)

    slug: str
    labels: dict[str, str]
    members: tuple[str, ...]


SETS: tuple[SetDef, ...] = (
    SetDef(
        slug="critical-services",
        labels={"tier": "critical", "monitor": "true", "alert": "pagerduty"},
        members=CRITICAL_SERVICES,
    ),
    SetDef(
        slug="data-services",
        labels={"tier": "data", "layer": "data", "backup": "required"},
        members=DATA_SERVICES,
    ),
)


class LinkDef(BaseModel):
    """A ConfigHub link from a consumer unit to the unit it needs, in the same space."""

    model_config = ConfigDict(frozen=True)

    slug: str
    from_component: ComponentName
    to_component: ComponentName


def links() -> tuple[LinkDef, ...]:
    """Each workload/ingress → its namespace unit; each database user → the database unit."""
    out: list[LinkDef] = []
    for component in START_ORDER:
        if component == "namespace":
            continue
        out.append(
            LinkDef(
                slug=f"{component}-to-namespace", from_component=component, to_component="namespace"
            )
        )
        if component in DATA_SERVICES and component != "database":
            out.append(
                LinkDef(
                    slug=f"{component}-to-database",
                    from_component=component,
                    to_component="database",
                )
            )
    return tuple(out)


def unit_dependencies(component: ComponentName) -> tuple[ComponentName, ...]:
    """Units a unit's apply waits for: the namespace and its direct runtime needs."""
    if component == "namespace":
        return ()
    needs = needs_of(component)
    return needs if needs else ("namespace",)
