"""How provider failures read in `pulumi up` (components/confighub/reporting.py), without the
engine: the SDK formats a failed method with `traceback.format_exc()`, so that is what is checked.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import traceback
from typing import Any

import pytest
from pulumi.dynamic import ResourceProvider

from components import confighub
from components.confighub import reporting
from components.confighub.base import EntityProvider
from components.confighub.errors import AdoptionRefusedError
from components.confighub.release import ReleaseProvider
from components.confighub.reporting import LIFECYCLE, ProviderBug, ReportsErrors, quiet_tracebacks
from components.confighub.space import SpaceProvider
from components.confighub.unit import UnitProvider

from .conftest import configure


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
    """As in the SDK's provider host (`python -m pulumi.dynamic`); restored after the test."""
    monkeypatch.setattr(sys, "tracebacklimit", 1000, raising=False)
    monkeypatch.setattr(reporting, "in_provider_host", lambda: True)
    quiet_tracebacks()
    assert sys.tracebacklimit == 0


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


def providers() -> list[type[ResourceProvider]]:
    """Every provider class the package defines (all its modules imported)."""
    for module in pkgutil.iter_modules(confighub.__path__):
        importlib.import_module(f"{confighub.__name__}.{module.name}")
    found, todo = [], list(ResourceProvider.__subclasses__())
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if cls.__module__.startswith(f"{confighub.__name__}."):
            found.append(cls)
    return found


def test_every_lifecycle_method_of_every_provider_is_reported() -> None:
    classes = providers()
    assert {EntityProvider, UnitProvider, ReleaseProvider} <= set(classes) and len(classes) >= 11
    for cls in classes:
        for name in LIFECYCLE:
            method = cls.__dict__.get(name)
            if method is not None:
                assert getattr(method, "_reported", False), f"{cls.__name__}.{name}"


def test_only_the_provider_host_quiets_tracebacks(hub: Any, confighub_server: Any) -> None:
    """Tests (and any other process) configure providers in-process: a limit of 0 there would
    also empty `traceback.extract_stack()`, which the Pulumi SDK uses to register a resource.
    (`hub` resets the connection afterwards.)"""
    before = getattr(sys, "tracebacklimit", None)
    assert not reporting.in_provider_host()
    configure(SpaceProvider(), confighub_server.url, confighub_server.token)
    configure(ReleaseProvider(), confighub_server.url, confighub_server.token)
    assert getattr(sys, "tracebacklimit", None) == before
    assert traceback.extract_stack()
