"""Structure of each stack under pulumi.runtime.Mocks: counts, labels, order, ownership.

Pure structure: no engine, no server, no cluster. Mocks give every resource fake IDs.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pytest

from components.confighub.yamldata import images
from components.model.catalog import SERVICE_NAMES, START_ORDER
from components.model.settings import ConfigError, load_settings
from components.stack.environment import EnvironmentArgs, TraderXEnvironment, Upstream
from components.stack.program import build, read_settings
from tests.unit.stackconfig import TOKEN_ENV, stack_config

DYN = "pulumi-python:dynamic/confighub:"
ID_OUTPUT = {
    "Space": "space_id",
    "Unit": "unit_id",
    "Filter": "filter_id",
    "Link": "link_id",
    "BridgeWorker": "worker_id",
    "Target": "target_id",
    "UpstreamRevision": "revision_id",
    "Release": "release",
}


class Recorder(pulumi.runtime.Mocks):
    """Records every resource; answers StackReferences with a fake upstream's outputs."""

    def __init__(self, upstream_outputs: dict[str, Any] | None = None) -> None:
        self.resources: list[pulumi.runtime.MockResourceArgs] = []
        self.upstream_outputs = upstream_outputs or {}

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.resources.append(args)
        outs = dict(args.inputs)
        if args.typ == "pulumi:pulumi:StackReference":
            return args.name, {"name": args.name, "outputs": self.upstream_outputs}
        if args.typ.startswith(DYN):
            kind = args.typ.removeprefix(DYN)
            outs[ID_OUTPUT[kind]] = f"{kind.lower()}:{args.name}"
            if kind == "Unit":
                outs.update(head_revision_num=1, live_revision_num=1, images=unit_images(outs))
            if kind == "BridgeWorker":
                outs["secret"] = "worker-secret"
        return f"{args.name}-id", outs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[Any]]:
        return {}, []

    def of_kind(self, kind: str) -> list[pulumi.runtime.MockResourceArgs]:
        return [r for r in self.resources if r.typ == DYN + kind]


def unit_images(inputs: dict[str, Any]) -> dict[str, str]:
    """What ConfigHub would hold: the declared data, a declared image, else the promoted one."""
    if inputs.get("data"):
        return images(inputs["data"])
    slug = inputs["slug"]
    declared = json.loads(inputs.get("fields", {}).get(image_key(slug), "null") or "null")
    if slug not in SERVICE_NAMES:
        return {}
    return {slug: declared or f"ghcr.io/finos/traderx/{slug}:promoted"}


def image_key(service: str) -> str:
    return f"Deployment/{service}:/spec/template/spec/containers/name={service}/image"


def decoded(unit: dict[str, Any]) -> dict[str, Any]:
    return {k: json.loads(v) for k, v in (unit.get("fields") or {}).items()}


def upstream_outputs(env: str) -> dict[str, Any]:
    return {
        "prefix": "calm-heron",
        "envSpaceId": f"space:{env}",
        "unitIds": {c: f"unit:{env}:{c}" for c in START_ORDER},
        "unitRevisions": dict.fromkeys(START_ORDER, 4),
    }


def run(stack: str, **overrides: Any) -> tuple[Recorder, dict[str, Any]]:
    upstream = {
        "staging": upstream_outputs("dev"),
        "prod": upstream_outputs("staging"),
        "prod-eu": upstream_outputs("prod"),
    }
    mocks = Recorder(upstream.get(stack))
    pulumi.runtime.set_mocks(mocks, project="traderx", stack=stack, preview=False)
    cfg = stack_config(stack, **overrides)
    pulumi.runtime.set_all_config(cfg)
    settings = load_settings(cfg, project="traderx", stack=stack, environ=TOKEN_ENV)
    return mocks, build(settings)


def settle(outputs: dict[str, Any]) -> pulumi.Output[Any]:
    return pulumi.Output.all(outputs["unitIds"], outputs["spaceIds"], outputs["images"])


