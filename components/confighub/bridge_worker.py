"""ConfigHub BridgeWorker as a Pulumi resource; its secret is a Pulumi secret output.

The server generates the worker's secret at creation. It is stored in Pulumi state only as a
secret (encrypted; `additional_secret_outputs`), never as plain text, and never logged.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Required

import pulumi
import pulumi.dynamic
from pulumi.dynamic import CreateResult
from typing_extensions import TypedDict, Unpack

from .base import EntityProvider, InputField
from .kinds import BRIDGE_WORKER
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

    def create(self, props: dict[str, Any]) -> CreateResult:
        """Create; an adopted worker (left by an interrupted run) whose secret the server no
        longer reveals is ours, so it is deleted and re-created to obtain a usable secret."""
        client = self.client()
        space_id = self.space_of(props)
        body = self.create_body(props)
        entity, adopted = client.create_or_adopt(self.kind, space_id, body, **self.adoption(props))
        if adopted and not (isinstance(entity, BridgeWorkerEntity) and entity.secret):
            client.delete(self.kind, space_id, entity.id)
            entity, _ = client.create_or_adopt(self.kind, space_id, body, **self.adoption(props))
        elif adopted:
            entity = self.converge(entity, props)
        return CreateResult(entity.id, self.outputs(entity, props))

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
        props = resource_props(BridgeWorkerProvider, resource_name, args, kwargs, opts)
        secret_opts = pulumi.ResourceOptions(additional_secret_outputs=["secret"])
        opts = pulumi.ResourceOptions.merge(opts, secret_opts)
        super().__init__(BridgeWorkerProvider(), resource_name, props, opts)
