"""How provider failures read in `pulumi up` (components/confighub/reporting.py), without the
engine: the SDK formats a failed method with `traceback.format_exc()`, so that is what is checked.
"""

from __future__ import annotations

import sys
import traceback
from typing import Any

import pytest

from components.confighub.base import EntityProvider
from components.confighub.errors import AdoptionRefusedError, ConfigHubError
from components.confighub.release import ReleaseProvider
from components.confighub.reporting import LIFECYCLE, ProviderBug, ReportsErrors, quiet_tracebacks
from components.confighub.unit import UnitProvider


class Broken(ReportsErrors):
    def create(self, props: dict[str, Any]) -> Any:
        if props.get("refuse"):
            raise AdoptionRefusedError("Space 'x' already exists and is managed by another stack")
        if props.get("bad"):
            raise ValueError("unit data is not YAML: line 3")
        return props["missing"]  # KeyError: a bug


class Child(Broken):
    def create(self, props: dict[str, Any]) -> Any:
        return super().create(props)


def sdk_report(call: Any) -> str:
    """What the SDK's provider server sends the engine for a failed call."""
    try:
        call()
    except Exception:
        return traceback.format_exc()
    raise AssertionError("the call did not fail")


@pytest.fixture
def provider_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "tracebacklimit", 1000, raising=False)  # restored after the test
    quiet_tracebacks()


def test_an_error_raised_on_purpose_reads_as_its_message(provider_process: None) -> None:
    text = sdk_report(lambda: Child().create({"refuse": True}))
    assert text == (
        "components.confighub.errors.AdoptionRefusedError: "
        "Space 'x' already exists and is managed by another stack\n"
    )
    assert sdk_report(lambda: Child().create({"bad": True})) == (
        "ValueError: unit data is not YAML: line 3\n"
    )


def test_a_bug_keeps_its_trace_once_even_through_super(provider_process: None) -> None:
    text = sdk_report(lambda: Child().create({}))
    assert text.startswith("components.confighub.reporting.ProviderBug: unexpected KeyError in ")
    assert "in Broken.create (a bug" in text and "please report it" in text  # where it failed
    assert "Traceback (most recent call last)" in text and 'return props["missing"]' in text
    assert text.count("unexpected") == 1  # the inner wrapper's ProviderBug is not wrapped again
    with pytest.raises(ProviderBug):
        Child().create({})


def test_every_lifecycle_method_of_every_provider_is_reported() -> None:
    for cls in (EntityProvider, UnitProvider, ReleaseProvider):
        for name in LIFECYCLE:
            method = cls.__dict__.get(name)
            if method is not None:
                assert getattr(method, "_reported", False), f"{cls.__name__}.{name}"
    assert issubclass(ConfigHubError, Exception)
