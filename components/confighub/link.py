"""ConfigHub Link (from a downstream unit to the upstream unit it needs) as a Pulumi resource."""

from __future__ import annotations

from typing import ClassVar, NotRequired, Required

import pulumi
import pulumi.dynamic
from typing_extensions import TypedDict, Unpack

from .base import EntityProvider, InputField
from .kinds import LINK
from .resource import resource_props


class LinkArgs(TypedDict, total=False):
    space_id: Required[pulumi.Input[str]]
    slug: Required[pulumi.Input[str]]
    from_unit_id: Required[pulumi.Input[str]]
    to_unit_id: Required[pulumi.Input[str]]
    to_space_id: NotRequired[pulumi.Input[str]]


class LinkProvider(EntityProvider):
    kind = LINK
    id_output = "link_id"
    fields: ClassVar[dict[str, InputField]] = {
        "space_id": InputField("SpaceID", required=True, replace=True),
        "slug": InputField("Slug", required=True, replace=True, slug=True),
        "from_unit_id": InputField("FromUnitID", required=True, replace=True),
        "to_unit_id": InputField("ToUnitID", required=True, replace=True),
        "to_space_id": InputField("ToSpaceID", replace=True, server_default=True),
    }


class Link(pulumi.dynamic.Resource, module="confighub", name="Link"):
    """A Link from a downstream unit to the upstream unit it needs."""

    space_id: pulumi.Output[str]
    slug: pulumi.Output[str]
    from_unit_id: pulumi.Output[str]
    to_unit_id: pulumi.Output[str]
    to_space_id: pulumi.Output[str | None]
    link_id: pulumi.Output[str]

    def __init__(
        self,
        resource_name: str,
        args: LinkArgs | None = None,
        opts: pulumi.ResourceOptions | None = None,
        **kwargs: Unpack[LinkArgs],
    ) -> None:
        props = resource_props(LinkProvider, resource_name, args, kwargs, opts)
        super().__init__(LinkProvider(), resource_name, props, opts)
