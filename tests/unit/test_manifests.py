"""Rendered manifests: probes, replicas, secrets by reference, routes, TLS, labels, determinism."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from components.confighub.yamldata import images
from components.model.catalog import SERVICE_NAMES, START_ORDER
from components.model.manifests import (
    DB_SECRET_NAME,
    base_context,
    context_for,
    render_component,
    to_yaml,
)
from components.model.settings import Settings, load_settings
from tests.unit.stackconfig import TOKEN_ENV, stack_config


def settings(stack: str = "dev", **overrides: Any) -> Settings:
    cfg = stack_config(stack, **overrides)
    return load_settings(cfg, project="traderx", stack=stack, environ=TOKEN_ENV)


def deployment(s: Settings, name: str) -> dict[str, Any]:
    docs = render_component(context_for(s), name)  # type: ignore[arg-type]
    return next(d for d in docs if d["kind"] == "Deployment")


def container(s: Settings, name: str) -> dict[str, Any]:
    return deployment(s, name)["spec"]["template"]["spec"]["containers"][0]


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_every_service_has_deployment_and_service_on_native_ports(name: str) -> None:
    docs = render_component(context_for(settings()), name)  # type: ignore[arg-type]
    kinds = [d["kind"] for d in docs]
    # the database also owns its data volume's claim (after the two, so indices stay put)
    extra = ["PersistentVolumeClaim"] if name == "database" else []
    assert kinds == ["Deployment", "Service", *extra]
    svc_ports = {p["port"] for p in docs[1]["spec"]["ports"]}
    ctr_ports = {
        p["containerPort"] for p in docs[0]["spec"]["template"]["spec"]["containers"][0]["ports"]
    }
    assert svc_ports == ctr_ports
    assert 18084 not in svc_ports  # the H2 web console is never exposed
    selector = docs[1]["spec"]["selector"]
    # the Service selects the Deployment's pods (trade-service: only the stable track's)
    assert docs[0]["spec"]["selector"]["matchLabels"].items() <= selector.items()
    assert selector.items() <= docs[0]["spec"]["template"]["metadata"]["labels"].items()


def test_probes_on_real_endpoints_and_startup_probes_for_jvm() -> None:
    s = settings()
    assert container(s, "position-service")["readinessProbe"]["httpGet"]["path"] == "/health/ready"
    assert container(s, "trade-service")["readinessProbe"]["httpGet"]["path"] == "/v3/api-docs"
    assert container(s, "database")["readinessProbe"]["tcpSocket"]["port"] == 18082
    jvm = {"database", "account-service", "position-service", "trade-processor", "trade-service"}
    for name in SERVICE_NAMES:
        assert ("startupProbe" in container(s, name)) == (name in jvm), name


def test_db_credentials_only_by_secret_key_ref() -> None:
    s = settings()
    for name in ("database", "account-service", "position-service", "trade-processor"):
        env = {e["name"]: e for e in container(s, name)["env"]}
        for var in ("DATABASE_DBUSER", "DATABASE_DBPASS"):
            assert "value" not in env[var]
            assert env[var]["valueFrom"]["secretKeyRef"]["name"] == DB_SECRET_NAME
    literal = [
        e["name"]
        for c in SERVICE_NAMES
        for e in container(s, c)["env"]
        if e["name"] in ("DATABASE_DBUSER", "DATABASE_DBPASS") and "value" in e
    ]
    assert literal == []


def test_replicas_per_env_and_fixed_ones() -> None:
    dev = settings()
    prod = settings(
        "prod",
        **{"traderx:promote": dict.fromkeys(SERVICE_NAMES, 1), "traderx:databasePassword": "x"},
    )
    assert deployment(prod, "trade-service")["spec"]["replicas"] == 3
    assert deployment(prod, "people-service")["spec"]["replicas"] == 2  # prod default
    assert deployment(dev, "people-service")["spec"]["replicas"] == 1
    for name in ("database", "trade-feed", "trade-processor"):
        d = deployment(prod, name)
        assert d["spec"]["replicas"] == 1
        assert d["spec"]["strategy"] == {"type": "Recreate"}  # never two at once


def test_security_context_non_root_where_the_image_allows() -> None:
    s = settings()
    ref = deployment(s, "reference-data")["spec"]["template"]["spec"]
    assert ref["securityContext"]["runAsNonRoot"] is True
    assert ref["containers"][0]["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    jvm = deployment(s, "account-service")["spec"]["template"]["spec"]
    assert "runAsNonRoot" not in jvm["securityContext"]  # gradle bootRun writes as root
    assert jvm["containers"][0]["securityContext"]["allowPrivilegeEscalation"] is False
    assert jvm["automountServiceAccountToken"] is False
    assert jvm["serviceAccountName"] == "account-service"


def test_labels_and_prometheus_annotations() -> None:
    d = deployment(settings(), "trade-service")
    labels = d["spec"]["template"]["metadata"]["labels"]
    for key in ("name", "instance", "component", "part-of", "version", "managed-by"):
        assert f"app.kubernetes.io/{key}" in labels
    assert "app.kubernetes.io/version" not in d["spec"]["selector"]["matchLabels"]
    ann = d["spec"]["template"]["metadata"]["annotations"]
    assert ann["prometheus.io/port"] == "18092"


def test_web_front_end_gets_dev_server_memory() -> None:
    res = container(settings(), "web-front-end")["resources"]
    assert res["requests"]["memory"] == "768Mi"
    assert res["limits"]["memory"] == "1536Mi"


def test_ingress_routes_websocket_and_tls_per_env() -> None:
    dev_docs = render_component(context_for(settings()), "ingress")
    staging_docs = render_component(context_for(settings("staging")), "ingress")
    api, web = dev_docs
    api_paths = {p["path"]: p for p in api["spec"]["rules"][0]["http"]["paths"]}
    assert "/trade-service(/|$)(.*)" in api_paths
    assert api["metadata"]["annotations"]["nginx.ingress.kubernetes.io/rewrite-target"] == "/$2"
    web_paths = {
        p["path"]: p["backend"]["service"] for p in web["spec"]["rules"][0]["http"]["paths"]
    }
    assert web_paths["/socket.io"] == {"name": "trade-feed", "port": {"number": 18086}}
    assert web_paths["/"]["name"] == "web-front-end"
    all_paths = [*api_paths, *web_paths]
    assert not any("db-web" in p for p in all_paths)
    assert "tls" not in api["spec"]
    assert staging_docs[0]["spec"]["tls"] == [
        {"hosts": ["traderx-staging.localtest.me"], "secretName": "traderx-staging-tls"}
    ]


def test_image_override_changes_only_that_service() -> None:
    s = settings()
    pinned = settings("dev", **{"traderx:services": {"trade-service": {"image": {"tag": "v9"}}}})
    assert container(s, "trade-service")["image"].endswith(":latest")
    # read back as the Unit provider reads a unit's images (init containers too)
    ctx = context_for(pinned)
    assert images(to_yaml(render_component(ctx, "trade-service"))) == {
        "trade-service": "ghcr.io/finos/traderx/trade-service:v9"
    }
    assert to_yaml(render_component(ctx, "account-service")) == to_yaml(
        render_component(context_for(s), "account-service")
    )


def test_base_context_is_the_catalog_defaults_not_a_stack() -> None:
    """Base units depend on no stack's config: a dev stack's overrides never reach them."""
    ctx = base_context()
    assert ctx.environment == "base" and ctx.namespace == "traderx-base"
    assert ctx.images["trade-service"] == "ghcr.io/finos/traderx/trade-service:latest"
    assert ctx.replicas["trade-service"] == 1 and ctx.env == {}
    tuned = settings(
        "dev",
        **{
            "traderx:imageTag": "v2",
            "traderx:services": {"trade-service": {"replicas": 4, "env": {"A": "1"}}},
        },
    )
    assert context_for(tuned).images["trade-service"].endswith(":v2")
    assert base_context() == ctx


def test_env_values_override_a_catalog_value_or_add_one() -> None:
    s = settings(
        "dev",
        **{
            "traderx:services": {
                "people-service": {"env": {"ASPNETCORE_ENVIRONMENT": "Staging", "EXTRA": "1"}}
            }
        },
    )
    env = {e["name"]: e.get("value") for e in container(s, "people-service")["env"]}
    assert env["ASPNETCORE_ENVIRONMENT"] == "Staging" and env["EXTRA"] == "1"
    assert list(env).count("ASPNETCORE_ENVIRONMENT") == 1


def test_yaml_is_deterministic_and_has_no_aliases() -> None:
    s = settings()
    for c in START_ORDER:
        a = to_yaml(render_component(context_for(s), c))
        b = to_yaml(render_component(context_for(settings()), c))
        assert a == b
        assert "&id" not in a
        assert all(doc["metadata"]["name"] for doc in yaml.safe_load_all(a))


def test_namespace_unit_renders_the_namespace() -> None:
    (ns,) = render_component(context_for(settings()), "namespace")
    assert ns["kind"] == "Namespace"
    assert ns["metadata"]["name"] == "traderx-dev"


def test_database_data_lives_on_a_claim_not_an_empty_dir() -> None:
    for ctx in (
        base_context(),
        context_for(settings()),
        context_for(settings("staging")),
    ):
        docs = render_component(ctx, "database")
        pod = docs[0]["spec"]["template"]["spec"]
        assert pod["volumes"] == [
            {"name": "data", "persistentVolumeClaim": {"claimName": "database-data"}}
        ]
        assert pod["containers"][0]["volumeMounts"] == [
            {"name": "data", "mountPath": "/database/_data"}
        ]
        assert docs[0]["spec"]["strategy"] == {"type": "Recreate"}  # one writer on a RWO volume
        claim = docs[2]
        assert claim["metadata"]["name"] == "database-data"
        assert claim["metadata"]["namespace"] == ctx.namespace
        assert claim["metadata"]["labels"]["traderx/environment"] == ctx.environment
        assert claim["spec"] == {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": "1Gi"}},
        }  # no storageClassName: the cluster's default class provisions it
    for name in SERVICE_NAMES:
        if name != "database":
            rendered = to_yaml(render_component(context_for(settings()), name))  # type: ignore[arg-type]
            assert "PersistentVolumeClaim" not in rendered and "emptyDir" not in rendered


def test_database_storage_size_and_class_from_settings() -> None:
    s = settings(**{"traderx:databaseStorage": "20Gi", "traderx:databaseStorageClass": "fast-ssd"})
    claim = render_component(context_for(s), "database")[2]
    assert claim["spec"]["resources"] == {"requests": {"storage": "20Gi"}}
    assert claim["spec"]["storageClassName"] == "fast-ssd"
