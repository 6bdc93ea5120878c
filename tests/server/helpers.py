"""Small helpers for server tests: unique slugs, base64, creating spaces and units."""

from __future__ import annotations

import base64
import uuid
from typing import Any

import httpx

MERGE = {"Content-Type": "application/merge-patch+json"}


def slug(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def unb64(value: str) -> str:
    return base64.b64decode(value).decode()


def ok(resp: httpx.Response) -> Any:
    assert resp.status_code == 200, (
        f"{resp.request.method} {resp.request.url}: {resp.status_code} {resp.text}"
    )
    return resp.json()


def new_space(client: httpx.Client, prefix: str = "sp", **fields: Any) -> dict[str, Any]:
    space: dict[str, Any] = ok(client.post("/space", json={"Slug": slug(prefix), **fields}))
    return space


def new_unit(
    client: httpx.Client, space_id: str, data: str = "", prefix: str = "u", **fields: Any
) -> dict[str, Any]:
    body = {"Slug": slug(prefix), "ToolchainType": "Kubernetes/YAML", "Data": b64(data), **fields}
    unit: dict[str, Any] = ok(client.post(f"/space/{space_id}/unit", json=body))
    return unit


def new_target(
    client: httpx.Client, space_id: str, worker_id: str, **fields: Any
) -> dict[str, Any]:
    """A Kubernetes/YAML target served by the given bridge worker."""
    body = {
        "Slug": slug("t"),
        "BridgeWorkerID": worker_id,
        "ProviderType": "Kubernetes",
        "ToolchainType": "Kubernetes/YAML",
        **fields,
    }
    target: dict[str, Any] = ok(client.post(f"/space/{space_id}/target", json=body))
    return target


# A namespace, a ConfigMap and a 2-replica Deployment `web` (`{extra}` goes into the pod spec):
# what the worker tests and the cub conformance suite apply to the cluster.
WEB_APP = """\
apiVersion: v1
kind: Namespace
metadata:
  name: {ns}
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: {ns}
data:
  LOG_LEVEL: info
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: {ns}
spec:
  replicas: 2
  selector:
    matchLabels: {{app: web}}
  template:
    metadata:
      labels: {{app: web}}
    spec:
      {extra}
      containers:
      - name: web
        image: nginx:1.27
"""
