"""ConfigHub ChangeSet (groups revisions under one description) as a Pulumi resource."""

from __future__ import annotations

from typing import ClassVar, NotRequired, Required

import pulumi
import pulumi.dynamic
from typing_extensions import TypedDict, Unpack

from .base import EntityProvider, InputField
from .kinds import CHANGE_SET
from .resource import resource_props


class ChangeSetArgs(TypedDict, total=False):
    space_id: Required[pulumi.Input[str]]
    slug: Required[pulumi.Input[str]]
    description: NotRequired[pulumi.Input[str]]


class ChangeSetProvider(EntityProvider):
    kind = CHANGE_SET
    id_output = "change_set_id"
    fields: ClassVar[dict[str, InputField]] = {
        "space_id": InputField("SpaceID", required=True, replace=True),
        "slug": InputField("Slug", required=True, replace=True, slug=True),
        "description": InputField("Description"),
    }


class ChangeSet(pulumi.dynamic.Resource, module="confighub", name="ChangeSet"):
    """ConfigHub ChangeSet (groups revisions under one description) as a Pulumi resource."""

    space_id: pulumi.Output[str]
    slug: pulumi.Output[str]
    description: pulumi.Output[str]
    change_set_id: pulumi.Output[str]

    def __init__(
        self,
        resource_name: str,
        args: ChangeSetArgs | None = None,
        opts: pulumi.ResourceOptions | None = None,
        **kwargs: Unpack[ChangeSetArgs],
    ) -> None:
        props = resource_props(ChangeSetProvider, resource_name, args, kwargs, opts)
        super().__init__(ChangeSetProvider(), resource_name, props, opts)