def completed(stack: str, **overrides: Any) -> tuple[Recorder, list[Any]]:
    """Run the program under mocks until every registration finished; return the record."""
    box: dict[str, Any] = {}

    @pulumi.runtime.test
    def program() -> pulumi.Output[Any]:
        mocks, outputs = run(stack, **overrides)
        box["mocks"] = mocks
        return settle(outputs).apply(lambda v: box.__setitem__("values", v))

    program()
    return box["mocks"], box["values"]


PROD = {
    "traderx:promote": dict.fromkeys(SERVICE_NAMES, 2),
    "traderx:databasePassword": "prod-pw",
}


def test_dev_owns_base_filters_and_dev() -> None:
    mocks, _ = completed("dev")
    spaces = {r.inputs["slug"] for r in mocks.of_kind("Space")}
    assert spaces == {
        "calm-heron-traderx-base",
        "calm-heron-traderx-filters",
        "calm-heron-traderx-dev",
    }
    assert len(mocks.of_kind("Filter")) == 7 + 2  # 7 filters + one per set
    assert len(mocks.of_kind("Unit")) == 2 * len(START_ORDER)  # base + dev
    assert len(mocks.of_kind("BridgeWorker")) == 1
    assert len(mocks.of_kind("Target")) == 1
    assert len(mocks.of_kind("Link")) == 13
    assert mocks.of_kind("UpstreamRevision") == []  # promotion never reads revision data
    base = [u for u in mocks.of_kind("Unit") if u.inputs["labels"]["environment"] == "base"]
    assert all(u.inputs.get("apply") is False and not u.inputs.get("target_id") for u in base)


def test_unit_labels_and_set_membership() -> None:
    mocks, _ = completed("dev")
    dev = {
        u.inputs["slug"]: u.inputs
        for u in mocks.of_kind("Unit")
        if u.inputs["labels"]["environment"] == "dev"
    }
    assert set(dev) == set(START_ORDER)
    for i, component in enumerate(START_ORDER):
        labels = dev[component]["labels"]
        for key in ("service", "layer", "tech", "order", "port", "critical", "environment"):
            assert key in labels, (component, key)
        assert labels["order"] == str(i)
    assert dev["database"]["labels"]["set_critical_services"] == "member"
    assert dev["database"]["labels"]["set_data_services"] == "member"
    assert "set_critical_services" not in dev["web-front-end"]["labels"]
    assert dev["trade-feed"]["labels"]["port"] == "18086"
    assert all(u["target_id"] == "target:traderx-dev-target" for u in dev.values())
    assert dev["database"]["upstream_unit_id"] == "unit:traderx-shared-base-database"
    assert dev["database"]["apply_timeout_seconds"] == 300


def test_filters_scoped_and_ordered_without_is_not_null() -> None:
    mocks, _ = completed("dev")
    where = {f.inputs["slug"]: f.inputs["where"] for f in mocks.of_kind("Filter")}
    assert set(where) >= {
        "all",
        "frontend",
        "backend",
        "data",
        "core-services",
        "trading-services",
        "ordered",
        "set-critical-services",
        "set-data-services",
    }
    assert "IS NOT NULL" not in where["ordered"]
    assert "Labels.order ~" in where["ordered"]
    assert where["all"] == "Space.Labels.project = 'calm-heron-traderx'"
    for slug in ("backend", "ordered", "set-critical-services", "set-data-services"):
        assert where[slug].startswith("Space.Labels.project = 'calm-heron-traderx' AND "), slug


