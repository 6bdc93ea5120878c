"""Prod units come from staging: every ConfigHub unit in prod has an upstream unit (it was
promoted), unless labelled as an approved exception; when the upstream is a unit in the same
stack, it must be a staging unit."""

from __future__ import annotations

from typing import Any

from pulumi_policy import (
    PolicyResource,
    ReportViolation,
    StackValidationArgs,
    StackValidationPolicy,
)

from .base import schema
from .environment import label_environment, unit_environment
from .objects import UNIT_TYPE, unit_label
from .values import plain

CONFIG = {
    "exceptionLabel": {
        "type": "string",
        "description": "Label that marks a prod unit as an approved exception (value 'approved').",
    }
}
DEFAULT_EXCEPTION_LABEL = "promotion-exception"


def violations(resources: list[PolicyResource], config: dict[str, Any]) -> list[tuple[str, str]]:
    """(message, urn) for each prod unit not downstream of a staging unit."""
    label = config.get("exceptionLabel") or DEFAULT_EXCEPTION_LABEL
    found: list[tuple[str, str]] = []
    # a unit that is another unit's upstream in this same stack is the staging side of a clone
    # pair, not a prod unit (judged by structure, never by its label)
    upstreams = {
        dep.urn
        for res in resources
        for dep in res.property_dependencies.get("upstream_unit_id", [])
    }
    for res in resources:
        if res.resource_type != UNIT_TYPE or res.urn in upstreams:
            continue
        props = plain(res.props)
        labels = props.get("labels") if isinstance(props.get("labels"), dict) else {}
        if unit_environment(labels, config) != "prod" or labels.get(label) == "approved":
            continue
        unit = unit_label(props, res.name)
        upstream = props.get("upstream_unit_id")
        if upstream is None or upstream == "":
            found.append(
                (
                    f"prod ConfigHub unit '{unit}' has no upstream unit; create it as a clone of "
                    "its staging unit (upstream_unit_id) so prod only receives promoted changes, "
                    f"or label it {label}=approved as a reviewed exception.",
                    res.urn,
                )
            )
            continue
        for dep in res.property_dependencies.get("upstream_unit_id", []):
            if dep.resource_type != UNIT_TYPE:
                continue
            dep_props = plain(dep.props)
            # what the upstream unit is, by its own label (not judged in this stack's terms)
            dep_env = label_environment(dep_props.get("labels")) or "dev"
            if dep_env != "staging":
                found.append(
                    (
                        f"prod ConfigHub unit '{unit}' is downstream of {dep_env} unit "
                        f"'{unit_label(dep_props, dep.name)}'; make its upstream the staging "
                        "unit of the same component.",
                        res.urn,
                    )
                )
    return found


def _validate(args: StackValidationArgs, report: ReportViolation) -> None:
    for message, urn in violations(list(args.resources), dict(args.get_config() or {})):
        report(message, urn)


def policies() -> list[StackValidationPolicy]:
    return [
        StackValidationPolicy(
            name="prod-units-from-staging",
            description="Prod ConfigHub units must be downstream of staging units.",
            validate=_validate,
            config_schema=schema(CONFIG),
        )
    ]
