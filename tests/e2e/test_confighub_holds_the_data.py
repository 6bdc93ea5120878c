"""ConfigHub holds the data (issue #9), end to end: real engine, local server, local cluster.

One flow over dev, staging and prod, each step building on the last:

1. undeclared ConfigHub-side changes survive: `set-env-var` on prod's trade-service (applied by
   the operator in ConfigHub) survives `up --refresh -s prod` with 0 ConfigHub writes, and an
   `up` that changes prod's replicas of that unit makes exactly that change;
2. declared fields are restored: a ConfigHub-side change of those replicas is reported by
   `preview --refresh` naming the field, and `up --refresh` restores it with one data write;
3. a code change waits for promotion: an env var added to trade-service in the manifests code
   changes only base and dev; staging and prod previews and ups report no changes (0 writes);
   promoting that dev
   revision carries it into staging, which keeps its own namespace, replicas and resources;
4. promotion goes back: a lower pin yields the older content;
5. a restore survives: a staging unit restored in ConfigHub survives `up --refresh -s staging`;
then all three stacks are destroyed and nothing is left. (No-op ups, one image change = one
revision and the prod gate: `test_three_environments.py`.)
"""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.confighub.calls import CallCounts
from tests.e2e.run import start
from tests.support.server import ServerProcess

pytestmark = [pytest.mark.engine, pytest.mark.cluster, pytest.mark.slow]

ENVS = ("dev", "staging", "prod")
SVC = "trade-service"
CODE_ENV = "TRADERX_CODE_CHANGE"
REPLICAS_FIELD = f"Deployment/{SVC}:/spec/replicas"
UNIT_ROUTE = "PATCH /space/{id}/unit/{id}"


class Hub:
    """What an operator does in ConfigHub (the API the `cub` CLI calls)."""

    def __init__(self, server: ServerProcess) -> None:
        self.server = server

    def unit(self, space_id: str, unit_id: str) -> dict[str, Any]:
        with self.server.client() as c:
            resp = c.get(f"/space/{space_id}/unit/{unit_id}")
            resp.raise_for_status()
            unit: dict[str, Any] = resp.json()["Unit"]
            return unit

    def docs(self, space_id: str, unit_id: str) -> dict[str, Any]:
        import base64

        text = base64.b64decode(self.unit(space_id, unit_id)["Data"]).decode()
        return {d["kind"]: d for d in yaml.safe_load_all(text) if d}

    def invoke(self, space_id: str, unit_id: str, name: str, **args: Any) -> None:
        body = {
            "FunctionInvocations": [
                {
                    "FunctionName": name,
                    "Arguments": [{"ParameterName": k, "Value": v} for k, v in args.items()],
                }
            ]
        }
        with self.server.client() as c:
            resp = c.post(
                f"/space/{space_id}/function/invoke",
                params={"where": f"UnitID = '{unit_id}'"},
                json=body,
            )
            assert resp.status_code == 200, resp.text

    def restore(self, space_id: str, unit_id: str, revision: int) -> None:
        with self.server.client() as c:
            resp = c.patch(
                f"/space/{space_id}/unit/{unit_id}",
                params={"restore": str(revision)},
                content="null",
                headers={"Content-Type": "application/merge-patch+json"},
            )
            assert resp.status_code == 200, resp.text

    def apply(self, space_id: str, unit_id: str, timeout: float = 120) -> None:
        """Apply the unit's head and wait until it is live (the operator's `cub unit apply`)."""
        with self.server.client() as c:
            resp = c.post(f"/space/{space_id}/unit/{unit_id}/apply")
            assert resp.status_code == 200, resp.text
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            unit = self.unit(space_id, unit_id)
            if unit["LiveRevisionNum"] == unit["HeadRevisionNum"]:
                return
            time.sleep(0.5)
        raise AssertionError(f"unit {unit_id} not applied within {timeout}s")


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    ctr: dict[str, Any] = deployment["spec"]["template"]["spec"]["containers"][0]
    return ctr


def env_names(deployment: dict[str, Any]) -> set[str]:
    return {e["name"] for e in container(deployment).get("env", [])}


def writes(calls: CallCounts) -> dict[str, int]:
    return {k: v for k, v in calls.by_route.items() if not k.startswith(("GET", "HEAD"))}


