"""Deleting a prod ConfigHub space or unit needs an explicit override.

Policies only see the resources a program declares, not the ones it drops, so the gate is
Pulumi's `protect` option: prod Spaces and Units must be protected, which makes the engine refuse
to delete or replace them. To delete one on purpose, a reviewed change lists its slug in this
policy's `allowDeletion` config (or "*"), sets protect=False, and only then removes it.
"""

from __future__ import annotations

from pulumi_policy import ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from .base import context_for, schema
from .objects import SPACE_TYPE, UNIT_TYPE, unit_label
from .values import plain

CONFIG = {
    "allowDeletion": {
        "type": "array",
        "items": {"type": "string"},
        "description": "Slugs of prod spaces/units that may be unprotected (deleted); '*' for all.",
    }
}


def _validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type not in (SPACE_TYPE, UNIT_TYPE):
        return
    props = plain(args.props)
    if not isinstance(props, dict):
        return
    ctx = context_for(args, props)
    if not ctx.is_prod or args.opts.protect:
        return
    slug = unit_label(props, args.name)
    allowed = ctx.strings("allowDeletion", ())
    if slug in allowed or "*" in allowed:
        return
    kind = "space" if args.resource_type == SPACE_TYPE else "unit"
    report(
        f"prod ConfigHub {kind} '{slug}' is not protected, so removing it from the program would "
        "delete it; declare it with pulumi.ResourceOptions(protect=True). To delete it on "
        f"purpose, add '{slug}' to this policy's allowDeletion config in the same reviewed change.",
        None,
    )


def policies() -> list[ResourceValidationPolicy]:
    return [
        ResourceValidationPolicy(
            name="prod-deletion-needs-override",
            description="Prod ConfigHub spaces and units must be protected against deletion.",
            validate=_validate,
            config_schema=schema(CONFIG),
        )
    ]
