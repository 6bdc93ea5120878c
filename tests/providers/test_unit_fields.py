"""A Unit that declares only fields, against the real local server (provider methods called as
the dynamic-provider host calls them): ConfigHub-side changes elsewhere survive with zero writes,
a changed declared field is one diff naming it and one revision, and promotion is a ranged merge
to any upstream revision, older or newer, that keeps the downstream's own edits.
"""

from __future__ import annotations

from typing import Any

import yaml

from components.confighub import calls
from components.confighub.client import UNIT, ConfigHubClient
from components.confighub.fields import encode, field_key
from components.confighub.models import encode_data
from components.confighub.space import SpaceProvider
from components.confighub.unit import UnitProvider

DEP = "Deployment/web"
CONTAINER = ("spec", "template", "spec", "containers", "name=web")
REPLICAS = field_key(DEP, "spec", "replicas")
NAMESPACE = field_key(DEP, "metadata", "namespace")


def upstream_data(image: str, extra_env: dict[str, str] | None = None) -> str:
    env = [{"name": "LOG", "value": "info"}] + [
        {"name": k, "value": v} for k, v in (extra_env or {}).items()
    ]
    doc = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "dev"},
        "spec": {
            "replicas": 1,
            "template": {"spec": {"containers": [{"name": "web", "image": image, "env": env}]}},
        },
    }
    return yaml.safe_dump(doc)


def doc_of(hub: ConfigHubClient, space_id: str, unit_id: str) -> Any:
    return yaml.safe_load(hub.get_unit(space_id, unit_id).text)


def container_of(doc: Any) -> Any:
    return doc["spec"]["template"]["spec"]["containers"][0]


def env_of(doc: Any) -> dict[str, str]:
    return {e["name"]: e.get("value") for e in container_of(doc)["env"]}


def chain(hub: ConfigHubClient, unique: str) -> tuple[str, str, dict[str, Any]]:
    """An upstream unit with revisions 1 (web:1), 2 (web:2), 3 (web:2 + FEATURE=on)."""
    up_space = SpaceProvider().create({"slug": f"fields-{unique}-up"}).id
    down_space = SpaceProvider().create({"slug": f"fields-{unique}-down"}).id
    p = UnitProvider()
    up_props: dict[str, Any] = {"space_id": up_space, "slug": "web", "data": upstream_data("web:1")}
    up = p.create(up_props)
    assert up.outs is not None
    outs = up.outs
    for data in (upstream_data("web:2"), upstream_data("web:2", {"FEATURE": "on"})):
        updated = p.update(up.id, outs, {**up_props, "data": data})
        assert updated.outs is not None
        outs = updated.outs
    assert outs["head_revision_num"] == 3
    return up.id, down_space, up_props


def down_props(down_space: str, up_id: str, pin: int | None, replicas: int) -> dict[str, Any]:
    return (
        UnitProvider()
        .check(
            {},
            {
                "space_id": down_space,
                "slug": "web",
                "upstream_unit_id": up_id,
                "upstream_revision_num": pin,
                "fields": encode({REPLICAS: replicas, NAMESPACE: "staging"}),
                "labels": {},
                "annotations": {},
            },
        )
        .inputs
    )


def set_env_in_confighub(hub: ConfigHubClient, space_id: str, unit_id: str) -> None:
    """What an operator does in ConfigHub: run set-env-var on the unit (a new revision)."""
    body = {
        "FunctionInvocations": [
            {
                "FunctionName": "set-env-var",
                "Arguments": [
                    {"ParameterName": "container-name", "Value": "web"},
                    {"ParameterName": "env-var", "Value": "HOTFIX"},
                    {"ParameterName": "env-value", "Value": "1"},
                ],
            }
        ]
    }
    hub.request(
        "POST",
        f"/space/{space_id}/function/invoke",
        params={"where": f"UnitID = '{unit_id}'"},
        json_body=body,
    )


