"""Smoke program: proves the engine, the kubernetes provider, kwok and dynamic providers.

A Namespace, a Deployment that the kubernetes provider awaits until its replicas are
available (kwok marks the pods Ready on its fake node), and one dynamic-provider resource
defined here (so it is pickled by value and runs in pulumi-resource-pulumi-python).
"""

from __future__ import annotations

import hashlib
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
from pulumi.dynamic import (
    CreateResult,
    DiffResult,
    ReadResult,
    Resource,
    ResourceProvider,
    UpdateResult,
)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class DigestProvider(ResourceProvider):
    """Stores the SHA-256 of its input; the id is the digest, so create is idempotent."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        digest = _digest(props["text"])
        return CreateResult(id_=digest, outs={"text": props["text"], "digest": digest})

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = olds.get("text") != news.get("text")
        return DiffResult(changes=changed, replaces=["text"] if changed else [])

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        return ReadResult(id_=id_, outs=props)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(outs={"text": news["text"], "digest": _digest(news["text"])})

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        return None


class Digest(Resource):
    """A dynamic resource whose output is the digest of ``text``."""

    digest: pulumi.Output[str]

    def __init__(
        self, name: str, text: pulumi.Input[str], opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__(DigestProvider(), name, {"text": text, "digest": None}, opts)


config = pulumi.Config("smoke")
namespace_name = config.require("namespace")
replicas = config.get_int("replicas") or 2
labels = {"app": "smoke"}

namespace = k8s.core.v1.Namespace("ns", metadata={"name": namespace_name})
namespace_name_out: pulumi.Output[str] = namespace.metadata.apply(
    lambda m: m.name or namespace_name
)
deployment = k8s.apps.v1.Deployment(
    "web",
    metadata={"namespace": namespace_name_out, "name": "web"},
    spec={
        "replicas": replicas,
        "selector": {"match_labels": labels},
        "template": {
            "metadata": {"labels": labels},
            "spec": {"containers": [{"name": "web", "image": "registry.invalid/smoke:1"}]},
        },
    },
)
digest = Digest("digest", text=namespace_name_out)

pulumi.export("namespace", namespace_name_out)
pulumi.export(
    "available_replicas", deployment.status.apply(lambda s: s.available_replicas if s else None)
)
pulumi.export("digest", digest.digest)
