"""Releases against the real local server (issue #13): record, list, tag every unit's head,
restore a unit to a release with `Tag:`, and the Release provider's check refusals."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

import pytest

from components.confighub.client import ConfigHubClient
from components.confighub.release import ReleaseProvider
from components.confighub.releases import (
    check_source,
    default_name,
    find_release,
    list_releases,
    record_release,
)

DOC = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  v: '{v}'\n"


def _space(hub: ConfigHubClient, slug: str) -> str:
    body = hub.request("POST", "/space", json_body={"Slug": slug}, retry=False)
    return str(body.get("Space", body)["SpaceID"])


def _unit(hub: ConfigHubClient, space: str, slug: str, v: str) -> str:
    data = base64.b64encode(DOC.format(name=slug, v=v).encode()).decode()
    body = hub.request(
        "POST",
        f"/space/{space}/unit",
        json_body={"Slug": slug, "ToolchainType": "Kubernetes/YAML", "Data": data},
        retry=False,
    )
    return str(body.get("Unit", body)["UnitID"])


def _write(hub: ConfigHubClient, space: str, unit: str, slug: str, v: str) -> None:
    data = base64.b64encode(DOC.format(name=slug, v=v).encode()).decode()
    hub.request("PATCH", f"/space/{space}/unit/{unit}", json_body={"Data": data})


def _record(hub: ConfigHubClient, space: str, name: str | None, pins: dict[str, int]) -> Any:
    return record_release(
        hub, space_id=space, environment="prod", name=name, description="", pins=pins,
        services={"a": {"replicas": 2}}, promoted=sorted(pins), source="", kind="promotion",
        stack="p/prod", owner_annotations={},
    )  # fmt: skip


def test_default_name_counts_the_day() -> None:
    day = datetime(2026, 12, 1, tzinfo=UTC)
    assert default_name("prod", day, []) == "prod-20261201-1"
    assert default_name("prod", day, ["prod-20261201-1", "prod-20261201-7", "x"]) == (
        "prod-20261201-8"
    )
    assert default_name("prod", day, ["prod-20261130-3"]) == "prod-20261201-1"


def test_check_source_names_what_exists() -> None:
    assert "releases there: R1, R2" in str(check_source(None, "R9", "prod", ["R1", "R2"], {}, {}))
    assert check_source(None, "R9", "prod", [], {}, {}) is not None
    wrong = check_source(object(), "R1", "staging", [], {"a": 3}, {"a": 2})  # type: ignore[arg-type]
    assert wrong is not None and "a=3 (release has 2)" in wrong


def test_record_list_and_restore_by_tag(hub: ConfigHubClient, unique: str) -> None:
    space = _space(hub, f"rel-{unique}")
    a, b = _unit(hub, space, "a", "1"), _unit(hub, space, "b", "1")
    r1 = _record(hub, space, "R1", {"a": 1, "b": 1})
    assert r1.units == {"a": 1, "b": 1} and r1.tag_id and r1.pins == {"a": 1, "b": 1}
    _write(hub, space, a, "a", "2")
    r2 = _record(hub, space, None, {"a": 2, "b": 1})
    assert r2.name.startswith("prod-") and r2.units == {"a": 2, "b": 1}
    assert [r.name for r in list_releases(hub, space)] == ["R1", r2.name]
    cs = hub.request("GET", f"/space/{space}/change_set/{r2.change_set_id}")
    assert cs.get("ChangeSet", cs)["StartTagID"] == r1.tag_id
    with pytest.raises(ValueError, match="already exists"):
        _record(hub, space, "R1", {"a": 3})
    # every unit's head was tagged: restore brings a unit back to R1's revision as a new head
    unit = hub.request(
        "PATCH", f"/space/{space}/unit/{a}", params={"restore": f"Tag:{r1.tag_id}"},
        content=b"null", content_type="application/merge-patch+json",
    )  # fmt: skip
    unit = unit.get("Unit", unit)
    assert unit["HeadRevisionNum"] == 3
    assert "v: '1'" in base64.b64decode(unit["Data"]).decode()
    assert find_release(hub, space, "R1") is not None and find_release(hub, space, "x") is None
    del b


def test_release_check_refuses_unknown_source_and_taken_name(
    hub: ConfigHubClient, unique: str, confighub_server: Any
) -> None:
    from tests.providers.conftest import configure

    space = _space(hub, f"relc-{unique}")
    upstream = _space(hub, f"relu-{unique}")
    _unit(hub, upstream, "a", "1")
    _record(hub, upstream, "S1", {"a": 1})
    _record(hub, space, "R1", {"a": 1})
    provider = ReleaseProvider()
    configure(provider, confighub_server.url, confighub_server.token)
    news = {"space_id": space, "upstream_space_id": upstream, "environment": "prod"}
    bad = provider.check({"pins": {"a": 1}}, {**news, "pins": {"a": 2}, "source": "S9"})
    assert any("release 'S9' does not exist" in f.reason and "S1" in f.reason for f in bad.failures)
    taken = provider.check({}, {**news, "pins": {"a": 1}, "name": "R1"})
    assert any("already exists" in f.reason for f in taken.failures)
    ok = provider.check({}, {**news, "pins": {"a": 1}, "source": "S1"})
    assert ok.failures == [] and ok.inputs["source_verified"] is True
    assert ok.inputs["source_kind"] == "upstream"
    back = provider.check({"pins": {"a": 2}}, {**news, "pins": {"a": 1}, "source": "R1"})
    assert back.failures == [] and back.inputs["source_kind"] == "rollback"
    same = provider.check({"pins": {"a": 1}}, {**news, "pins": {"a": 1}, "source": "nope"})
    assert same.failures == [] and same.inputs["changed"] is False
