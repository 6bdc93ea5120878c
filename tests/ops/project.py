"""A small TraderX-like project in a real ConfigHub server, with every kind a backup holds.

Spaces base, filters, dev, staging (labelled as components/layout.py labels them). Histories
worth restoring: a base unit with five revisions (updates, a restore to an older revision, and a
restore of the head that repeats its data), a dev clone taken at base revision 2 that later
changes on its own, and a staging clone of dev taken at dev revision 1; tags on several
revisions, a change set spanning two tags, a target, a worker, a validating trigger (which gates
one unit), filters, and links across spaces.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

MERGE = {"Content-Type": "application/merge-patch+json"}


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def deployment(
    name: str,
    image: str = "ghcr.io/finos/traderx/trade-service:latest",
    replicas: int = 1,
    cpu: str = "250m",
    memory: str = "256Mi",
    namespace: str = "traderx-dev",
) -> str:
    return f"""apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  namespace: {namespace}
spec:
  replicas: {replicas}
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}}}
    spec:
      containers:
      - name: {name}
        image: {image}
        resources:
          requests: {{cpu: "{cpu}", memory: "{memory}"}}
---
apiVersion: v1
kind: Service
metadata:
  name: {name}
  namespace: {namespace}
spec:
  selector: {{app: {name}}}
  ports: [{{port: 18092}}]
