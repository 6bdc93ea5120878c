"""Every ConfigHub resource through the real Pulumi engine against the local server.

create -> no-op up (zero API calls, counted in the provider process) -> change one field (exactly
one update, one write) -> out-of-band edits in ConfigHub noticed by refresh and restored by the
next up -> several fields changed -> destroy (nothing left on the server). Secrets: neither the
API token nor the worker secret appears in plain text in the stack export, the server's DB, the
engine output or the call log.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pulumi
import pytest

from components.confighub import (
    BridgeWorker,
    ChangeSet,
    Filter,
    Link,
    Space,
    Tag,
    Target,
    Unit,
    UnitSet,
    UpstreamRevision,
)
from components.confighub.base import MANAGED_BY_KEY, marker
from components.confighub.client import (
    BRIDGE_WORKER,
    CHANGE_SET,
    FILTER,
    LINK,
    SPACE,
    TAG,
    TARGET,
    UNIT,
    ConfigHubClient,
)
from components.confighub.models import encode_data
from components.confighub.yamldata import same_data

from .engine import EngineStack, changes

pytestmark = pytest.mark.engine

BASE = """apiVersion: apps/v1
kind: Deployment
metadata: {name: trade-service}
spec:
  replicas: 1
  template:
    spec:
      containers: [{name: trade-service, image: "trade-service:1"}]
