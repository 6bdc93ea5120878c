"""The real program's prod units against the pack, without the engine: what `pulumi preview -s
prod --policy-pack policies --policy-pack-config policies/config/prod.json` would report for the
unit data (the e2e test runs the same gate on the real engine)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from pulumi_policy import ResourceValidationPolicy

from components.model.catalog import SERVICE_NAMES, SERVICES, START_ORDER
from components.model.layout import unit_labels
from components.model.manifests import context_for
from components.model.settings import Settings, load_settings
from components.stack.environment import render_unit
from policies.pack import build_policies
from tests.policies.factories import UNIT, RunResource, unit_props
from tests.unit.stackconfig import TOKEN_ENV, stack_config

ROOT = Path(__file__).resolve().parents[2]
PROD_CONFIG = ROOT / "policies" / "config" / "prod.json"
WORKFLOWS = ROOT / ".github" / "workflows"
#: Plainly fake but well-formed digests (sha256: + 64 hex), one per service.
FAKE_DIGESTS = {svc: "sha256:" + "0" * 60 + f"{i:04d}" for i, svc in enumerate(SERVICE_NAMES)}


def prod_config() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(PROD_CONFIG.read_text())
    return loaded


def prod_settings(**overrides: Any) -> Settings:
    cfg = stack_config(
        "prod",
        **{
            "traderx:promote": dict.fromkeys(SERVICE_NAMES, 2),
            "traderx:databasePassword": "unused-pw",
            **overrides,
        },
    )
    return load_settings(cfg, project="traderx", stack="prod", environ=TOKEN_ENV)


def violations(
    run_resource: RunResource, settings: Settings, config: dict[str, Any]
) -> dict[str, list[str]]:
    """Policy name → messages for every prod unit the program renders (protected, as declared)."""
    ctx = context_for(settings)
    found: dict[str, list[str]] = {}
    for component in START_ORDER:
        props = unit_props([], slug=component, labels=unit_labels(component, settings.environment))
        props["data"] = render_unit(ctx, component)
        props["upstream_unit_id"] = f"staging-{component}"
        for pol in build_policies():
            if not isinstance(pol, ResourceValidationPolicy):
                continue  # stack policies need the whole stack: the e2e gate runs them
            messages = run_resource(
                pol.name,
                UNIT,
                props,
                config=config.get(pol.name),
                protect=settings.protected,
                resource_name=component,
            )
            if messages:
                found.setdefault(pol.name, []).extend(messages)
    return found


def test_committed_exceptions_are_exactly_the_images_that_need_root() -> None:
    section = prod_config()["pod-security"]
    root_images = {s.name for s in SERVICES if s.run_as_user is None}
    assert len(root_images) == 7
    assert set(section["allowRootWorkloads"]) == root_images
    assert len(section["allowRootWorkloads"]) == len(root_images)  # no duplicates
    assert set(section["allowRootReasons"]) == root_images
    assert all(len(reason) > 20 for reason in section["allowRootReasons"].values())
    assert set(prod_config()) == {"pod-security"}  # nothing else is loosened


def test_prod_running_latest_is_blocked_only_by_the_image_rule(run_resource: RunResource) -> None:
    found = violations(run_resource, prod_settings(), prod_config())
    assert set(found) == {"images-pinned"}, found
    assert len(found["images-pinned"]) == len(SERVICE_NAMES)
    assert all("uses the floating tag ':latest'" in m for m in found["images-pinned"])


def test_prod_with_digests_passes(run_resource: RunResource) -> None:
    services: dict[str, dict[str, Any]] = {
        "trade-service": {"replicas": 3},
        "position-service": {"replicas": 3},
        "reference-data": {"replicas": 3},
    }
    for svc, digest in FAKE_DIGESTS.items():
        services.setdefault(svc, {})["image"] = {"digest": digest}
    settings = prod_settings(**{"traderx:services": services})
    assert violations(run_resource, settings, prod_config()) == {}


def test_without_the_exceptions_the_root_rule_still_blocks(run_resource: RunResource) -> None:
    services = {svc: {"image": {"digest": d}} for svc, d in FAKE_DIGESTS.items()}
    found = violations(run_resource, prod_settings(**{"traderx:services": services}), {})
    assert set(found) == {"pod-security"}
    assert len(found["pod-security"]) == 7
    assert all("may run as root" in m for m in found["pod-security"])


def test_unprotected_prod_is_blocked_by_the_deletion_rule(run_resource: RunResource) -> None:
    services = {svc: {"image": {"digest": d}} for svc, d in FAKE_DIGESTS.items()}
    settings = prod_settings(**{"traderx:services": services, "traderx:protect": False})
    found = violations(run_resource, settings, prod_config())
    assert set(found) == {"prod-deletion-needs-override"}
    assert len(found["prod-deletion-needs-override"]) == len(START_ORDER)


@pytest.mark.parametrize("workflow", ["pulumi-stack.yml"])
def test_workflows_pass_the_reviewed_prod_config(workflow: str) -> None:
    text = (WORKFLOWS / workflow).read_text()
    steps = yaml.safe_load(text)["jobs"]["run"]["steps"]
    scripts = [s.get("run", "") for s in steps]
    assert any("policies/config/$STACK.json" in s for s in scripts)
    for script in scripts:
        if "--policy-pack policies" in script:
            assert '"${policy_args[@]}"' in script, script


def test_prod_eu_has_prods_reviewed_exceptions() -> None:
    """The second prod region runs the same images: the same reviewed exceptions, no more."""
    eu = json.loads((PROD_CONFIG.parent / "prod-eu.json").read_text())
    assert eu == prod_config()


def test_prod_eu_running_latest_is_blocked_like_prod(run_resource: RunResource) -> None:
    cfg = stack_config(
        "prod-eu",
        **{
            "traderx:promote": dict.fromkeys(SERVICE_NAMES, 2),
            "traderx:databasePassword": "unused-pw",
        },
    )
    settings = load_settings(cfg, project="traderx", stack="prod-eu", environ=TOKEN_ENV)
    found = violations(run_resource, settings, prod_config())
    assert set(found) == {"images-pinned"}, found
    assert len(found["images-pinned"]) == len(SERVICE_NAMES)
