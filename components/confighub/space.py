"""ConfigHub Space as a Pulumi resource (`pulumi-python:dynamic/confighub:Space`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, NotRequired, Required

import pulumi
import pulumi.dynamic
from typing_extensions import TypedDict, Unpack

from .base import EntityProvider, InputField
from .kinds import SPACE
from .resource import resource_props


class SpaceArgs(TypedDict, total=False):
    slug: Required[pulumi.Input[str]]
    labels: NotRequired[pulumi.Input[Mapping[str, pulumi.Input[str]]]]


class SpaceProvider(EntityProvider):
    kind = SPACE
    id_output = "space_id"
    fields: ClassVar[dict[str, InputField]] = {
        "slug": InputField("Slug", required=True, replace=True, slug=True),
        "labels": InputField("Labels", "map"),
    }

    def space_of(self, props: Mapping[str, Any]) -> str | None:
        return None


class Space(pulumi.dynamic.Resource, module="confighub", name="Space"):
    """A ConfigHub space; replaced when its slug changes."""

    slug: pulumi.Output[str]
    labels: pulumi.Output[dict[str, str]]
    space_id: pulumi.Output[str]

    def __init__(
        self,
        resource_name: str,
        args: SpaceArgs | None = None,
        opts: pulumi.ResourceOptions | None = None,
        **kwargs: Unpack[SpaceArgs],
    ) -> None:
        props = resource_props(SpaceProvider, resource_name, args, kwargs, opts)
        super().__init__(SpaceProvider(), resource_name, props, opts)
