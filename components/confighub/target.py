"""ConfigHub Target (where a bridge worker applies units) as a Pulumi resource."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, NotRequired, Required

import pulumi
import pulumi.dynamic
from typing_extensions import TypedDict, Unpack

from .base import EntityProvider, InputField
from .kinds import TARGET
from .resource import resource_props


class TargetArgs(TypedDict, total=False):
    space_id: Required[pulumi.Input[str]]
    slug: Required[pulumi.Input[str]]
    bridge_worker_id: Required[pulumi.Input[str]]
    provider_type: Required[pulumi.Input[str]]
    toolchain_type: Required[pulumi.Input[str]]
    parameters: NotRequired[pulumi.Input[str] | pulumi.Input[Mapping[str, Any]]]


class TargetProvider(EntityProvider):
    kind = TARGET
    id_output = "target_id"
    fields: ClassVar[dict[str, InputField]] = {
        "space_id": InputField("SpaceID", required=True, replace=True),
        "slug": InputField("Slug", required=True, replace=True, slug=True),
        "bridge_worker_id": InputField("BridgeWorkerID", required=True),
        "provider_type": InputField("ProviderType", required=True),
        "toolchain_type": InputField("ToolchainType", required=True),
        "parameters": InputField("Parameters", "json"),
    }


class Target(pulumi.dynamic.Resource, module="confighub", name="Target"):
    """ConfigHub Target (where a bridge worker applies units) as a Pulumi resource."""

    space_id: pulumi.Output[str]
    slug: pulumi.Output[str]
    bridge_worker_id: pulumi.Output[str]
    provider_type: pulumi.Output[str]
    toolchain_type: pulumi.Output[str]
    parameters: pulumi.Output[Any]
    target_id: pulumi.Output[str]

    def __init__(
        self,
        resource_name: str,
        args: TargetArgs | None = None,
        opts: pulumi.ResourceOptions | None = None,
        **kwargs: Unpack[TargetArgs],
    ) -> None:
        props = resource_props(TargetProvider, resource_name, args, kwargs, opts)
        super().__init__(TargetProvider(), resource_name, props, opts)
