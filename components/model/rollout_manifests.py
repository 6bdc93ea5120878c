"""The Kubernetes objects of a trade-service rollout, derived from prod's own unit data. Pure.

- The new revision: the pod template of the promoted (staging) revision, with prod's own
  environment values carried over (namespace, env labels, container resources, the values of
  env vars prod's Deployment sets), optionally with an image given directly.
- Blue-green: a slot Deployment `trade-service-<slot>` whose pods carry
  `traderx.finos.org/slot: <slot>` and no track; the Service `trade-service` selects the
  active slot, or (no slot) the stable track's pods.
- Canary: a Deployment and a Service `trade-service-canary` (pods `traderx.finos.org/track:
  canary`, still `app.kubernetes.io/name: trade-service`, so the NetworkPolicies let the
  ingress controller reach them) and an Ingress `trade-service-canary` carrying nginx's
  `canary` / `canary-weight` annotations for trade-service's route of `traderx-api`. The
  stable Service selects `track: stable` (components/model/manifests.py), so canary pods get
  exactly the canary weight of the traffic and none through the stable Service.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from components.model.declared import ENV_LABELS, VERSION_LABEL
from components.model.rollout import (
    REPLICAS_OWNER,
    SERVICE,
    SLOT_LABEL,
    TRACK_LABEL,
    RolloutError,
)

Manifest = dict[str, Any]
API_INGRESS = "traderx-api"
CANARY = f"{SERVICE}-canary"
CANARY_ANNOTATION = "nginx.ingress.kubernetes.io/canary"
WEIGHT_ANNOTATION = "nginx.ingress.kubernetes.io/canary-weight"


def find(docs: Iterable[Manifest], kind: str, name: str) -> Manifest:
    for doc in docs:
        if doc.get("kind") == kind and (doc.get("metadata") or {}).get("name") == name:
            return doc
    raise RolloutError(f"no {kind}/{name} in the unit's data")


def _container(dep: Manifest, name: str = SERVICE) -> Manifest:
    for c in dep["spec"]["template"]["spec"]["containers"]:
        if c.get("name") == name:
            return dict(c)
    raise RolloutError(f"Deployment/{dep['metadata']['name']} has no container {name!r}")


def image_of(dep: Manifest) -> str:
    return str(_container(dep).get("image", ""))


def version_of(image: str) -> str:
    if "@" in image:
        return image.rsplit("@", 1)[1].replace("sha256:", "")[:12]
    last = image.rsplit("/", 1)[-1]
    return last.rsplit(":", 1)[1] if ":" in last else "latest"


def pinned(image: str) -> bool:
    """A digest, or a tag other than `latest` (what the prod gate accepts)."""
    return "@sha256:" in image or version_of(image) != "latest"


def new_revision(prod: Manifest, source: Manifest | None = None, image: str = "") -> Manifest:
    """prod's Deployment running the source revision's pod template (and/or `image`), keeping
    prod's own namespace, replicas, env labels, container resources and env values."""
    out = copy.deepcopy(prod)
    if source is not None:
        template = copy.deepcopy(source["spec"]["template"])
        labels = template.setdefault("metadata", {}).setdefault("labels", {})
        own = prod["spec"]["template"].get("metadata", {}).get("labels", {})
        # prod's own env labels, and its track: its Service selects the stable track
        labels.update({k: own[k] for k in (*ENV_LABELS, TRACK_LABEL) if k in own})
        prod_containers = {c["name"]: c for c in prod["spec"]["template"]["spec"]["containers"]}
        for c in template["spec"]["containers"]:
            mine = prod_containers.get(c.get("name"))
            if mine is None:
                continue
            if "resources" in mine:
                c["resources"] = copy.deepcopy(mine["resources"])
            values = {e["name"]: e for e in mine.get("env") or [] if "name" in e}
            c["env"] = [copy.deepcopy(values.get(e.get("name"), e)) for e in c.get("env") or []]
        out["spec"]["template"] = template
    if image:
        for c in out["spec"]["template"]["spec"]["containers"]:
            if c.get("name") == SERVICE:
                c["image"] = image
    version = version_of(image_of(out))
    for meta in (out["metadata"], out["spec"]["template"]["metadata"]):
        labels = meta.setdefault("labels", {})
        if VERSION_LABEL in labels:
            labels[VERSION_LABEL] = version
    return out


def _variant(dep: Manifest, name: str, label: str, value: str, replicas: int) -> Manifest:
    out = copy.deepcopy(dep)
    out["metadata"]["name"] = name
    out["metadata"].setdefault("labels", {})[label] = value
    out["spec"]["replicas"] = replicas
    out["spec"]["selector"]["matchLabels"][label] = value
    out["spec"]["template"]["metadata"].setdefault("labels", {})[label] = value
    return out


def slot_name(slot: str) -> str:
    return f"{SERVICE}-{slot}"


def slot_deployment(dep: Manifest, slot: str, replicas: int) -> Manifest:
    """A slot's Deployment: its pods carry the slot and no track (a Service selecting the
    stable track never reaches a slot that is still being validated)."""
    out = _variant(dep, slot_name(slot), SLOT_LABEL, slot, replicas)
    out["spec"]["template"]["metadata"]["labels"].pop(TRACK_LABEL, None)
    return out