@pulumi.runtime.test
def test_depends_on_follows_start_order() -> pulumi.Output[Any]:
    pulumi.runtime.set_mocks(Recorder(), project="traderx", stack="dev", preview=False)
    cfg = stack_config("dev")
    settings = load_settings(cfg, project="traderx", stack="dev", environ=TOKEN_ENV)
    env = TraderXEnvironment(
        "t",
        EnvironmentArgs(
            settings=settings,
            prefix="p-x",
            upstream=Upstream(unit_ids={c: f"u-{c}" for c in START_ORDER}),
            database_password=pulumi.Output.secret("pw"),
        ),
        k8s_provider=k8s.Provider("k"),
    )
    by_resource = {id(u): c for c, u in env.units.items()}
    position: dict[str, int] = {c: i for i, c in enumerate(START_ORDER)}
    assert env.depends_on["namespace"] == []
    assert env.platform is not None
    for component in START_ORDER[1:]:
        deps = env.depends_on[component]
        unit_deps = [by_resource[id(d)] for d in deps if id(d) in by_resource]
        assert unit_deps, component
        assert all(position[d] < position[component] for d in unit_deps), component
        assert all(r in deps for r in env.platform.ready), component  # Secret, SAs, policies
    assert env.depends_on["database"] == [env.units["namespace"], *env.platform.ready]
    # tier 1 starts in parallel: none of them waits for another workload
    for c in ("database", "reference-data", "trade-feed", "people-service"):
        assert [by_resource[id(d)] for d in env.depends_on[c] if id(d) in by_resource] == [
            "namespace"
        ]
    assert {
        by_resource[id(d)] for d in env.depends_on["trade-service"] if id(d) in by_resource
    } == {
        "reference-data",
        "account-service",
        "trade-feed",
        "people-service",
    }
    assert [by_resource[id(d)] for d in env.depends_on["ingress"] if id(d) in by_resource] == [
        "web-front-end"
    ]
    return pulumi.Output.from_input(True)


def test_platform_objects() -> None:
    mocks, _ = completed("dev", **{"traderx:databasePassword": "pw-7f3a9c-unique"})
    kinds = Counter(r.typ for r in mocks.resources if r.typ.startswith("kubernetes:"))
    assert kinds["kubernetes:core/v1:Secret"] == 1
    assert kinds["kubernetes:core/v1:ServiceAccount"] == 9
    assert kinds["kubernetes:networking.k8s.io/v1:NetworkPolicy"] == 4
    assert kinds["kubernetes:rbac.authorization.k8s.io/v1:Role"] == 1
    assert kinds["kubernetes:core/v1:Namespace"] == 0  # owned by the namespace unit
    role = next(r for r in mocks.resources if r.typ.endswith(":Role"))
    assert role.inputs["metadata"]["name"] == "traderx-developer"
    secret = next(r for r in mocks.resources if r.typ.endswith(":Secret"))
    assert secret.inputs["metadata"]["name"] == "traderx-db-credentials"
    for unit in mocks.of_kind("Unit"):
        assert "pw-7f3a9c-unique" not in repr(unit.inputs)
    assert "pw-7f3a9c-unique" not in repr(
        [r.inputs for r in mocks.resources if r.typ.startswith(DYN)]
    )


