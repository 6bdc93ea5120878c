"""Pure rendering: (settings, catalog) → Kubernetes manifests per ConfigHub unit.

Each unit's data is the YAML of one component: the Namespace; a service's Deployment and
Service; or the Ingresses. The database credentials appear only as ``secretKeyRef`` to the
Secret that the platform component creates; no secret value is ever rendered.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict

from components.model.catalog import (
    DATABASE_CLAIM_NAME,
    DEFAULT_DATABASE_STORAGE,
    DEFAULT_IMAGE_REGISTRY,
    DEFAULT_IMAGE_TAG,
    FORBIDDEN_PATHS,
    ROUTES,
    SERVICE_BY_NAME,
    SERVICE_NAMES,
    ComponentName,
    Layer,
    Probe,
    Resources,
    ServiceSpec,
    TraderXError,
)
from components.model.settings import Settings

Manifest = dict[str, Any]
DB_SECRET_NAME = "traderx-db-credentials"
DB_SECRET_USER_KEY = "username"
DB_SECRET_PASSWORD_KEY = "password"
PART_OF = "traderx"


class RenderContext(BaseModel):
    """Everything environment-specific the renderer needs (base, dev, staging or prod)."""

    model_config = ConfigDict(frozen=True)

    environment: str
    namespace: str
    images: dict[str, str]
    replicas: dict[str, int]
    resources: dict[str, Resources]
    host: str
    ingress_class: str = "nginx"
    tls_secret: str | None = None
    cluster_issuer: str | None = None
    env: dict[str, dict[str, str]] = {}
    database_storage: str = DEFAULT_DATABASE_STORAGE
    database_storage_class: str | None = None


def context_for(settings: Settings) -> RenderContext:
    """An environment's render context, all from its own settings (never from revisions)."""
    env = settings.environment
    tls = settings.ingress.tls_secret_name or f"traderx-{env}-tls"
    return RenderContext(
        environment=env,
        namespace=settings.namespace,
        images={name: settings.image_for(name) for name in SERVICE_NAMES},
        replicas={name: settings.replicas_for(name) for name in SERVICE_NAMES},
        resources={name: settings.resources_for(name) for name in SERVICE_NAMES},
        host=settings.host,
        ingress_class=settings.ingress.class_name,
        tls_secret=tls if settings.ingress.tls else None,
        cluster_issuer=settings.ingress.cluster_issuer,
        env={name: settings.env_for(name) for name in SERVICE_NAMES if settings.env_for(name)},
        database_storage=settings.database_storage,
        database_storage_class=settings.database_storage_class,
    )


def base_context() -> RenderContext:
    """The base units' context: the catalog's defaults, independent of any stack's config."""
    return RenderContext(
        environment="base",
        namespace="traderx-base",
        images={
            name: f"{DEFAULT_IMAGE_REGISTRY}/{SERVICE_BY_NAME[name].image}:{DEFAULT_IMAGE_TAG}"
            for name in SERVICE_NAMES
        },
        replicas={name: SERVICE_BY_NAME[name].fixed_replicas or 1 for name in SERVICE_NAMES},
        resources={name: SERVICE_BY_NAME[name].resources for name in SERVICE_NAMES},
        host="traderx-base.localtest.me",
    )


def selector_labels(service: str) -> dict[str, str]:
    """Stable labels a Deployment selects on and NetworkPolicies match (never the version)."""
    return {"app.kubernetes.io/name": service, "app.kubernetes.io/part-of": PART_OF}


#: trade-service's stable pods carry `track: stable` and its Service selects by it too, so the
#: canary's pods (`track: canary`, issue #14) are reached only through the canary Ingress and the
#: canary weight is exact. The Deployment's selector stays `selector_labels` (it is immutable
#: in Kubernetes); a Service selector may be a superset of it.
TRACK_LABEL = "traderx.finos.org/track"
TRACKED_SERVICES = frozenset({"trade-service"})


def stable_track(service: str) -> dict[str, str]:
    """The track label of a service's stable pods (empty for services without a canary)."""
    return {TRACK_LABEL: "stable"} if service in TRACKED_SERVICES else {}


def _version(image: str) -> str:
    if "@" in image:
        return image.rsplit("@", 1)[1].replace("sha256:", "")[:12]
    return image.rsplit(":", 1)[1] if ":" in image.rsplit("/", 1)[-1] else "latest"


def object_labels(
    ctx: RenderContext, component: str, layer: str, image: str | None = None
) -> dict[str, str]:
    """The app.kubernetes.io/* labels every rendered object carries."""
    labels = {
        **selector_labels(component),
        "app.kubernetes.io/instance": f"{component}-{ctx.environment}",
        "app.kubernetes.io/component": layer,
        "app.kubernetes.io/managed-by": "confighub",
        "traderx/environment": ctx.environment,
    }
    if image:
        labels["app.kubernetes.io/version"] = _version(image)
    return labels


