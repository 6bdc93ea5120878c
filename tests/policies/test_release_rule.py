"""The prod gate's release rule (issue #13): a prod promotion or rollback must reference an
existing release (the Release provider's check verified `traderx:release.source`)."""

from __future__ import annotations

import pytest
from pulumi_policy import EnforcementLevel

from policies.environment import default_enforcement_level, stack_environment
from policies.pack import build_policies
from policies.releases import violation


def test_changed_prod_pins_need_a_verified_release() -> None:
    moved = {"environment": "prod", "pins": {"trade-service": 5}, "changed": True}
    message = violation({**moved, "source_verified": False}, "prod")
    assert message is not None and "traderx:release.source" in message
    assert violation({**moved, "source_verified": True}, "prod") is None


def test_unchanged_pins_and_other_environments_pass() -> None:
    assert violation({"environment": "prod", "changed": False}, "prod") is None
    assert violation({"environment": "staging", "changed": True}, "staging") is None
    # a Release labelled prod is judged as prod whatever the stack is called
    assert violation({"environment": "prod", "changed": True}, "staging") is not None


def test_the_pack_has_the_rule() -> None:
    assert "prod-release-referenced" in {p.name for p in build_policies()}


def test_prod_eu_is_prod() -> None:
    """A second prod region (lateral promotion from prod) needs a referenced release too."""
    moved = {"environment": "prod-eu", "pins": {"trade-service": 7}, "changed": True}
    message = violation({**moved, "source_verified": False}, "dev")
    assert message is not None and "traderx rollback env prod-eu" in message
    assert violation({**moved, "source_verified": False}, "prod") is not None
    assert violation({**moved, "source_verified": True}, "prod") is None


def test_a_prod_eu_stack_is_judged_as_prod(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PULUMI_STACK", "prod-eu")
    monkeypatch.setenv("PULUMI_CONFIG", '{"traderx:environment": "prod-eu"}')
    assert stack_environment() == "prod"
    assert default_enforcement_level() == EnforcementLevel.MANDATORY
