"""Kubernetes objects a resource declares: a typed Kubernetes resource, or the documents of a
ConfigHub unit's `data` (rendered YAML, possibly multi-document). Rules see both the same way.
"""

from __future__ import annotations

from typing import Any, Final

import yaml
from pydantic import BaseModel, ConfigDict

from .values import UNKNOWN, dig, plain

CONFIGHUB_TYPE_PREFIX: Final = "pulumi-python:dynamic/confighub:"
UNIT_TYPE: Final = CONFIGHUB_TYPE_PREFIX + "Unit"
SPACE_TYPE: Final = CONFIGHUB_TYPE_PREFIX + "Space"
K8S_PREFIX: Final = "kubernetes:"
WORKLOAD_KINDS: Final = frozenset(
    {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Pod"}
)


class KubeObject(BaseModel):
    """One Kubernetes object and where it was declared (for messages)."""

    model_config = ConfigDict(frozen=True)

    kind: str
    name: str
    namespace: str | None
    body: dict[str, Any]
    origin: str  # "Deployment 'trade-service'" or "ConfigHub unit 'x': Deployment 'trade-service'"

    @property
    def labels(self) -> dict[str, str]:
        labels = dig(self.body, "metadata", "labels", default={})
        return labels if isinstance(labels, dict) else {}

    def pod_spec(self) -> dict[str, Any] | None:
        """The pod template spec of a workload kind, else None."""
        if self.kind not in WORKLOAD_KINDS:
            return None
        if self.kind == "Pod":
            spec = dig(self.body, "spec")
        elif self.kind == "CronJob":
            spec = dig(self.body, "spec", "jobTemplate", "spec", "template", "spec")
        else:
            spec = dig(self.body, "spec", "template", "spec")
        return spec if isinstance(spec, dict) else None

    def containers(self, include_init: bool = False) -> list[dict[str, Any]]:
        """Containers of the pod template (app containers, optionally init containers too)."""
        spec = self.pod_spec() or {}
        keys = ("initContainers", "containers") if include_init else ("containers",)
        found: list[dict[str, Any]] = []
        for key in keys:
            items = spec.get(key)
            if isinstance(items, list):
                found.extend(c for c in items if isinstance(c, dict))
        return found


class UnitDataError(ValueError):
    """A ConfigHub unit's data is not Kubernetes YAML."""


def k8s_kind(resource_type: str) -> str | None:
    """`kubernetes:apps/v1:Deployment` -> `Deployment`; None for non-Kubernetes types."""
    if not resource_type.startswith(K8S_PREFIX):
        return None
    return resource_type.rsplit(":", 1)[-1]


def _name_of(body: dict[str, Any]) -> str:
    name = dig(body, "metadata", "name")
    return name if isinstance(name, str) else "<unnamed>"


def _namespace_of(body: dict[str, Any]) -> str | None:
    ns = dig(body, "metadata", "namespace")
    return ns if isinstance(ns, str) else None


def parse_unit_data(data: Any, unit: str) -> list[dict[str, Any]]:
    """The YAML documents of a unit's data; raises UnitDataError naming the unit and document."""
    if data is UNKNOWN or data is None or data == "":
        return []
    if not isinstance(data, str):
        raise UnitDataError(f"ConfigHub unit '{unit}': data must be YAML text, got {type(data)}")
    try:
        docs = list(yaml.safe_load_all(data))
    except yaml.YAMLError as exc:
        raise UnitDataError(f"ConfigHub unit '{unit}': data is not valid YAML: {exc}") from exc
    out: list[dict[str, Any]] = []
    for i, doc in enumerate(docs):
        if doc is None:
            continue
        if not isinstance(doc, dict) or not isinstance(doc.get("kind"), str):
            raise UnitDataError(
                f"ConfigHub unit '{unit}': YAML document {i + 1} is not a Kubernetes object "
                "(needs a mapping with 'kind')"
            )
        out.append(doc)
    return out


def unit_label(props: dict[str, Any], fallback: str) -> str:
    """How messages name a unit: its slug, else the Pulumi resource name."""
    slug = props.get("slug")
    return slug if isinstance(slug, str) else fallback


def unit_is_deployed(props: dict[str, Any]) -> bool:
    """A unit reaches a cluster only with a target and `apply` not False (templates such as the
    base space's units have neither). An unknown target during preview counts as set."""
    target = props.get("target_id")
    return target not in (None, "") and props.get("apply") is not False


def objects_of(resource_type: str, props: Any, name: str) -> list[KubeObject]:
    """Kubernetes objects declared by a resource (typed Kubernetes resource or ConfigHub unit)."""
    values = plain(props)
    if not isinstance(values, dict):
        return []
    if resource_type == UNIT_TYPE:
        unit = unit_label(values, name)
        return [
            KubeObject(
                kind=doc["kind"],
                name=_name_of(doc),
                namespace=_namespace_of(doc),
                body=doc,
                origin=f"ConfigHub unit '{unit}': {doc['kind']} '{_name_of(doc)}'",
            )
            # a unit that declares only some fields carries the data it will hold in
            # `planned_data` (computed by the provider's check from ConfigHub)
            for doc in parse_unit_data(values.get("data") or values.get("planned_data"), unit)
        ]
    kind = k8s_kind(resource_type)
    if kind is None:
        return []
    obj_name = _name_of(values)
    if obj_name == "<unnamed>":
        obj_name = name
    return [
        KubeObject(
            kind=kind,
            name=obj_name,
            namespace=_namespace_of(values),
            body=values,
            origin=f"{kind} '{obj_name}'",
        )
    ]