def _probe(p: Probe, *, period: int, failures: int, delay: int = 0) -> Manifest:
    action: Manifest = (
        {"httpGet": {"path": p.path, "port": p.port}} if p.path else {"tcpSocket": {"port": p.port}}
    )
    probe = {**action, "periodSeconds": period, "timeoutSeconds": 3, "failureThreshold": failures}
    if delay:
        probe["initialDelaySeconds"] = delay
    return probe


def _env(spec: ServiceSpec, own: Mapping[str, str]) -> list[Manifest]:
    env: list[Manifest] = [{"name": k, "value": own.get(k, v)} for k, v in spec.static_env]
    static = {k for k, _ in spec.static_env}
    env += [{"name": k, "value": v} for k, v in sorted(own.items()) if k not in static]
    if spec.name == "database" or spec.uses_database:
        refs = (
            ("DATABASE_DBUSER", DB_SECRET_USER_KEY),
            ("DATABASE_DBPASS", DB_SECRET_PASSWORD_KEY),
        )
        for var, key in refs:
            env.append(
                {"name": var, "valueFrom": {"secretKeyRef": {"name": DB_SECRET_NAME, "key": key}}}
            )
    return env


def _security(spec: ServiceSpec) -> tuple[Manifest, Manifest]:
    pod: Manifest = {"seccompProfile": {"type": "RuntimeDefault"}}
    container: Manifest = {"allowPrivilegeEscalation": False}
    if spec.run_as_user is not None:
        pod.update(runAsNonRoot=True, runAsUser=spec.run_as_user, runAsGroup=spec.run_as_user)
        container["capabilities"] = {"drop": ["ALL"]}
    return pod, container


def render_deployment(ctx: RenderContext, spec: ServiceSpec) -> Manifest:
    """The Deployment of one service: probes on real endpoints, resources, security context."""
    image = ctx.images[spec.name]
    res = ctx.resources[spec.name]
    pod_sec, container_sec = _security(spec)
    container: Manifest = {
        "name": spec.name,
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "ports": [{"name": p.name, "containerPort": p.port, "protocol": "TCP"} for p in spec.ports],
        "env": _env(spec, ctx.env.get(spec.name, {})),
        "readinessProbe": _probe(spec.readiness, period=10, failures=3),
        "livenessProbe": _probe(spec.liveness, period=20, failures=3),
        "resources": {
            "requests": {"cpu": res.cpu_request, "memory": res.memory_request},
            "limits": {"cpu": res.cpu_limit, "memory": res.memory_limit},
        },
        "securityContext": container_sec,
    }
    if spec.jvm:
        # Gradle bootRun compiles at start: allow up to 5 minutes before liveness counts.
        container["startupProbe"] = _probe(spec.liveness, period=10, failures=30)
    volumes: list[Manifest] = []
    if spec.name == "database":
        container["volumeMounts"] = [{"name": "data", "mountPath": "/database/_data"}]
        volumes.append(
            {"name": "data", "persistentVolumeClaim": {"claimName": DATABASE_CLAIM_NAME}}
        )
    metrics_port = spec.port
    pod_spec: Manifest = {
        "serviceAccountName": spec.name,
        "automountServiceAccountToken": False,
        "securityContext": pod_sec,
        "containers": [container],
    }
    if volumes:
        pod_spec["volumes"] = volumes
    single = spec.fixed_replicas == 1
    labels = object_labels(ctx, spec.name, spec.layer.value, image)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": spec.name, "namespace": ctx.namespace, "labels": labels},
        "spec": {
            "replicas": ctx.replicas[spec.name],
            "revisionHistoryLimit": 5,
            # Never two databases / two trade processors at once, even during a rollout.
            "strategy": (
                {"type": "Recreate"}
                if single
                else {
                    "type": "RollingUpdate",
                    "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
                }
            ),
            "selector": {"matchLabels": selector_labels(spec.name)},
            "template": {
                "metadata": {
                    "labels": {**labels, **stable_track(spec.name)},
                    "annotations": {
                        # No TraderX service exports Prometheus metrics today; the annotations
                        # are declared so a scraper finds the port once one does.
                        "prometheus.io/scrape": "false",
                        "prometheus.io/port": str(metrics_port),
                        "prometheus.io/path": "/metrics",
                    },
                },
                "spec": pod_spec,
            },
        },
    }


def render_database_claim(ctx: RenderContext) -> Manifest:
    """The database's data volume: a ReadWriteOnce claim the Deployment mounts at its data
    directory, so the H2 files (and a restored backup) outlive the pod. No class: the
    cluster's default StorageClass provisions it."""
    spec: Manifest = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": ctx.database_storage}},
    }
    if ctx.database_storage_class:
        spec["storageClassName"] = ctx.database_storage_class
    db = SERVICE_BY_NAME["database"]
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {
            "name": DATABASE_CLAIM_NAME,
            "namespace": ctx.namespace,
            "labels": object_labels(ctx, db.name, db.layer.value),
        },
        "spec": spec,
    }