"""


def ok(resp: httpx.Response) -> Any:
    assert resp.status_code in (200, 207), (
        f"{resp.request.method} {resp.request.url}: {resp.status_code} {resp.text}"
    )
    body = resp.json()
    if isinstance(body, dict) and len(body) == 1 and isinstance(next(iter(body.values())), dict):
        return next(iter(body.values()))
    return body


@dataclass
class Project:
    prefix: str
    spaces: dict[str, dict[str, Any]] = field(default_factory=dict)
    units: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"{self.prefix}-traderx"

    def slug(self, kind: str) -> str:
        return f"{self.name}-{kind}"


def _labels(project: str, kind: str) -> dict[str, str]:
    if kind == "filters":
        return {"project": project, "type": "filters"}
    labels = {"project": project, "environment": kind}
    if kind != "base":
        labels["targetable"] = "true"
    return labels


def build(http: httpx.Client) -> Project:
    proj = Project(prefix="ops" + uuid.uuid4().hex[:8])
    for kind in ("base", "filters", "dev", "staging"):
        proj.spaces[kind] = ok(
            http.post(
                "/space",
                json={
                    "Slug": proj.slug(kind),
                    "Labels": _labels(proj.name, kind),
                    "Annotations": {"pulumi.com/managed-by": "traderx-confighub"},
                },
            )
        )
    base, dev, staging = (proj.spaces[k]["SpaceID"] for k in ("base", "dev", "staging"))
    filters = proj.spaces["filters"]["SpaceID"]

    ok(
        http.post(
            f"/space/{filters}/filter",
            json={
                "Slug": "all",
                "From": "Unit",
                "Where": f"Space.Labels.project = '{proj.name}'",
                "Labels": {"purpose": "all"},
            },
        )
    )
    ok(
        http.post(
            f"/space/{filters}/filter",
            json={
                "Slug": "dev-only",
                "From": "Unit",
                "FromSpaceID": dev,
                "Where": "Labels.order ~ '^[0-9]+$'",
            },
        )
    )

    worker = ok(http.post(f"/space/{dev}/bridge_worker", json={"Slug": "dev-worker"}))
    target = ok(
        http.post(
            f"/space/{dev}/target",
            json={
                "Slug": "dev-target",
                "BridgeWorkerID": worker["BridgeWorkerID"],
                "ProviderType": "Kubernetes",
                "ToolchainType": "Kubernetes/YAML",
                "Parameters": '{"KubeContext": "kwok-traderx", "ReadyTimeoutSeconds": 60}',
            },
        )
    )
    cs = ok(http.post(f"/space/{dev}/change_set", json={"Slug": "release-1", "Description": "R1"}))
    tag1 = ok(http.post(f"/space/{dev}/tag", json={"Slug": "r1-start"}))
    tag2 = ok(
        http.post(f"/space/{dev}/tag", json={"Slug": "r1-end", "ChangeSetID": cs["ChangeSetID"]})
    )
    ok(
        http.patch(
            f"/space/{dev}/change_set/{cs['ChangeSetID']}",
            headers=MERGE,
            json={"StartTagID": tag1["TagID"], "EndTagID": tag2["TagID"]},
        )
    )
    ok(
        http.post(
            f"/space/{dev}/trigger",
            json={
                "Slug": "no-placeholders",
                "Event": "Mutation",
                "ToolchainType": "Kubernetes/YAML",
                "FunctionName": "vet-placeholders",
                "BridgeWorkerID": worker["BridgeWorkerID"],
            },
        )
    )

    def unit(space: str, slug: str, data: str, **extra: Any) -> dict[str, Any]:
        params = extra.pop("params", None)
        body = {
            "Slug": slug,
            "ToolchainType": "Kubernetes/YAML",
            "Data": b64(data),
            "Labels": {"service": slug},
            **extra,
        }
        return dict(ok(http.post(f"/space/{space}/unit", json=body, params=params)))

    def write(space: str, unit_id: str, data: str, **extra: Any) -> dict[str, Any]:
        return dict(
            ok(
                http.patch(
                    f"/space/{space}/unit/{unit_id}",
                    headers=MERGE,
                    json={"Data": b64(data), **extra},
                )
            )
        )

    def tag(unit_id: str, tag_id: str) -> None:
        ok(
            http.post(
                "/unit/tag",
                params={"where": f"UnitID = '{unit_id}'"},
                json={"TagID": tag_id, "Revision": "HeadRevisionNum"},
            )
        )

    ts = unit(
        base,
        "trade-service",
        deployment("trade-service"),
        LastChangeDescription="created",
        Annotations={"pulumi.com/managed-by": "traderx-confighub"},
    )
    tid = ts["UnitID"]
    write(
        base,
        tid,
        deployment("trade-service", image="ghcr.io/finos/traderx/trade-service:v2"),
        LastChangeDescription="image v2",
    )  # r2
    dev_ts = unit(
        dev,
        "trade-service",
        deployment("trade-service", image="ghcr.io/finos/traderx/trade-service:v2"),
        params={"upstream_unit_id": tid},
        TargetID=target["TargetID"],
        Labels={"service": "trade-service", "order": "7"},
    )
    write(
        base, tid, deployment("trade-service", replicas=3), LastChangeDescription="3 replicas"
    )  # r3
    ok(http.patch(f"/space/{base}/unit/{tid}", params={"restore": "2"}))  # r4 == r2
    ok(http.patch(f"/space/{base}/unit/{tid}", params={"restore": "HeadRevisionNum"}))  # r5 == r4

    did = dev_ts["UnitID"]
    tag(did, tag1["TagID"])  # dev r1 tagged r1-start
    staging_ts = unit(
        staging,
        "trade-service",
        deployment(
            "trade-service",
            image="ghcr.io/finos/traderx/trade-service:v2",
            namespace="traderx-staging",
        ),
        params={"upstream_unit_id": did},
    )
    write(
        dev,
        did,
        deployment(
            "trade-service", image="ghcr.io/finos/traderx/trade-service:v3", cpu="2", memory="4Gi"
        ),
        LastChangeDescription="v3 and big requests",
        ChangeSetID=cs["ChangeSetID"],
    )  # dev r2 in cs
    tag(did, tag2["TagID"])
    write(
        dev,
        did,
        deployment(
            "trade-service",
            image="ghcr.io/finos/traderx/trade-service:v3",
            replicas=2,
            cpu="2",
            memory="4Gi",
        ),
        ChangeSetID=None,
        LastChangeDescription="2 replicas",
    )  # dev r3, no change set

    db = unit(
        dev,
        "database",
        deployment(
            "database", image="ghcr.io/finos/traderx/database:latest", cpu="500m", memory="1Gi"
        ),
        Labels={"service": "database", "order": "1"},
    )
    gated = unit(
        dev,
        "web-front-end",
        deployment("web-front-end", image="ghcr.io/finos/traderx/web-front-end-angular:latest")
        + "# {{ placeholder }}\n",
    )
    bad = write(dev, gated["UnitID"], deployment("web-front-end", image="confighubplaceholder"))
    assert bad.get("ApplyGates"), f"the validating trigger should gate the unit: {bad}"
    ok(
        http.post(
            f"/space/{dev}/link",
            json={"Slug": "ts-to-db", "FromUnitID": did, "ToUnitID": db["UnitID"]},
        )
    )
    ok(
        http.post(
            f"/space/{staging}/link",
            json={
                "Slug": "staging-to-dev-db",
                "FromUnitID": staging_ts["UnitID"],
                "ToUnitID": db["UnitID"],
            },
        )
    )
    proj.units = {
        "base/trade-service": ts,
        "dev/trade-service": dev_ts,
        "staging/trade-service": staging_ts,
    }
    return proj