"""
DOWN = BASE.replace("replicas: 1", "replicas: 3")


def build(spec: dict[str, Any]) -> None:
    u = spec["u"]
    space = Space("space", slug=f"eng-{u}", labels=spec["space_labels"])
    down = Space("down", slug=f"eng-{u}-down")
    Tag("tag", space_id=space.space_id, slug="release-1")
    ChangeSet("cs", space_id=space.space_id, slug="cs-1", description=spec["cs_description"])
    Filter("filter", space_id=space.space_id, slug="backend", from_kind="Unit", where=spec["where"])
    unit_set = UnitSet("critical", space_id=space.space_id, slug="critical", labels={"tier": "1"})
    worker = BridgeWorker("worker", space_id=space.space_id, slug="worker")
    target = Target(
        "target",
        space_id=space.space_id,
        slug="cluster",
        bridge_worker_id=worker.worker_id,
        provider_type="Kubernetes",
        toolchain_type="Kubernetes/YAML",
        parameters=spec["target_params"],
    )
    base = Unit(
        "base",
        space_id=space.space_id,
        slug="trade-service",
        data=spec["base_data"],
        labels={**spec["base_labels"], **UnitSet.member_labels("critical")},
        apply=False,
    )
    ns = Unit(
        "ns",
        space_id=space.space_id,
        slug="namespace",
        data="apiVersion: v1\nkind: Namespace\nmetadata: {name: traderx}\n",
        labels=spec["ns_labels"],
    )
    clone = Unit(
        "clone",
        space_id=down.space_id,
        slug="trade-service",
        data=DOWN,
        upstream_unit_id=base.unit_id,
        upstream_revision_num=base.head_revision_num,
    )
    Link(
        "link",
        space_id=space.space_id,
        slug="ts-to-ns",
        from_unit_id=base.unit_id,
        to_unit_id=ns.unit_id,
    )
    rev = UpstreamRevision("rev1", space_id=space.space_id, unit_id=base.unit_id, revision_num=1)
    pulumi.export("space_id", space.space_id)
    pulumi.export("down_id", down.space_id)
    pulumi.export("base_id", base.unit_id)
    pulumi.export("clone_id", clone.unit_id)
    pulumi.export("clone_upstream_rev", clone.upstream_revision_num)
    pulumi.export("worker_secret", worker.secret)
    pulumi.export("target_id", target.target_id)
    pulumi.export("set_filter_id", unit_set.filter_id)
    pulumi.export("rev1_images", rev.images)


def by_slug(hub: ConfigHubClient, kind: Any, space_id: str | None) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for entity in hub.list_entities(kind, space_id):
        assert entity.slug not in found, f"duplicate {kind.name} {entity.slug}"
        found[entity.slug] = entity
    return found


def test_every_resource_lifecycle_through_the_engine(
    toolchain: Any,
    pulumi_backend: str,
    confighub_server: Any,
    hub: ConfigHubClient,
    tmp_path: Path,
    unique: str,
) -> None:
    spec: dict[str, Any] = {
        "u": unique,
        "space_labels": {"project": "t"},
        "cs_description": "first",
        "where": "Labels.layer = 'backend'",
        "target_params": {"KubeContext": "kwok"},
        "base_data": BASE,
        "base_labels": {"layer": "backend"},
        "ns_labels": {"layer": "platform"},
    }
    st = EngineStack(
        "life",
        lambda: build(spec),
        toolchain=toolchain,
        backend=pulumi_backend,
        url=confighub_server.url,
        token=confighub_server.token,
        workdir=tmp_path,
    )

    # 1. create
    res = st.up()
    out = {k: v.value for k, v in res.outputs.items()}
    assert changes(res)["create"] >= 14
    space_id, down_id = out["space_id"], out["down_id"]
    units = by_slug(hub, UNIT, space_id)
    assert set(units) == {"trade-service", "namespace"}
    assert units["trade-service"].labels["set_critical"] == "member"
    assert all(u.annotations[MANAGED_BY_KEY] == marker("chtest/life") for u in units.values())
    clone = hub.get_unit(down_id, out["clone_id"])
    assert clone.upstream_unit_id == out["base_id"] and same_data(clone.text, DOWN)
    for kind, slugs in (
        (TAG, {"release-1"}),
        (CHANGE_SET, {"cs-1"}),
        (LINK, {"ts-to-ns"}),
        (FILTER, {"backend", "set-critical"}),
        (BRIDGE_WORKER, {"worker"}),
        (TARGET, {"cluster"}),
    ):
        assert set(by_slug(hub, kind, space_id)) == slugs, kind.name
    assert out["rev1_images"] == {"trade-service": "trade-service:1"}
    worker_secret = out["worker_secret"]
    assert isinstance(worker_secret, str) and len(worker_secret) >= 16

    # 2. no-op up: zero API calls of any kind
    st.reset_calls()
    res = st.up()
    assert set(changes(res)) == {"same"}
    calls = st.calls()
    assert (calls.reads, calls.writes) == (0, 0), calls.by_route

    # 3. one field of one unit -> exactly that unit, one write
    spec["ns_labels"] = {"layer": "platform", "order": "0"}
    st.reset_calls()
    res = st.up()
    assert changes(res).get("update") == 1, changes(res)
    assert st.calls().writes == 1, st.calls().by_route
    assert hub.get(UNIT, space_id, units["namespace"].id).labels["order"] == "0"

    # 4. out-of-band edits: refresh notices them, up restores the declared state
    base_id = out["base_id"]
    hub.patch(
        UNIT, space_id, base_id, {"Data": encode_data(BASE.replace("replicas: 1", "replicas: 9"))}
    )
    filt = by_slug(hub, FILTER, space_id)["backend"]
    hub.patch(FILTER, space_id, filt.id, {"Where": "Labels.layer = 'oops'"})
    hub.delete(TAG, space_id, by_slug(hub, TAG, space_id)["release-1"].id)
    refreshed = changes(st.refresh())
    assert refreshed.get("update", 0) >= 2 and refreshed.get("delete") == 1, refreshed
    res = st.up()
    assert changes(res).get("create") == 1, changes(res)  # the deleted tag
    assert same_data(hub.get_unit(space_id, base_id).text, BASE)
    assert by_slug(hub, FILTER, space_id)["backend"].where == spec["where"]
    assert "release-1" in by_slug(hub, TAG, space_id)
    clone = hub.get_unit(down_id, out["clone_id"])
    assert same_data(clone.text, DOWN), clone.text  # upgraded, then declared data kept
    st.reset_calls()
    assert set(changes(st.up())) == {"same"}
    assert st.calls().writes == 0

    # 5. several fields of several types
    spec["space_labels"] = {"project": "t", "owner": "me"}
    spec["cs_description"] = "second"
    spec["target_params"] = {"KubeContext": "other"}
    res = st.up()
    assert changes(res).get("update") == 3, changes(res)
    assert hub.get(SPACE, None, space_id).labels == {"project": "t", "owner": "me"}
    assert by_slug(hub, CHANGE_SET, space_id)["cs-1"].description == "second"

    # secrets: token and worker secret never in plain text
    exported = st.export()
    assert confighub_server.token not in exported
    assert worker_secret not in exported
    assert "ciphertext" in exported
    for path in (st.engine_log, st.call_log):
        if path.exists():
            text = path.read_text()
            assert confighub_server.token not in text and worker_secret not in text, path
    for sid in (space_id, down_id):
        for unit in hub.list_entities(UNIT, sid):
            stored = json.dumps(unit.wire())
            assert confighub_server.token not in stored and worker_secret not in stored
            assert confighub_server.token not in hub.get_unit(sid, unit.id).text
    db = Path(confighub_server.db_path)
    for f in (db, db.with_name(db.name + "-wal")):
        if f.exists():
            assert confighub_server.token.encode() not in f.read_bytes(), f

    # 6. destroy: nothing of ours left
    st.destroy()
    assert hub.find_by_slug(SPACE, None, f"eng-{unique}") is None
    assert hub.find_by_slug(SPACE, None, f"eng-{unique}-down") is None
