"""ConfigHub Filter (a saved where-expression over an entity kind) as a Pulumi resource."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar, NotRequired, Required

import pulumi
import pulumi.dynamic
from typing_extensions import TypedDict, Unpack

from .base import EntityProvider, InputField
from .kinds import FILTER
from .resource import resource_props


class FilterArgs(TypedDict, total=False):
    space_id: Required[pulumi.Input[str]]
    slug: Required[pulumi.Input[str]]
    from_kind: Required[pulumi.Input[str]]
    where: NotRequired[pulumi.Input[str]]
    labels: NotRequired[pulumi.Input[Mapping[str, pulumi.Input[str]]]]


class FilterProvider(EntityProvider):
    kind = FILTER
    id_output = "filter_id"
    fields: ClassVar[dict[str, InputField]] = {
        "space_id": InputField("SpaceID", required=True, replace=True),
        "slug": InputField("Slug", required=True, replace=True, slug=True),
        "from_kind": InputField("From", required=True),
        "where": InputField("Where"),
        "labels": InputField("Labels", "map"),
    }


class Filter(pulumi.dynamic.Resource, module="confighub", name="Filter"):
    """ConfigHub Filter (a saved where-expression over an entity kind) as a Pulumi resource."""

    space_id: pulumi.Output[str]
    slug: pulumi.Output[str]
    from_kind: pulumi.Output[str]
    where: pulumi.Output[str]
    labels: pulumi.Output[dict[str, str]]
    filter_id: pulumi.Output[str]

    def __init__(
        self,
        resource_name: str,
        args: FilterArgs | None = None,
        opts: pulumi.ResourceOptions | None = None,
        **kwargs: Unpack[FilterArgs],
    ) -> None:
        props = resource_props(FilterProvider, resource_name, args, kwargs, opts)
        super().__init__(FilterProvider(), resource_name, props, opts)