def test_staging_is_downstream_of_dev_and_promotes_only_pinned() -> None:
    overrides = {
        "traderx:promote": {"trade-service": 3, "ingress": 4},
        "traderx:services": {"trade-service": {"replicas": 2, "env": {"FEATURE_X": "on"}}},
    }
    mocks, _ = completed("staging", **overrides)
    assert {s.inputs["slug"] for s in mocks.of_kind("Space")} == {"calm-heron-traderx-staging"}
    assert mocks.of_kind("Filter") == []  # owned by dev
    units = {u.inputs["slug"]: u.inputs for u in mocks.of_kind("Unit")}
    assert len(units) == len(START_ORDER)
    for c, u in units.items():
        assert u["upstream_unit_id"] == f"unit:dev:{c}"
        assert u["labels"]["environment"] == "staging"
        # content comes from the upstream: the stack declares fields, never the whole data
        assert u.get("data") is None, c
        assert u["fields"], c
    assert units["trade-service"]["upstream_revision_num"] == 3
    assert units["ingress"]["upstream_revision_num"] == 4  # routes are code: promoted too
    assert units["account-service"].get("upstream_revision_num") is None
    trade = decoded(units["trade-service"])
    dep = "Deployment/trade-service:"
    assert trade[dep + "/spec/replicas"] == 2
    assert trade[dep + "/metadata/namespace"] == "traderx-staging"
    env_key = dep + "/spec/template/spec/containers/name=trade-service/env/name=FEATURE_X/value"
    assert trade[env_key] == "on"
    # the image is not staging's: it comes with promotion; so do unconfigured resources
    assert image_key("trade-service") not in trade
    resources = dep + "/spec/template/spec/containers/name=trade-service/resources"
    assert resources not in trade
    assert not any(k.endswith("/resources") for k in decoded(units["account-service"]))
    assert not any("/image" in k for u in units.values() for k in decoded(u))
    host = "Ingress/traderx-web:/spec/rules/0/host"
    assert decoded(units["ingress"])[host] == "traderx-staging.localtest.me"
    assert decoded(units["namespace"])["Namespace:/metadata/name"] == "traderx-staging"
    assert mocks.of_kind("UpstreamRevision") == []
    role = next(r for r in mocks.resources if r.typ.endswith(":Role"))
    assert role.inputs["metadata"]["name"] == "traderx-sre"


def test_prod_is_downstream_of_staging() -> None:
    mocks, values = completed("prod", **PROD)
    units = {u.inputs["slug"]: u.inputs for u in mocks.of_kind("Unit")}
    assert units["database"]["upstream_unit_id"] == "unit:staging:database"
    assert {u["upstream_revision_num"] for c, u in units.items() if c in SERVICE_NAMES} == {2}
    assert {s.inputs["slug"] for s in mocks.of_kind("Space")} == {"calm-heron-traderx-prod"}
    assert mocks.of_kind("Space")[0].inputs["labels"]["critical"] == "true"
    role = next(r for r in mocks.resources if r.typ.endswith(":Role"))
    assert role.inputs["metadata"]["name"] == "traderx-viewer"
    found = values[2]
    assert found["trade-service"] == "ghcr.io/finos/traderx/trade-service:promoted"


def test_prod_eu_is_a_second_prod_region_downstream_of_prod() -> None:
    """Lateral promotion: prod-eu's own space, worker, target and namespace; units cloned from
    prod's; judged as prod (critical space, viewer role, protected, a release of its own)."""
    mocks, values = completed("prod-eu", **PROD)
    units = {u.inputs["slug"]: u for u in mocks.of_kind("Unit")}
    assert units["database"].inputs["upstream_unit_id"] == "unit:prod:database"
    assert {u.inputs["upstream_revision_num"] for c, u in units.items() if c in SERVICE_NAMES} == {
        2
    }
    assert {u.inputs["labels"]["environment"] for u in units.values()} == {"prod-eu"}
    space = mocks.of_kind("Space")[0].inputs
    assert space["slug"] == "calm-heron-traderx-prod-eu"
    assert space["labels"] == {
        "project": "calm-heron-traderx",
        "environment": "prod-eu",
        "targetable": "true",
        "critical": "true",
    }
    assert [w.inputs["slug"] for w in mocks.of_kind("BridgeWorker")] == ["prod-eu-worker"]
    assert [t.inputs["slug"] for t in mocks.of_kind("Target")] == ["prod-eu-cluster"]
    namespace = decoded(units["namespace"].inputs)
    assert "traderx-prod-eu" in json.dumps(namespace)
    role = next(r for r in mocks.resources if r.typ.endswith(":Role"))
    assert role.inputs["metadata"]["name"] == "traderx-viewer"
    (release,) = mocks.of_kind("Release")
    assert release.inputs["environment"] == "prod-eu"
    assert release.inputs["upstream_space_id"] == "space:prod"
    assert values[1]["prod-eu"] == "space:traderx-prod-eu-space"