def add_env_var_in_code(project: Path) -> None:
    """The code change: trade-service gets one more env var in the manifests code."""
    path = project / "components" / "model" / "manifests.py"
    text = path.read_text()
    anchor = "    static = {k for k, _ in spec.static_env}\n"
    assert anchor in text, "manifests.py changed; update the e2e code change"
    extra = (
        f'    if spec.name == "{SVC}":\n'
        f'        env.append({{"name": "{CODE_ENV}", "value": "1"}})\n'
    )
    path.write_text(text.replace(anchor, anchor + extra))


def test_confighub_holds_the_data(
    toolchain: Any, kube_cluster: Any, hub: ServerProcess, pulumi_backend: str, tmp_path: Path
) -> None:
    run = start(
        "own", ENVS, toolchain, kube_cluster, hub, pulumi_backend, tmp_path,
        copied=("components", "__main__.py"),
    )  # fmt: skip
    prefix, namespaces, project, stacks = run.prefix, run.namespaces, run.project, run.stacks
    ops = Hub(hub)
    appsv1 = run.appsv1
    staging_own = {"replicas": 2, "resources": {"cpuRequest": "150m", "memoryLimit": "768Mi"}}
    try:
        run.init(
            "dev",
            {"traderx:prefix": prefix, "traderx:namespace": namespaces["dev"]},
            {"confighub:token": hub.token},
        )
        stacks.up("dev")
        run.init(
            "staging",
            {
                "traderx:namespace": namespaces["staging"],
                "traderx:services": {SVC: staging_own},
            },
            {"confighub:token": hub.token},
        )
        stacks.up("staging")
        pins = {
            s: r
            for s, r in stacks.outputs("staging")["unitRevisions"].items()
            if s not in ("namespace", "ingress")
        }
        run.init(
            "prod",
            {"traderx:namespace": namespaces["prod"], "traderx:promote": pins},
            {"confighub:token": hub.token, "traderx:databasePassword": secrets.token_hex(8)},
        )
        stacks.up("prod")
        outs = {e: stacks.outputs(e) for e in ENVS}
        space = {e: outs[e]["envSpaceId"] for e in ENVS}
        unit = {e: outs[e]["unitIds"][SVC] for e in ENVS}

        # --- 1. an undeclared ConfigHub-side change survives up --refresh with 0 writes ------
        ops.invoke(
            space["prod"], unit["prod"], "set-env-var",
            **{"container-name": SVC, "env-var": "HOTFIX", "env-value": "1"},
        )  # fmt: skip
        ops.apply(space["prod"], unit["prod"])
        mark = stacks.call_mark()
        stacks.up("prod", "--refresh")
        assert writes(stacks.calls_since(mark)) == {}
        deployment = ops.docs(space["prod"], unit["prod"])["Deployment"]
        assert "HOTFIX" in env_names(deployment)
        # ... and an up that changes a declared field of that unit makes exactly that change
        head = ops.unit(space["prod"], unit["prod"])["HeadRevisionNum"]
        stacks.set("prod", f'traderx:services["{SVC}"]["replicas"]', 4)
        mark = stacks.call_mark()
        stacks.up("prod")
        assert writes(stacks.calls_since(mark)).get(UNIT_ROUTE) == 1
        after = ops.unit(space["prod"], unit["prod"])
        assert after["HeadRevisionNum"] == head + 1
        deployment = ops.docs(space["prod"], unit["prod"])["Deployment"]
        assert deployment["spec"]["replicas"] == 4 and "HOTFIX" in env_names(deployment)
        live: Any = appsv1.read_namespaced_deployment(SVC, namespaces["prod"])
        assert live.spec.replicas == 4
        assert "HOTFIX" in {e.name for e in live.spec.template.spec.containers[0].env}
        others = stacks.outputs("prod")["unitRevisions"]
        assert {c for c, r in others.items() if r != outs["prod"]["unitRevisions"][c]} == {SVC}

        # --- 2. a ConfigHub-side change of a declared field: reported, then restored --------
        ops.invoke(space["prod"], unit["prod"], "set-replicas", replicas=9)
        mark = stacks.call_mark()
        preview = stacks.preview("prod", "--refresh")
        assert writes(stacks.calls_since(mark)) == {}
        assert REPLICAS_FIELD in preview and f"traderx-prod-{SVC}" in preview, preview[-3000:]
        mark = stacks.call_mark()
        stacks.up("prod", "--refresh")
        assert writes(stacks.calls_since(mark)).get(UNIT_ROUTE) == 1  # one data write
        deployment = ops.docs(space["prod"], unit["prod"])["Deployment"]
        assert deployment["spec"]["replicas"] == 4 and "HOTFIX" in env_names(deployment)

        # --- 3. a code change waits for promotion ------------------------------------------
        prod_before = ops.unit(space["prod"], unit["prod"])["HeadRevisionNum"]
        staging_before = stacks.outputs("staging")["unitRevisions"]
        dev_before = stacks.outputs("dev")["unitRevisions"]
        base_before = dict(outs["dev"]["baseUnitIds"])
        add_env_var_in_code(project)
        stacks.up("dev")
        dev_after = stacks.outputs("dev")["unitRevisions"]
        assert {c for c in dev_after if dev_after[c] != dev_before[c]} == {SVC}
        assert stacks.outputs("dev")["baseUnitIds"] == base_before
        assert CODE_ENV in env_names(ops.docs(space["dev"], unit["dev"])["Deployment"])
        for e in ("staging", "prod"):
            mark = stacks.call_mark()
            stacks.run("preview", "--expect-no-changes", stack=e)
            stacks.up(e, "--expect-no-changes")
            assert writes(stacks.calls_since(mark)) == {}, e
        staging_doc = ops.docs(space["staging"], unit["staging"])["Deployment"]
        assert CODE_ENV not in env_names(staging_doc)
        # promote that dev revision: the preview shows what it changes in the data
        held = staging_before[SVC]  # staging's trade-service unit revision before promotion
        first_pin = stacks.outputs("staging")  # (unpinned so far)
        assert first_pin["promoted"] == {}
        stacks.set("staging", f'traderx:promote["{SVC}"]', dev_after[SVC])
        preview = stacks.preview("staging")
        assert CODE_ENV in preview and "promotion" in preview, preview[-3000:]
        stacks.up("staging")
        staging_doc = ops.docs(space["staging"], unit["staging"])["Deployment"]
        assert CODE_ENV in env_names(staging_doc)
        assert staging_doc["metadata"]["namespace"] == namespaces["staging"]
        assert staging_doc["spec"]["replicas"] == 2
        assert container(staging_doc)["resources"]["requests"]["cpu"] == "150m"
        assert container(staging_doc)["resources"]["limits"]["memory"] == "768Mi"
        live = appsv1.read_namespaced_deployment(SVC, namespaces["staging"])
        assert CODE_ENV in {e.name for e in live.spec.template.spec.containers[0].env}
        staging_after = stacks.outputs("staging")["unitRevisions"]
        assert {c for c in staging_after if staging_after[c] != staging_before[c]} == {SVC}
        # prod is unchanged until it is promoted
        assert ops.unit(space["prod"], unit["prod"])["HeadRevisionNum"] == prod_before
        prod_doc = ops.docs(space["prod"], unit["prod"])["Deployment"]
        assert CODE_ENV not in env_names(prod_doc)

        # --- 4. promotion goes back: a lower pin yields the older content ------------------
        stacks.set("staging", f'traderx:promote["{SVC}"]', dev_before[SVC])
        stacks.up("staging")
        staging_doc = ops.docs(space["staging"], unit["staging"])["Deployment"]
        assert CODE_ENV not in env_names(staging_doc)
        assert staging_doc["spec"]["replicas"] == 2  # its own fields stay
        stacks.set("staging", f'traderx:promote["{SVC}"]', dev_after[SVC])  # forward again
        stacks.up("staging")
        forward = ops.unit(space["staging"], unit["staging"])
        assert CODE_ENV in env_names(ops.docs(space["staging"], unit["staging"])["Deployment"])

        # --- 5. a restore in ConfigHub survives up --refresh -s staging --------------------
        ops.restore(space["staging"], unit["staging"], held)
        ops.apply(space["staging"], unit["staging"])
        restored = ops.unit(space["staging"], unit["staging"])
        assert restored["HeadRevisionNum"] == forward["HeadRevisionNum"] + 1
        mark = stacks.call_mark()
        stacks.up("staging", "--refresh")
        assert writes(stacks.calls_since(mark)) == {}
        assert (
            ops.unit(space["staging"], unit["staging"])["HeadRevisionNum"]
            == (restored["HeadRevisionNum"])
        )
        staging_doc = ops.docs(space["staging"], unit["staging"])["Deployment"]
        assert CODE_ENV not in env_names(staging_doc)
        assert staging_doc["metadata"]["namespace"] == namespaces["staging"]
    finally:
        errors, left_spaces, left_ns = run.teardown()
        print("e2e timings (s):", json.dumps({k: round(v, 1) for k, v in stacks.timings.items()}))
    assert errors == [], errors[0][:3000] if errors else ""
    assert left_spaces == []
    assert left_ns == []
