"""ConfigHub Tag (a named marker on revisions) as a Pulumi resource."""

from __future__ import annotations

from typing import ClassVar, Required

import pulumi
import pulumi.dynamic
from typing_extensions import TypedDict, Unpack

from .base import EntityProvider, InputField
from .kinds import TAG
from .resource import resource_props


class TagArgs(TypedDict, total=False):
    space_id: Required[pulumi.Input[str]]
    slug: Required[pulumi.Input[str]]


class TagProvider(EntityProvider):
    kind = TAG
    id_output = "tag_id"
    fields: ClassVar[dict[str, InputField]] = {
        "space_id": InputField("SpaceID", required=True, replace=True),
        "slug": InputField("Slug", required=True, replace=True, slug=True),
    }


class Tag(pulumi.dynamic.Resource, module="confighub", name="Tag"):
    """ConfigHub Tag (a named marker on revisions) as a Pulumi resource."""

    space_id: pulumi.Output[str]
    slug: pulumi.Output[str]
    tag_id: pulumi.Output[str]

    def __init__(
        self,
        resource_name: str,
        args: TagArgs | None = None,
        opts: pulumi.ResourceOptions | None = None,
        **kwargs: Unpack[TagArgs],
    ) -> None:
        props = resource_props(TagProvider, resource_name, args, kwargs, opts)
        super().__init__(TagProvider(), resource_name, props, opts)