def render_service(ctx: RenderContext, spec: ServiceSpec) -> Manifest:
    """ClusterIP Service on the native port(s): the apps append them to `*_HOST` values."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": spec.name,
            "namespace": ctx.namespace,
            "labels": object_labels(ctx, spec.name, spec.layer.value),
        },
        "spec": {
            "type": "ClusterIP",
            "selector": {**selector_labels(spec.name), **stable_track(spec.name)},
            "ports": [
                {"name": p.name, "port": p.port, "targetPort": p.port, "protocol": "TCP"}
                for p in spec.ports
            ],
        },
    }


def render_namespace(ctx: RenderContext) -> Manifest:
    """The Namespace object, owned by the ConfigHub namespace unit (order 0)."""
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": ctx.namespace,
            "labels": {
                **object_labels(ctx, "namespace", Layer.PLATFORM.value),
                "kubernetes.io/metadata.name": ctx.namespace,
                "pod-security.kubernetes.io/enforce": "baseline",
            },
        },
    }


def _ingress(
    ctx: RenderContext, name: str, paths: list[Manifest], annotations: dict[str, str]
) -> Manifest:
    if ctx.cluster_issuer:
        annotations = {**annotations, "cert-manager.io/cluster-issuer": ctx.cluster_issuer}
    spec: Manifest = {
        "ingressClassName": ctx.ingress_class,
        "rules": [{"host": ctx.host, "http": {"paths": paths}}],
    }
    if ctx.tls_secret:
        spec["tls"] = [{"hosts": [ctx.host], "secretName": ctx.tls_secret}]
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {
            "name": name,
            "namespace": ctx.namespace,
            "labels": object_labels(ctx, "ingress", Layer.FRONTEND.value),
            "annotations": annotations,
        },
        "spec": spec,
    }


def _backend(service: str) -> Manifest:
    return {"service": {"name": service, "port": {"number": SERVICE_BY_NAME[service].port}}}


def render_ingress(ctx: RenderContext) -> list[Manifest]:
    """Two Ingresses: API routes with the prefix stripped, and web + websocket routes as is.

    nginx's rewrite-target applies to a whole Ingress object, so stripped and unstripped
    routes cannot share one.
    """
    api_paths = [
        {
            "path": f"{r.path}(/|$)(.*)",
            "pathType": "ImplementationSpecific",
            "backend": _backend(r.service),
        }
        for r in ROUTES
        if r.strip_prefix
    ]
    web_paths = [
        {"path": r.path, "pathType": "Prefix", "backend": _backend(r.service)}
        for r in ROUTES
        if not r.strip_prefix
    ]
    docs = [
        _ingress(
            ctx,
            "traderx-api",
            api_paths,
            {
                "nginx.ingress.kubernetes.io/use-regex": "true",
                "nginx.ingress.kubernetes.io/rewrite-target": "/$2",
            },
        ),
        _ingress(
            ctx,
            "traderx-web",
            web_paths,
            {
                # Socket.IO keeps a websocket open: nginx proxies the upgrade, keep it alive.
                "nginx.ingress.kubernetes.io/proxy-read-timeout": "3600",
                "nginx.ingress.kubernetes.io/proxy-send-timeout": "3600",
            },
        ),
    ]
    for doc in docs:
        for rule in doc["spec"]["rules"]:
            for path in rule["http"]["paths"]:
                if any(path["path"].startswith(f) for f in FORBIDDEN_PATHS):
                    raise TraderXError(f"ingress route {path['path']} must never be exposed")
    return docs


def render_component(ctx: RenderContext, component: ComponentName) -> list[Manifest]:
    """All objects of one ConfigHub unit."""
    if component == "namespace":
        return [render_namespace(ctx)]
    if component == "ingress":
        return render_ingress(ctx)
    spec = SERVICE_BY_NAME[component]
    docs = [render_deployment(ctx, spec), render_service(ctx, spec)]
    if component == "database":
        docs.append(render_database_claim(ctx))
    return docs


_SafeDumper: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _NoAliasDumper(_SafeDumper):  # type: ignore[misc,valid-type]
    """Shared label dicts must be written out in full, not as YAML anchors. libyaml's emitter
    when PyYAML has it: the same text, several times faster (every `up` renders every unit)."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def to_yaml(docs: list[Manifest]) -> str:
    """Deterministic multi-document YAML (stable text → stable ConfigHub diffs)."""
    return yaml.dump_all(docs, Dumper=_NoAliasDumper, sort_keys=True, default_flow_style=False)
