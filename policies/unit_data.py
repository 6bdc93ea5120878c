"""A ConfigHub unit's data must parse as Kubernetes YAML (otherwise no other rule can check it)."""

from __future__ import annotations

from pulumi_policy import ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from .base import schema
from .objects import UNIT_TYPE, UnitDataError, objects_of
from .values import plain


def _validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != UNIT_TYPE:
        return
    try:
        objects_of(args.resource_type, plain(args.props), args.name)
    except UnitDataError as exc:
        report(f"{exc}; fix the rendered manifest so every document is a Kubernetes object.", None)


def policies() -> list[ResourceValidationPolicy]:
    return [
        ResourceValidationPolicy(
            name="unit-data-is-kubernetes-yaml",
            description="ConfigHub unit data must be Kubernetes YAML.",
            validate=_validate,
            config_schema=schema(),
        )
    ]