def test_fields_only_unit_owns_only_its_fields(hub: ConfigHubClient, unique: str) -> None:
    up_id, down_space, _ = chain(hub, unique)
    p = UnitProvider()
    props = down_props(down_space, up_id, 1, replicas=3)
    created = p.create(props)
    assert created.outs is not None
    doc = doc_of(hub, down_space, created.id)
    assert container_of(doc)["image"] == "web:1"  # the pinned upstream revision's content
    assert doc["spec"]["replicas"] == 3 and doc["metadata"]["namespace"] == "staging"
    assert "data" not in created.outs or created.outs["data"] is None  # no copy of the data

    # a ConfigHub-side change elsewhere: invisible to refresh and diff; update writes nothing
    set_env_in_confighub(hub, down_space, created.id)
    head = hub.get_unit(down_space, created.id).head_revision_num
    read = p.read(created.id, created.outs)
    assert read.outs is not None
    assert p.diff(created.id, read.outs, props).changes is False
    calls.reset()
    again = p.update(created.id, read.outs, props)
    assert calls.snapshot().writes == 0
    assert again.outs is not None
    assert env_of(doc_of(hub, down_space, created.id))["HOTFIX"] == "1"

    # a ConfigHub-side change of a declared field: a diff of `fields` naming it
    unit = hub.get_unit(down_space, created.id)
    changed = unit.text.replace("replicas: 3", "replicas: 7")
    hub.patch(UNIT, down_space, created.id, {"Data": encode_data(changed)})
    read = p.read(created.id, again.outs)
    assert read.outs is not None
    assert read.outs["fields"][REPLICAS] == "7"
    diff = p.diff(created.id, read.outs, props)
    assert diff.changes is True and diff.replaces == []
    calls.reset()
    restored = p.update(created.id, read.outs, props)
    assert calls.snapshot().by_route.get("PATCH /space/{id}/unit/{id}") == 1
    assert restored.outs is not None
    doc = doc_of(hub, down_space, created.id)
    assert doc["spec"]["replicas"] == 3
    assert env_of(doc)["HOTFIX"] == "1"  # restoring the field kept the ConfigHub-side edit
    assert hub.get_unit(down_space, created.id).head_revision_num == head + 2


def test_promotion_goes_forward_and_back_keeping_downstream_edits(
    hub: ConfigHubClient, unique: str
) -> None:
    up_id, down_space, _ = chain(hub, unique)
    p = UnitProvider()
    props = down_props(down_space, up_id, 1, replicas=3)
    created = p.create(props)
    assert created.outs is not None
    set_env_in_confighub(hub, down_space, created.id)
    read = p.read(created.id, created.outs)
    assert read.outs is not None

    # the preview's check plans what the promotion brings, naming each path
    forward = down_props(down_space, up_id, 3, replicas=3)
    planned = p.check(read.outs, {**forward, "planned_data": None}).inputs
    promotion = planned["promotion"]
    image_key = field_key(DEP, *CONTAINER, "image")
    assert promotion[image_key] == "web:1 → web:2"
    assert any("FEATURE" in k for k in promotion), promotion
    assert "web:2" in planned["planned_data"] and "HOTFIX" in planned["planned_data"]
    assert hub.get_unit(down_space, created.id).upstream_revision_num == 1  # dry run only
    assert p.diff(created.id, read.outs, planned).changes is True

    up3 = p.update(created.id, read.outs, planned)
    assert up3.outs is not None and up3.outs["upstream_revision_num"] == 3
    doc = doc_of(hub, down_space, created.id)
    assert container_of(doc)["image"] == "web:2"
    assert env_of(doc) == {"LOG": "info", "FEATURE": "on", "HOTFIX": "1"}
    assert doc["spec"]["replicas"] == 3

    # a lower pin goes back to the older content, still keeping the downstream's edits
    back = p.check(up3.outs, down_props(down_space, up_id, 2, replicas=3)).inputs
    assert p.diff(created.id, up3.outs, back).changes is True
    up2 = p.update(created.id, up3.outs, back)
    assert up2.outs is not None
    doc = doc_of(hub, down_space, created.id)
    assert container_of(doc)["image"] == "web:2"
    assert env_of(doc) == {"LOG": "info", "HOTFIX": "1"}
    assert hub.get_unit(down_space, created.id).upstream_revision_num == 2
    back1 = p.check(up2.outs, down_props(down_space, up_id, 1, replicas=3)).inputs
    p.update(created.id, up2.outs, back1)
    assert container_of(doc_of(hub, down_space, created.id))["image"] == "web:1"


