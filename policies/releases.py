"""A promotion or rollback into prod must reference an existing release (issue #13).

The program declares one `Release` resource per downstream stack (components/confighub/
release.py). When its pins change (a promotion, or a rollback putting earlier pins back), its
provider's check has looked the referenced release up in ConfigHub (`traderx:release.source`:
a staging release whose tagged revisions the moved pins equal, or one of prod's own releases
with the same pins) and set `source_verified`; an unknown release already fails that check.
This rule makes the reference mandatory in prod: changed pins without a verified source fail.
"""

from __future__ import annotations

from pulumi_policy import ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from .base import schema
from .environment import environment_of_name, stack_environment
from .objects import CONFIGHUB_TYPE_PREFIX
from .values import plain

RELEASE_TYPE = CONFIGHUB_TYPE_PREFIX + "Release"


def violation(props: dict[str, object], environment: str) -> str | None:
    """Why this Release step breaks the rule (None when it does not)."""
    recorded = props.get("environment")
    # prod-eu (a second prod region) is prod too: its promotions from prod need a release
    if environment != "prod" and environment_of_name(str(recorded or "")) != "prod":
        return None
    if props.get("changed") is not True or props.get("source_verified") is True:
        return None
    return (
        f"this prod promotion/rollback (traderx:promote = {props.get('pins')}) references no "
        "existing release; set traderx:release.source to the upstream release being promoted "
        "(traderx release list staging, or prod for prod-eu) or to the release rolled back to "
        f"(or use `traderx rollback env {recorded or 'prod'} --to <release>`)"
    )


def _validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != RELEASE_TYPE:
        return
    props = plain(args.props)
    if not isinstance(props, dict):
        return
    message = violation(props, stack_environment(dict(args.get_config() or {})))
    if message:
        report(message, None)


def policies() -> list[ResourceValidationPolicy]:
    return [
        ResourceValidationPolicy(
            name="prod-release-referenced",
            description="A promotion or rollback into prod must reference an existing release.",
            validate=_validate,
            config_schema=schema({}),
        )
    ]