def test_prod_eu_gets_prods_rules() -> None:
    """prod's defaults and checks apply to prod-eu: critical replicas, protect, own secret."""
    cfg = stack_config("prod-eu", **PROD)
    s = load_settings(cfg, project="traderx", stack="prod-eu", environ=TOKEN_ENV)
    assert s.is_prod and s.protected and s.upstream_environment == "prod"
    assert s.upstream_stack == "organization/traderx/prod"
    assert s.namespace == "traderx-prod-eu"
    assert s.replicas_for("trade-service") == 3 and s.replicas_for("people-service") == 2
    cfg = stack_config("prod-eu", **{"traderx:promote": {"trade-service": 2}})
    with pytest.raises(ConfigError) as err:
        load_settings(cfg, project="traderx", stack="prod-eu", environ=TOKEN_ENV)
    text = str(err.value)
    assert "traderx:databasePassword is unset: prod-eu needs its own secret" in text
    assert "traderx:promote.people-service (a prod revision)" in text


def test_dev_follows_base_and_declares_its_own_image() -> None:
    mocks, _ = completed("dev", **{"traderx:services": {"trade-service": {"image": {"tag": "v2"}}}})
    units = [u.inputs for u in mocks.of_kind("Unit")]
    base = {u["slug"]: u for u in units if u["labels"]["environment"] == "base"}
    dev = {u["slug"]: u for u in units if u["labels"]["environment"] == "dev"}
    # base: the code's output, the catalog defaults (no stack setting reaches it)
    assert "trade-service:latest" in base["trade-service"]["data"]
    assert "namespace: traderx-base" in base["trade-service"]["data"]
    assert not base["trade-service"].get("fields")
    # dev: a clone of base holding base's head; its image is dev's own declared field
    assert dev["trade-service"]["upstream_revision_num"] == 1  # the base unit's head (mock)
    assert decoded(dev["trade-service"])[image_key("trade-service")].endswith(":v2")
    assert decoded(dev["account-service"])[image_key("account-service")].endswith(":latest")


def test_invalid_config_fails_before_any_resource(monkeypatch: pytest.MonkeyPatch) -> None:
    mocks = Recorder()
    pulumi.runtime.set_mocks(mocks, project="traderx", stack="dev", preview=False)
    cfg = stack_config("dev", **{"traderx:services": {"trade-feed": {"replicas": 3}}})
    pulumi.runtime.set_all_config(cfg)
    monkeypatch.setenv("CONFIGHUB_TOKEN", "t")
    with pytest.raises(ConfigError, match=r"traderx:services\.trade-feed\.replicas"):
        read_settings()
    assert [r for r in mocks.resources if r.custom] == []


def _environment(stack: str, **overrides: Any) -> TraderXEnvironment:
    cfg = stack_config(stack, **overrides)
    settings = load_settings(cfg, project="traderx", stack=stack, environ=TOKEN_ENV)
    upstream = upstream_outputs("staging")
    return TraderXEnvironment(
        "t",
        EnvironmentArgs(
            settings=settings,
            prefix="p-x",
            upstream=Upstream(
                unit_ids=upstream["unitIds"],
                revisions={str(k): v for k, v in settings.promote.items()},
            ),
            database_password=pulumi.Output.secret("pw"),
        ),
        k8s_provider=k8s.Provider("k"),
    )


@pulumi.runtime.test
def test_prod_protects_its_space_and_units_only() -> pulumi.Output[Any]:
    pulumi.runtime.set_mocks(Recorder(), project="traderx", stack="prod", preview=False)
    env = _environment("prod", **PROD)
    # protect is set per resource (the pack's deletion rule checks Spaces and Units), never on
    # the component: children would inherit it and Links/targets/k8s objects would be stuck too
    assert env.space._protect is True
    assert all(u._protect is True for u in env.units.values())
    assert not env._protect
    assert not env.worker._protect and not env.target._protect
    assert all(not link._protect for link in env.links)
    assert env.platform is not None and not env.platform._protect
    return pulumi.Output.from_input(True)


