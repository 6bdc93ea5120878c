"""The pack under the real engine: `pulumi preview --policy-pack policies` of the fixture
program, which declares the same resource types as the TraderX program."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.policies.fixture import FixtureStack, good_prod_spec, service
from tests.support.toolchain import Toolchain

pytestmark = pytest.mark.engine


def test_prod_preview_blocks_bad_config_and_passes_good(
    toolchain: Toolchain, pulumi_backend: str, tmp_path: Path
) -> None:
    stack = FixtureStack(toolchain.env, pulumi_backend, tmp_path / "prod", "prod")

    bad = good_prod_spec()
    bad["services"]["trade-service"] = service("latest", replicas=2)
    stack.configure(bad)
    run = stack.preview("bad")
    assert run.returncode != 0, run.stdout[-2000:]
    events = run.policy_events()
    by_policy = {e["policyName"]: e for e in events}
    assert by_policy["images-pinned"]["enforcementLevel"] == "mandatory"
    assert (
        "uses the floating tag ':latest'; pin a version tag"
        in by_policy["images-pinned"]["message"]
    )
    assert "set spec.replicas to at least 3" in by_policy["replicas-within-bounds"]["message"]

    stack.configure(good_prod_spec())
    run = stack.preview("good")
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert run.policy_events() == []


def test_same_violation_is_advisory_on_dev_and_level_is_overridable(
    toolchain: Toolchain, pulumi_backend: str, tmp_path: Path
) -> None:
    dev = FixtureStack(toolchain.env, pulumi_backend, tmp_path / "dev", "dev")
    dev.configure({"environment": "dev", "services": {"trade-service": service("latest")}})
    run = dev.preview("dev-bad")
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    [event] = [e for e in run.policy_events() if e["policyName"] == "images-pinned"]
    assert event["enforcementLevel"] == "advisory"

    # policy config makes it mandatory even on dev
    run = dev.preview("dev-mandatory", policy_config={"images-pinned": "mandatory"})
    assert run.returncode != 0
    [event] = [e for e in run.policy_events() if e["policyName"] == "images-pinned"]
    assert event["enforcementLevel"] == "mandatory"


def test_stack_config_environment_makes_an_oddly_named_stack_prod(
    toolchain: Toolchain, pulumi_backend: str, tmp_path: Path
) -> None:
    qa = FixtureStack(toolchain.env, pulumi_backend, tmp_path / "qa", "qa-eu")
    qa.configure({"environment": "dev", "services": {"trade-service": service("latest")}})
    assert qa.preview("qa-dev").returncode == 0
    qa.set_config("traderx:environment", "prod")
    run = qa.preview("qa-prod")
    assert run.returncode != 0
    levels = {e["enforcementLevel"] for e in run.policy_events()}
    assert levels == {"mandatory"}


def test_deleting_a_protected_prod_unit_is_refused_until_overridden(
    toolchain: Toolchain, pulumi_backend: str, tmp_path: Path
) -> None:
    prod = FixtureStack(toolchain.env, pulumi_backend, tmp_path / "prod", "prod")
    spec = good_prod_spec()
    prod.configure(spec)
    prod.up()
    del spec["services"]["trade-processor"]
    prod.configure(spec)
    refused = prod.preview("delete-protected")
    assert refused.returncode != 0
    assert "protect" in refused.stdout + refused.stderr

    # the override: a reviewed change lists the unit in allowDeletion and unprotects it first
    spec = good_prod_spec()
    spec["unprotect"] = ["trade-processor"]
    prod.configure(spec)
    config = {"prod-deletion-needs-override": {"allowDeletion": ["trade-processor"]}}
    assert prod.preview("unprotect", policy_config=config).returncode == 0
    assert prod.preview("unprotect-no-override").returncode != 0  # the gate without the override
    prod.up()
    del spec["services"]["trade-processor"]
    prod.configure(spec)
    assert prod.preview("delete-after-override", policy_config=config).returncode == 0
