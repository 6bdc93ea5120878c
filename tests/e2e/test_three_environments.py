"""End to end on the real engine, the local ConfigHub server (with its bridge worker) and kwok.

One flow, because each step builds on the last: up dev, staging, prod from empty; every
workload available; a second `up` changes nothing and writes nothing to ConfigHub; one image
tag changed in dev changes exactly that unit; promoting it upgrades only that staging unit and
leaves prod alone; the prod gate (policy pack + reviewed exceptions) blocks prod's `latest`
images and passes once prod's config pins digests; destroying all three (prod unprotected the
documented way first) leaves ConfigHub and the cluster without TraderX objects.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client as kclient

from components.model.catalog import SERVICE_NAMES, START_ORDER
from tests.e2e.driver import PROD_POLICY_CONFIG, PulumiError, Stacks, base_env, make_project
from tests.e2e.run import kube_apis, spaces_with_prefix, start, wait_namespaces_gone
from tests.support.server import ServerProcess

pytestmark = [pytest.mark.engine, pytest.mark.cluster, pytest.mark.slow]
ENVS = ("dev", "staging", "prod")
#: Plainly fake but well-formed image digests (sha256: + 64 hex) for the gate check; never applied.
FAKE_DIGESTS = {svc: "sha256:" + "0" * 60 + f"{i:04d}" for i, svc in enumerate(SERVICE_NAMES)}


def deployments(appsv1: kclient.AppsV1Api, namespace: str) -> dict[str, Any]:
    items: list[Any] = appsv1.list_namespaced_deployment(namespace).items
    return {d.metadata.name: d for d in items}


def assert_all_available(appsv1: kclient.AppsV1Api, namespace: str) -> None:
    deps = deployments(appsv1, namespace)
    assert set(deps) == set(SERVICE_NAMES), f"{namespace}: {sorted(deps)}"
    for name, d in deps.items():
        want = d.spec.replicas
        assert (d.status.available_replicas or 0) == want, f"{namespace}/{name} not available"


def image_of(appsv1: kclient.AppsV1Api, namespace: str, name: str) -> str:
    d: Any = appsv1.read_namespaced_deployment(name, namespace)
    image: str = d.spec.template.spec.containers[0].image
    return image


def test_three_environments_end_to_end(
    toolchain: Any, kube_cluster: Any, hub: ServerProcess, pulumi_backend: str, tmp_path: Path
) -> None:
    run = start("e2e", ENVS, toolchain, kube_cluster, hub, pulumi_backend, tmp_path)
    prefix, namespaces, stacks = run.prefix, run.namespaces, run.stacks
    appsv1, core = run.appsv1, run.core
    try:
        # --- up dev, staging, prod from empty -------------------------------------------
        run.init(
            "dev",
            {"traderx:prefix": prefix, "traderx:namespace": namespaces["dev"]},
            {"confighub:token": hub.token},
        )
        stacks.up("dev")
        run.init(
            "staging", {"traderx:namespace": namespaces["staging"]}, {"confighub:token": hub.token}
        )
        stacks.up("staging")
        staging_out = stacks.outputs("staging")
        pins = {svc: staging_out["unitRevisions"][svc] for svc in SERVICE_NAMES}
        db_password = secrets.token_hex(12)
        run.init(
            "prod",
            {"traderx:namespace": namespaces["prod"], "traderx:promote": pins},
            {"confighub:token": hub.token, "traderx:databasePassword": db_password},
        )
        stacks.up("prod")

        outs = {e: stacks.outputs(e) for e in ENVS}
        for e in ENVS:
            assert_all_available(appsv1, namespaces[e])
            assert set(outs[e]["unitIds"]) == set(START_ORDER)
        assert spaces_with_prefix(hub, prefix) == sorted(
            f"{prefix}-traderx-{k}" for k in ("base", "filters", "dev", "staging", "prod")
        )
        secret: Any = core.read_namespaced_secret("traderx-db-credentials", namespaces["prod"])
        assert set(secret.data) == {"username", "password"}
        # secrets never in plain text: not in any Pulumi state, not in any ConfigHub unit
        for e in ENVS:
            state = stacks.run("stack", "export", stack=e)
            assert db_password not in state, f"DB password in plain text in {e} state"
            assert hub.token not in state, f"ConfigHub token in plain text in {e} state"
        with hub.client() as c:
            units = c.get("/unit", params={"where": f"Space.Slug LIKE '{prefix}-%'"}).json()
        assert len(units) == 4 * len(START_ORDER)  # base + dev + staging + prod
        assert db_password not in str(units)

        # --- a second up changes nothing and writes nothing to ConfigHub ------------------
        for e in ENVS:
            mark = stacks.call_mark()
            stacks.up(e, "--expect-no-changes")
            calls = stacks.calls_since(mark)
            assert calls.writes == 0, f"no-op up of {e} wrote to ConfigHub: {calls.by_route}"
        assert {e: stacks.outputs(e)["unitRevisions"] for e in ENVS} == {
            e: outs[e]["unitRevisions"] for e in ENVS
        }

        # --- change one image tag in dev: exactly that unit changes ----------------------
        stacks.set("dev", 'traderx:services["reference-data"]["image"]["tag"]', "e2e-v2")
        stacks.up("dev")
        dev_after = stacks.outputs("dev")
        changed = {
            c
            for c in START_ORDER
            if dev_after["unitRevisions"][c] != outs["dev"]["unitRevisions"][c]
        }
        assert changed == {"reference-data"}
        # ... with exactly one revision (the declared image field written onto the data)
        before, after = (o["unitRevisions"]["reference-data"] for o in (outs["dev"], dev_after))
        assert after == before + 1
        assert image_of(appsv1, namespaces["dev"], "reference-data").endswith(":e2e-v2")
        assert_all_available(appsv1, namespaces["dev"])

        # --- promote it to staging: only that unit upgrades; prod unchanged ---------------
        stacks.set(
            "staging",
            'traderx:promote["reference-data"]',
            dev_after["unitRevisions"]["reference-data"],
        )
        stacks.up("staging")
        staging_after = stacks.outputs("staging")
        changed = {
            c
            for c in START_ORDER
            if staging_after["unitRevisions"][c] != outs["staging"]["unitRevisions"][c]
        }
        assert changed == {"reference-data"}
        assert image_of(appsv1, namespaces["staging"], "reference-data").endswith(":e2e-v2")
        assert staging_after["images"]["reference-data"].endswith(":e2e-v2")
        mark = stacks.call_mark()
        stacks.run("preview", "--expect-no-changes", stack="prod")
        assert stacks.calls_since(mark).writes == 0
        assert image_of(appsv1, namespaces["prod"], "reference-data").endswith(":latest")
        assert stacks.outputs("prod")["unitRevisions"] == outs["prod"]["unitRevisions"]

        # --- the prod gate (reviewed exceptions applied): `latest` is blocked ------------
        protected = stacks.protected_urns("prod")
        assert sum("confighub:Unit::" in u for u in protected) == len(START_ORDER)
        assert sum("confighub:Space::" in u for u in protected) == 1
        gate = stacks.gated_preview("prod", PROD_POLICY_CONFIG, "gate-latest")
        assert gate.returncode != 0, gate.output[-3000:]
        assert {e["policyName"] for e in gate.policy_events} == {"images-pinned"}, gate.output
        assert {e["enforcementLevel"] for e in gate.policy_events} == {"mandatory"}
        blocked = {s for s in SERVICE_NAMES for e in gate.policy_events if f"'{s}'" in e["message"]}
        assert blocked == set(SERVICE_NAMES)
        assert "uses the floating tag ':latest'" in gate.output
        # ... and passes once every service is pinned to a digest in prod's config
        reviewed_config = stacks.config_file("prod").read_text()
        for svc in SERVICE_NAMES:
            stacks.set("prod", f'traderx:services["{svc}"]["image"]["digest"]', FAKE_DIGESTS[svc])
        mark = stacks.call_mark()
        gate = stacks.gated_preview("prod", PROD_POLICY_CONFIG, "gate-digests")
        assert gate.returncode == 0, gate.output[-4000:]
        assert gate.policy_events == []
        assert stacks.calls_since(mark).writes == 0
        stacks.config_file("prod").write_text(reviewed_config)  # fake digests never deployed
    finally:
        # --- destroy all three: ConfigHub and the cluster are left empty -----------------
        # prod is protected: an operator first declares traderx:protect=false and runs `up`
        errors = []
        unprotected_by, unprotect_writes = "", -1
        for e in reversed(run.created):
            try:
                if e == "prod":
                    mark = stacks.call_mark()
                    unprotected_by = stacks.unprotect(e)
                    unprotect_writes = stacks.calls_since(mark).writes
                    still = stacks.protected_urns(e)
                    if still:
                        errors.append(f"prod still protected after unprotecting: {still}")
                stacks.destroy(e)
            except PulumiError as exc:
                errors.append(str(exc))
        left_spaces = spaces_with_prefix(hub, prefix)
        left_ns = wait_namespaces_gone(core, list(namespaces.values()))
        run.api.close()
        print("e2e timings (s):", {k: round(v, 1) for k, v in stacks.timings.items()})
    assert errors == [], errors[0][:3000] if errors else ""
    assert left_spaces == []
    assert left_ns == []
    assert unprotected_by == "config"  # the documented path worked without the break-glass
    assert unprotect_writes == 0  # unprotecting is a state-only change


def test_invalid_config_fails_on_the_engine_before_any_call(
    toolchain: Any, kube_cluster: Any, hub: ServerProcess, pulumi_backend: str, tmp_path: Path
) -> None:
    prefix = f"bad{secrets.token_hex(3)}"
    env = base_env(toolchain.env, pulumi_backend, hub.url, hub.token, str(kube_cluster.kubeconfig))
    stacks = Stacks(make_project(tmp_path), env, tmp_path / "calls.jsonl")
    stacks.init(
        "dev",
        {"traderx:prefix": prefix, "traderx:services": {"trade-feed": {"replicas": 2}}},
        {},
    )
    with pytest.raises(PulumiError) as err:
        stacks.up("dev")
    assert "traderx:services.trade-feed.replicas = 2: allowed only 1" in str(err.value)
    assert stacks.calls_since(0).total == 0
    assert spaces_with_prefix(hub, prefix) == []


def test_preview_from_empty(
    toolchain: Any, kube_cluster: Any, hub: ServerProcess, pulumi_backend: str, tmp_path: Path
) -> None:
    env = base_env(toolchain.env, pulumi_backend, hub.url, hub.token, str(kube_cluster.kubeconfig))
    stacks = Stacks(make_project(tmp_path), env, tmp_path / "calls.jsonl")
    stacks.init("dev", {"traderx:prefix": f"pv{secrets.token_hex(3)}"}, {})
    out = stacks.run("preview", stack="dev")
    assert "to create" in out
    assert stacks.calls_since(0).writes == 0


def test_unavailable_workload_stops_the_ordered_deploy(
    toolchain: Any, kube_cluster: Any, hub: ServerProcess, pulumi_backend: str, tmp_path: Path
) -> None:
    """The health gate, through the program: trade-service asks for more memory than the node
    has, so it never becomes available; `up` fails naming it and the worker's reason, its
    create is rolled back, and what starts after it (web-front-end, ingress) is never applied.
    `destroy` then leaves nothing behind."""
    prefix = f"gate{secrets.token_hex(3)}"
    namespace = f"{prefix}-dev"
    env = base_env(toolchain.env, pulumi_backend, hub.url, hub.token, str(kube_cluster.kubeconfig))
    stacks = Stacks(make_project(tmp_path), env, tmp_path / "calls.jsonl")
    appsv1, core, api = kube_apis(kube_cluster.kubeconfig)
    huge = {"memoryRequest": "64Ti", "memoryLimit": "64Ti"}
    stacks.init(
        "dev",
        {
            "confighub:url": hub.url,
            "traderx:kubeconfig": str(kube_cluster.kubeconfig),
            "traderx:kubeContext": kube_cluster.context,
            "traderx:prefix": prefix,
            "traderx:namespace": namespace,
            "traderx:applyTimeoutSeconds": 30,
            "traderx:services": {"trade-service": {"resources": huge}},
        },
        {"confighub:token": hub.token},
    )
    try:
        with pytest.raises(PulumiError) as err:
            stacks.up("dev")
        text = str(err.value)
        assert "'trade-service'" in text and "rolled back" in text, text[-3000:]
        # the engine's stop ends the program with one line, not an interrupt traceback, and the
        # unit's failure reads as its message, not the provider SDK's traceback
        assert "KeyboardInterrupt" not in text and "Traceback" not in text, text
        # the official worker's reason: kstatus never saw the Deployment Current
        assert f"Deployment/{namespace}/trade-service status: 'InProgress'" in text, text[-3000:]
        applied = set(deployments(appsv1, namespace))
        # everything trade-service needs was applied; it was rolled back; nothing after it ran
        assert {"database", "reference-data", "trade-feed", "people-service"} <= applied
        assert "account-service" in applied
        assert "trade-service" not in applied and "web-front-end" not in applied
    finally:
        stacks.destroy("dev")
        left_ns = wait_namespaces_gone(core, [namespace])
        api.close()
    assert spaces_with_prefix(hub, prefix) == []
    assert left_ns == []
