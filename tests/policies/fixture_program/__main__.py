"""A small Pulumi program declaring the resource types the TraderX program declares (ConfigHub
Space/Unit/Target as `pulumi-python:dynamic/confighub:<Kind>`, unit data = rendered Kubernetes
YAML, prod units cloned from staging units), driven by the JSON config `fixture:spec`.

Its dynamic provider keeps everything in Pulumi state (no ConfigHub server needed), so the policy
pack and the preview-comment renderer can be exercised with the real engine anywhere.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pulumi
import yaml
from pulumi.dynamic import CreateResult, DiffResult, Resource, ResourceProvider, UpdateResult

_REPLACE_ON = ("slug", "space_id")


class _StateOnly(ResourceProvider):
    """Deterministic ids from the inputs; outputs echo the inputs plus `<kind>_id`."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def _outs(self, props: dict[str, Any]) -> dict[str, Any]:
        key = f"{self.kind}:{props.get('space_id', '')}:{props.get('slug', '')}"
        return {**props, f"{self.kind}_id": str(uuid.uuid5(uuid.NAMESPACE_URL, key))}

    def create(self, props: dict[str, Any]) -> CreateResult:
        outs = self._outs(props)
        return CreateResult(outs[f"{self.kind}_id"], outs)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        keys = {k for k in set(olds) | set(news) if not k.startswith("__") and k in news}
        changed = sorted(k for k in keys if olds.get(k) != news.get(k))
        replaces = [k for k in changed if k in _REPLACE_ON]
        return DiffResult(changes=bool(changed), replaces=replaces, delete_before_replace=True)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(self._outs(news))

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        return None


class Space(Resource, module="confighub", name="Space"):
    space_id: pulumi.Output[str]

    def __init__(self, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions) -> None:
        super().__init__(_StateOnly("space"), name, {**props, "space_id": None}, opts)


class Unit(Resource, module="confighub", name="Unit"):
    unit_id: pulumi.Output[str]

    def __init__(self, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions) -> None:
        super().__init__(_StateOnly("unit"), name, {**props, "unit_id": None}, opts)


class Target(Resource, module="confighub", name="Target"):
    target_id: pulumi.Output[str]

    def __init__(self, name: str, props: dict[str, Any], opts: pulumi.ResourceOptions) -> None:
        super().__init__(_StateOnly("target"), name, {**props, "target_id": None}, opts)


def deployment(service: str, cfg: dict[str, Any], namespace: str) -> list[dict[str, Any]]:
    """A Deployment that passes the pack unless `cfg` says otherwise, plus its Service."""
    env: list[dict[str, Any]] = [{"name": "SERVICE_NAME", "value": service}]
    if cfg.get("literal_password"):
        env.append({"name": "DATABASE_DBPASS", "value": cfg["literal_password"]})
    else:
        secret_ref = {"secretKeyRef": {"name": "traderx-db", "key": "password"}}
        env.append({"name": "DATABASE_DBPASS", "valueFrom": secret_ref})
    labels = {"app.kubernetes.io/name": service, "app.kubernetes.io/part-of": "traderx"}
    probe = {"tcpSocket": {"port": 8080}, "periodSeconds": 10}
    container = {
        "name": service,
        "image": cfg["image"],
        "env": env,
        "ports": [{"containerPort": 8080}],
        "resources": {
            "requests": {"cpu": "100m", "memory": "256Mi"},
            "limits": {"cpu": "500m", "memory": cfg.get("memory", "512Mi")},
        },
        "securityContext": {"allowPrivilegeEscalation": False},
        "readinessProbe": probe,
        "livenessProbe": probe,
    }
    return [
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": service, "namespace": namespace, "labels": labels},
            "spec": {
                "replicas": cfg.get("replicas", 1),
                "selector": {"matchLabels": {"app.kubernetes.io/name": service}},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "securityContext": {"runAsNonRoot": True, "runAsUser": 1000},
                        "containers": [container],
                    },
                },
            },
        },
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": service, "namespace": namespace, "labels": labels},
            "spec": {"selector": {"app.kubernetes.io/name": service}, "ports": [{"port": 8080}]},
        },
    ]


def namespace_docs(namespace: str, default_deny: bool) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
    ]
    if default_deny:
        docs.append(
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "NetworkPolicy",
                "metadata": {"name": "default-deny", "namespace": namespace},
                "spec": {"podSelector": {}, "policyTypes": ["Ingress"]},
            }
        )
    return docs


def environment(
    env: str, spec: dict[str, Any], upstream: dict[str, Unit] | None
) -> dict[str, Unit]:
    """One ConfigHub space with a namespace unit and a unit per service.

    Everything a prod stack declares is judged as prod (the stricter of stack and label), so
    with `protect` the staging side it declares for the clone pairs is protected too.
    """
    protect = bool(spec.get("protect")) and spec.get("environment") == "prod"
    opts = pulumi.ResourceOptions(protect=protect)
    space = Space(
        f"space-{env}",
        {"slug": f"traderx-{env}", "labels": {"project": "traderx", "environment": env}},
        opts,
    )
    token = pulumi.Config("fixture").get_secret("token")
    parameters: dict[str, Any] = {"kubeContext": "kwok-traderx"}
    if token is not None:
        parameters["token"] = token
    target = Target(
        f"target-{env}",
        {"space_id": space.space_id, "slug": f"cluster-{env}", "parameters": parameters},
        pulumi.ResourceOptions(parent=space),
    )
    namespace = f"traderx-{env}"
    docs = {"namespace": ("namespace", namespace_docs(namespace, spec.get("default_deny", True)))}
    for service, cfg in spec.get("services", {}).items():
        docs[service] = (cfg.get("slug", service), deployment(service, cfg, namespace))
    units: dict[str, Unit] = {}
    for key, (slug, manifests) in docs.items():
        props: dict[str, Any] = {
            "space_id": space.space_id,
            "slug": slug,
            "data": yaml.safe_dump_all(manifests, sort_keys=False),
            "labels": {"project": "traderx", "environment": env, "component": slug},
            "annotations": {},
            "target_id": target.target_id,
            "apply": True,
        }
        if upstream is not None and key in upstream:
            props["upstream_unit_id"] = upstream[key].unit_id
        unit_protect = protect and key not in spec.get("unprotect", [])
        units[key] = Unit(
            f"{env}-{key}", props, pulumi.ResourceOptions(parent=space, protect=unit_protect)
        )
    return units


def main() -> None:
    spec = json.loads(pulumi.Config("fixture").require("spec"))
    env = spec["environment"]
    upstream = None
    if spec.get("staging"):
        upstream = environment("staging", spec.get("staging_spec", spec), None)
    units = environment(env, spec, upstream)
    pulumi.export("units", sorted(units))


main()
