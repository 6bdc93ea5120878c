"""Field paths inside unit data, and the fields each environment declares (pure)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from components.confighub import fields as f
from components.model.declared import environment_fields, owned_keys
from components.model.manifests import base_context, context_for, render_component, to_yaml
from components.model.settings import load_settings
from tests.unit.stackconfig import TOKEN_ENV, stack_config

DATA = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: dev, labels: {app.kubernetes.io/instance: web-dev}}
spec:
  replicas: 1
  template:
    spec:
      containers:
      - {name: web, image: web:1, env: [{name: A, value: '1'}]}
---
apiVersion: v1
kind: Namespace
metadata: {name: dev}
"""


def test_keys_escape_slashes_and_select_named_items() -> None:
    key = f.field_key("Deployment/web", "metadata", "labels", "app.kubernetes.io/instance")
    assert key == "Deployment/web:/metadata/labels/app.kubernetes.io~1instance"
    assert f.parse_key(key) == (
        "Deployment",
        "web",
        ["metadata", "labels", "app.kubernetes.io/instance"],
    )
    assert f.parse_key("Namespace:/metadata/name") == ("Namespace", None, ["metadata", "name"])
    with pytest.raises(f.FieldError, match="expected '<Kind>"):
        f.parse_key("Deployment/web")


def test_extract_and_apply_touch_only_the_declared_paths() -> None:
    env_a = f.field_key("Deployment/web", "spec", "template", "spec", "containers", "name=web")
    fields: dict[str, Any] = {
        "Deployment/web:/spec/replicas": 3,
        "Deployment/web:/metadata/labels/app.kubernetes.io~1instance": "web-staging",
        env_a + "/env/name=B/value": "2",  # a new named item is created
        env_a + "/env/name=A": None,  # None removes
        "Namespace:/metadata/name": "staging",
    }
    out = f.apply(DATA, fields)
    docs = list(yaml.safe_load_all(out))
    dep = docs[0]
    assert dep["spec"]["replicas"] == 3
    assert dep["metadata"]["namespace"] == "dev"  # not declared: untouched
    assert dep["spec"]["template"]["spec"]["containers"][0]["env"] == [{"name": "B", "value": "2"}]
    assert docs[1]["metadata"]["name"] == "staging"
    assert f.extract(out, fields) == {**fields}
    assert f.extract(DATA, ["Deployment/web:/spec/paused", "Service/web:/spec"]) == {
        "Deployment/web:/spec/paused": None,
        "Service/web:/spec": None,
    }
    with pytest.raises(f.FieldError, match="no Service documents"):
        f.apply(DATA, {"Service/web:/spec/type": "ClusterIP"})


def test_values_travel_as_canonical_json_text() -> None:
    encoded = f.encode({"a:/x": 3, "b:/y": None, "c:/z": {"b": 1, "a": "2"}})
    assert encoded == {"a:/x": "3", "b:/y": "null", "c:/z": '{"a":"2","b":1}'}
    assert f.decode(encoded) == {"a:/x": 3, "b:/y": None, "c:/z": {"a": "2", "b": 1}}
    with pytest.raises(f.FieldError, match="not JSON"):
        f.decode({"a:/x": "{"})


def test_changes_between_names_each_changed_path() -> None:
    newer = DATA.replace("web:1", "web:2").replace("[{name: A, value: '1'}]", "[]")
    changes = f.changes_between(DATA, newer)
    container = "Deployment/web:/spec/template/spec/containers/name=web"
    assert changes == {
        container + "/image": "web:1 → web:2",
        container + "/env/name=A": '{"name":"A","value":"1"} → absent',
    }


def settings(stack: str, **overrides: Any) -> Any:
    return load_settings(
        stack_config(stack, **overrides), project="traderx", stack=stack, environ=TOKEN_ENV
    )


def test_environment_fields_hold_what_a_full_render_holds_there() -> None:
    s = settings("staging", **{"traderx:services": {"trade-service": {"replicas": 2}}})
    ctx = context_for(s)
    declared = f.decode(environment_fields(ctx, "trade-service", image=False, resources=False))
    full = to_yaml(render_component(ctx, "trade-service"))
    assert f.extract(full, declared) == declared
    # written onto the base unit's data, they make it this environment's, image aside
    base = to_yaml(render_component(base_context(), "trade-service"))
    mixed = list(yaml.safe_load_all(f.apply(base, declared)))
    expected = list(yaml.safe_load_all(full))
    assert mixed[1] == expected[1]  # the Service: every env-specific value is declared
    assert mixed[0]["spec"]["replicas"] == 2
    assert mixed[0]["metadata"]["namespace"] == "traderx-staging"


def test_what_each_environment_owns() -> None:
    dev = owned_keys("trade-service", image=True)
    assert any(k.endswith("/image") for k in dev) and any(k.endswith("/resources") for k in dev)
    staging = owned_keys("trade-service", image=False, resources=False)
    assert not any(k.endswith(("/image", "/resources", "version")) for k in staging)
    assert owned_keys("namespace", image=False)[0] == "Namespace:/metadata/name"
    ingress = owned_keys("ingress", image=False, ingress_docs=["traderx-web"])
    assert "Ingress/traderx-web:/spec/rules/0/host" in ingress
    assert "Ingress/traderx-web:/spec/tls" in ingress


def test_the_database_claim_is_declared_where_it_is_environment_specific() -> None:
    pvc = "PersistentVolumeClaim/database-data"
    keys = owned_keys("database", image=False, resources=False)
    assert f"{pvc}:/metadata/namespace" in keys
    assert f"{pvc}:/metadata/labels/traderx~1environment" in keys
    assert not any(k.startswith(pvc + ":/spec") for k in keys)  # size, class: by promotion
    assert not any(
        k.startswith("PersistentVolumeClaim") for k in owned_keys("web-front-end", image=True)
    )
    # a stack that sets them owns each one it sets, and only that one
    s = settings("staging", **{"traderx:databaseStorage": "5Gi"})
    assert s.configures("database_storage") and not s.configures("database_storage_class")
    declared = f.decode(
        environment_fields(
            context_for(s), "database", image=False, resources=False, storage_size=True
        )
    )
    assert declared[f"{pvc}:/spec/resources/requests/storage"] == "5Gi"
    assert f"{pvc}:/spec/storageClassName" not in declared
    # written onto the base unit's data, the claim lands in staging's namespace at staging's size
    base = to_yaml(render_component(base_context(), "database"))
    claim = list(yaml.safe_load_all(f.apply(base, declared)))[2]
    assert claim["metadata"]["namespace"] == "traderx-staging"
    assert claim["spec"]["resources"]["requests"]["storage"] == "5Gi"