def track_of(dep: Manifest) -> dict[str, str]:
    """The stable Deployment's track label ({} on data from before the track existed)."""
    labels = dep["spec"]["template"].get("metadata", {}).get("labels", {})
    return {TRACK_LABEL: labels[TRACK_LABEL]} if TRACK_LABEL in labels else {}


def routed(service: Manifest, slot: str | None, stable: Manifest | None = None) -> Manifest:
    """The Service selecting one slot's pods, or (None) the stable Deployment's: its track
    label, taken from `stable`'s pod template, if it has one."""
    out = copy.deepcopy(service)
    selector = out["spec"]["selector"]
    selector.pop(SLOT_LABEL, None)
    selector.pop(TRACK_LABEL, None)
    if slot is None:
        selector.update(track_of(stable) if stable is not None else {})
    else:
        selector[SLOT_LABEL] = slot
    return out


def tracked(docs: list[Manifest]) -> list[Manifest] | None:
    """The stack unit's data with the stable track label on the stable pods and in the
    Service selector, or None when it has them (data promoted before the label existed)."""
    out = copy.deepcopy(docs)
    dep, svc = find(out, "Deployment", SERVICE), find(out, "Service", SERVICE)
    labels = dep["spec"]["template"].setdefault("metadata", {}).setdefault("labels", {})
    selector = svc["spec"]["selector"]
    if labels.get(TRACK_LABEL) == "stable" and (
        SLOT_LABEL in selector or selector.get(TRACK_LABEL) == "stable"
    ):
        return None
    labels[TRACK_LABEL] = "stable"
    if SLOT_LABEL not in selector:
        selector[TRACK_LABEL] = "stable"
    return out


def serving_count(dep: Manifest) -> int:
    """The replicas a Deployment declares (Kubernetes' default 1 when it names none)."""
    return int((dep.get("spec") or {}).get("replicas", 1))


def stable_scaled(dep: Manifest, replicas: int) -> Manifest:
    """The stable Deployment at `replicas`; at 0 marked as the rollout's (a slot serves; the
    prod gate's replica rule accepts that), back up unmarked."""
    out = scaled(dep, replicas)
    annotations = dict(out["metadata"].get("annotations") or {})
    if replicas == 0:
        annotations[REPLICAS_OWNER] = "rollout"
    else:
        annotations.pop(REPLICAS_OWNER, None)
    if annotations:
        out["metadata"]["annotations"] = annotations
    else:
        out["metadata"].pop("annotations", None)
    return out


def routed_slot(service: Manifest) -> str | None:
    value = service["spec"].get("selector", {}).get(SLOT_LABEL)
    return str(value) if value else None


def scaled(dep: Manifest, replicas: int) -> Manifest:
    out = copy.deepcopy(dep)
    out["spec"]["replicas"] = replicas
    return out


def canary_deployment(dep: Manifest, replicas: int) -> Manifest:
    return _variant(dep, CANARY, TRACK_LABEL, "canary", replicas)


def canary_service(service: Manifest) -> Manifest:
    out = copy.deepcopy(service)
    out["metadata"]["name"] = CANARY
    out["spec"]["selector"].pop(SLOT_LABEL, None)
    out["spec"]["selector"][TRACK_LABEL] = "canary"
    for key in ("clusterIP", "clusterIPs"):
        out["spec"].pop(key, None)
    return out


def canary_ingress(api: Manifest, weight: int) -> Manifest:
    """An Ingress for trade-service's route only, backed by the canary Service, marked canary."""
    out = copy.deepcopy(api)
    out["metadata"]["name"] = CANARY
    annotations = dict(out["metadata"].get("annotations") or {})
    annotations[CANARY_ANNOTATION] = "true"
    annotations[WEIGHT_ANNOTATION] = str(weight)
    out["metadata"]["annotations"] = annotations
    for rule in out["spec"]["rules"]:
        paths = [p for p in rule["http"]["paths"] if p["backend"]["service"]["name"] == SERVICE]
        if not paths:
            raise RolloutError(f"Ingress/{API_INGRESS} has no route to {SERVICE}")
        for p in paths:
            p["backend"]["service"]["name"] = CANARY
        rule["http"]["paths"] = paths
    return out


def weight_of(ingress: Manifest) -> int:
    return int((ingress["metadata"].get("annotations") or {}).get(WEIGHT_ANNOTATION, "0"))


def canary_docs(
    dep: Manifest, service: Manifest, api: Manifest, *, replicas: int, weight: int
) -> list[Manifest]:
    """The canary unit's data: Deployment, Service, Ingress."""
    return [canary_deployment(dep, replicas), canary_service(service), canary_ingress(api, weight)]


def with_weight(docs: list[Manifest], weight: int, replicas: int | None = None) -> list[Manifest]:
    """The canary unit's data at another weight (and, for an abort, replicas)."""
    out = copy.deepcopy(docs)
    for doc in out:
        if doc["kind"] == "Ingress":
            doc["metadata"]["annotations"][WEIGHT_ANNOTATION] = str(weight)
        if doc["kind"] == "Deployment" and replicas is not None:
            doc["spec"]["replicas"] = replicas
    return out