@pulumi.runtime.test
def test_protect_false_unprotects_prod() -> pulumi.Output[Any]:
    pulumi.runtime.set_mocks(Recorder(), project="traderx", stack="prod", preview=False)
    env = _environment("prod", **PROD, **{"traderx:protect": "false"})
    assert not env.space._protect
    assert not any(u._protect for u in env.units.values())
    return pulumi.Output.from_input(True)


@pulumi.runtime.test
def test_dev_is_unprotected_by_default() -> pulumi.Output[Any]:
    pulumi.runtime.set_mocks(Recorder(), project="traderx", stack="dev", preview=False)
    env = _environment("dev")
    assert not env.space._protect
    assert not any(u._protect for u in env.units.values())
    return pulumi.Output.from_input(True)


def test_prod_image_pin_overrides_the_promoted_image() -> None:
    digest = "sha256:" + "0" * 63 + "1"
    overrides = {
        **PROD,
        "traderx:services": {
            "trade-service": {"replicas": 3, "image": {"digest": digest}},
            "reference-data": {"replicas": 3},
            "position-service": {"replicas": 3},
        },
    }
    mocks, values = completed("prod", **overrides)
    units = {u.inputs["slug"]: u.inputs for u in mocks.of_kind("Unit")}
    trade = decoded(units["trade-service"])
    assert trade[image_key("trade-service")] == f"ghcr.io/finos/traderx/trade-service@{digest}"
    assert units["trade-service"]["upstream_revision_num"] == 2  # the pin still promotes
    assert image_key("account-service") not in decoded(units["account-service"])
    found = values[2]
    assert found["trade-service"] == f"ghcr.io/finos/traderx/trade-service@{digest}"
    assert found["account-service"] == "ghcr.io/finos/traderx/account-service:promoted"
    assert decoded(units["reference-data"])["Deployment/reference-data:/spec/replicas"] == 3


@pytest.mark.parametrize(("stack", "overrides"), [("dev", {}), ("prod", PROD)])
def test_worker_readiness_wait_ends_before_the_apply_timeout(
    stack: str, overrides: dict[str, Any]
) -> None:
    mocks, _ = completed(stack, **overrides)
    (target,) = mocks.of_kind("Target")
    ready = int(target.inputs["parameters"]["ReadyTimeoutSeconds"])
    applied = [u for u in mocks.of_kind("Unit") if u.inputs.get("target_id")]
    apply_timeouts = {int(u.inputs["apply_timeout_seconds"]) for u in applied}
    assert len(apply_timeouts) == 1
    assert 5 <= ready < apply_timeouts.pop()


@pytest.fixture
def serial_rpcs() -> Iterator[None]:
    """One RPC thread: registrations then reach the mock monitor in the order the program sends
    them (in pulumi's default pool a preempted thread lets a later registration overtake)."""
    previous = asyncio.get_event_loop()
    loop = asyncio.new_event_loop()
    loop.set_default_executor(ThreadPoolExecutor(max_workers=1))
    asyncio.set_event_loop(loop)
    try:
        yield
    finally:
        asyncio.set_event_loop(previous)
        loop.close()


@pytest.mark.usefixtures("serial_rpcs")
@pytest.mark.parametrize(
    ("stack", "first"),
    [
        ("dev", ["pulumi:providers:kubernetes"]),
        ("staging", ["pulumi:pulumi:StackReference", "pulumi:providers:kubernetes"]),
    ],
)
def test_the_stack_reference_and_the_kubernetes_provider_register_first(
    stack: str, first: list[str]
) -> None:
    """declare_early's resources reach the engine before the rest (main() sends them before it
    builds the rest; the engine starts the kubernetes plugin meanwhile, issue #11)."""
    mocks, _ = completed(stack)
    assert [r.typ for r in mocks.resources[: len(first)]] == first
    assert sum(r.typ == "pulumi:providers:kubernetes" for r in mocks.resources) == 1