def test_promotion_conflicting_with_a_declared_field_keeps_the_declared_value(
    hub: ConfigHubClient, unique: str
) -> None:
    """The upstream changed replicas and the downstream declares its own: the merge conflicts
    on that field only; the provider takes the field out of the conflict and re-declares it."""
    up_space = SpaceProvider().create({"slug": f"fields-{unique}-cup"}).id
    down_space = SpaceProvider().create({"slug": f"fields-{unique}-cdown"}).id
    p = UnitProvider()
    up_props: dict[str, Any] = {"space_id": up_space, "slug": "web", "data": upstream_data("web:1")}
    up = p.create(up_props)
    assert up.outs is not None
    v2 = upstream_data("web:2").replace("replicas: 1", "replicas: 2")
    p.update(up.id, up.outs, {**up_props, "data": v2})
    created = p.create(down_props(down_space, up.id, 1, replicas=5))
    assert created.outs is not None
    promoted = p.check(created.outs, down_props(down_space, up.id, 2, replicas=5)).inputs
    done = p.update(created.id, created.outs, promoted)
    assert done.outs is not None
    doc = doc_of(hub, down_space, created.id)
    assert doc["spec"]["replicas"] == 5 and container_of(doc)["image"] == "web:2"


def test_a_first_preview_plans_the_clone_at_the_pin(hub: ConfigHubClient, unique: str) -> None:
    """Space not created yet (unknown in a first preview): the planned data is the upstream at
    the pin with the declared fields, so the prod gate can judge a stack created from empty."""
    from pulumi.runtime.rpc import UNKNOWN

    up_id, _, _ = chain(hub, unique)
    news = {
        "space_id": UNKNOWN,
        "slug": "web",
        "upstream_unit_id": up_id,
        "upstream_revision_num": 2,
        "fields": encode({REPLICAS: 4}),
    }
    checked = UnitProvider().check({}, news)
    assert checked.failures == []
    planned = yaml.safe_load(checked.inputs["planned_data"])
    assert container_of(planned)["image"] == "web:2" and planned["spec"]["replicas"] == 4
    missing = UnitProvider().check({}, {**news, "upstream_revision_num": 9})
    assert [f.property for f in missing.failures] == ["upstream_revision_num"]
    assert "no revision 9" in missing.failures[0].reason


def test_checks_in_the_provider_process_plan_from_one_listing_per_space(
    hub: ConfigHubClient, unique: str, confighub_server: Any
) -> None:
    """After configure (only the engine's provider host calls it) the checks of a space's
    units share one listing, which still shows a change made in ConfigHub before the run; once
    this process has written anything, each check reads its unit again."""
    from components.confighub.unit_listing import SPACE_UNITS
    from tests.providers.conftest import configure

    up_id, down_space, _ = chain(hub, unique)
    p = UnitProvider()
    web = down_props(down_space, up_id, 1, replicas=2)
    api = {**web, "slug": "api"}
    made = {name: p.create(props) for name, props in (("web", web), ("api", api))}
    set_env_in_confighub(hub, down_space, made["web"].id)  # before the run: it must show
    listing = "GET /space/{id}/unit"
    try:
        configure(p, confighub_server.url, confighub_server.token)
        calls.reset()
        planned = {name: p.check(made[name].outs or {}, props).inputs for name, props in
                   (("web", web), ("api", api))}  # fmt: skip
        assert calls.snapshot().by_route == {listing: 1}
        assert "HOTFIX" in planned["web"]["planned_data"]
        assert "HOTFIX" not in planned["api"]["planned_data"]
        assert p.diff(made["web"].id, made["web"].outs or {}, planned["web"]).changes is False

        set_env_in_confighub(hub, down_space, made["api"].id)  # a write by this process
        calls.reset()
        again = p.check(made["api"].outs or {}, api).inputs
        assert calls.snapshot().by_route == {listing: 1}  # the unit read by slug, not listed
        assert "HOTFIX" in again["planned_data"]
    finally:
        SPACE_UNITS.reset()
