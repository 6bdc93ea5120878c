"""The design's Sets, realized without the retired Sets API.

ConfigHub removed Sets from its API in 2026. A set is therefore two things:
- a label on every member unit (`UnitSet.member_labels(slug)`, put on the Unit's `labels`), and
- a saved Filter (`From: Unit`, `Where: <scope> AND Labels.<key> = 'member'`) named after the
  set, carrying the set's own labels, so "the units in set X" is one list call with
  `?filter=<filter_id>`. `scope` (e.g. `Space.Labels.project = 'x'`) keeps a set to one
  project: without it the filter would match the members of every project in the organization.
`UnitSet` is a component (type `confighub:index:UnitSet`) owning that Filter.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, NotRequired, Required

import pulumi
from typing_extensions import TypedDict, Unpack

from .filter import Filter

MEMBER_VALUE = "member"


class UnitSetArgs(TypedDict, total=False):
    space_id: Required[pulumi.Input[str]]
    slug: Required[str]
    labels: NotRequired[pulumi.Input[Mapping[str, pulumi.Input[str]]]]
    scope: NotRequired[str]


def member_label_key(slug: str) -> str:
    """`critical-services` -> `set_critical_services` (a plain identifier in `where` paths)."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]*", slug):
        raise ValueError(f"UnitSet slug {slug!r} must be letters, digits, '-' or '_'")
    return "set_" + slug.replace("-", "_")


def member_where(slug: str, scope: str | None = None) -> str:
    """The set's filter: its member label, within `scope` when given."""
    member = f"Labels.{member_label_key(slug)} = '{MEMBER_VALUE}'"
    return f"{scope} AND {member}" if scope else member


class UnitSet(pulumi.ComponentResource):
    """A named set of units: member labels plus a Filter selecting them (Sets are retired)."""

    filter_id: pulumi.Output[str]

    def __init__(
        self,
        resource_name: str,
        args: UnitSetArgs | None = None,
        opts: pulumi.ResourceOptions | None = None,
        **kwargs: Unpack[UnitSetArgs],
    ) -> None:
        merged: dict[str, Any] = {**dict(args or {}), **dict(kwargs)}
        unknown = sorted(set(merged) - {"space_id", "slug", "labels", "scope"})
        if unknown or "slug" not in merged or "space_id" not in merged:
            raise TypeError(
                f"UnitSet {resource_name!r}: needs space_id and slug (and optional labels, scope); "
                f"unknown inputs {unknown}"
            )
        super().__init__("confighub:index:UnitSet", resource_name, None, opts)
        slug = str(merged["slug"])
        self.slug = slug
        self.filter = Filter(
            f"{resource_name}-filter",
            space_id=merged["space_id"],
            slug=f"set-{slug}",
            from_kind="Unit",
            where=member_where(slug, merged.get("scope")),
            labels=merged.get("labels") or {},
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.filter_id = self.filter.filter_id
        self.register_outputs({"filter_id": self.filter_id})

    @staticmethod
    def member_labels(slug: str) -> dict[str, str]:
        """Labels a unit carries to be a member of set `slug`."""
        return {member_label_key(slug): MEMBER_VALUE}
