"""ConfigHub BridgeWorker as a Pulumi resource; its secret is a Pulumi secret output.

The server generates the worker's secret at creation. It is stored in Pulumi state only as a
secret (encrypted; `additional_secret_outputs`), never as plain text, and never logged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Required

import pulumi
import pulumi.dynamic
from typing_extensions import TypedDict, Unpack

from .base import EntityProvider, InputField
from .client import BRIDGE_WORKER
from .models import BridgeWorker as BridgeWorkerEntity
from .models import Entity
from .resource import resource_props


class BridgeWorkerArgs(TypedDict, total=False):
    space_id: Required[pulumi.Input[str]]
    slug: Required[pulumi.Input[str]]


class BridgeWorkerProvider(EntityProvider):
    kind = BRIDGE_WORKER
    id_output = "worker_id"
    extra_outputs = ("secret",)
    fields: ClassVar[dict[str, InputField]] = {
        "space_id": InputField("SpaceID", required=True, replace=True),
        "slug": InputField("Slug", required=True, replace=True, slug=True),
    }

    def extras(self, entity: Entity, props: Mapping[str, Any]) -> dict[str, Any]:
        """The secret: from the server when it sends one, else the one already in state."""
        secret = entity.secret if isinstance(entity, BridgeWorkerEntity) else None
        return {"secret": secret or props.get("secret")}


class BridgeWorker(pulumi.dynamic.Resource, module="confighub", name="BridgeWorker"):
    """A bridge worker registration; `secret` is what the worker process authenticates with."""

    space_id: pulumi.Output[str]
    slug: pulumi.Output[str]
    worker_id: pulumi.Output[str]
    secret: pulumi.Output[str]

    def __init__(
        self,
        resource_name: str,
        args: BridgeWorkerArgs | None = None,
        opts: pulumi.ResourceOptions | None = None,
        **kwargs: Unpack[BridgeWorkerArgs],
    ) -> None:
        props = resource_props(BridgeWorkerProvider, resource_name, args, kwargs)
        secret_opts = pulumi.ResourceOptions(additional_secret_outputs=["secret"])
        opts = pulumi.ResourceOptions.merge(opts, secret_opts)
        super().__init__(BridgeWorkerProvider(), resource_name, props, opts)
