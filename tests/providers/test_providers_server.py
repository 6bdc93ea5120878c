"""Provider methods called directly (as the dynamic-provider host would) against the real local
ConfigHub server: idempotent create and the adoption rule, 404 -> gone, out-of-band edits seen by
read and undone by update, idempotent delete, clone + upgrade, revision images, set membership.
"""

from __future__ import annotations

from typing import Any

import pytest

from components.confighub import calls
from components.confighub.base import MANAGED_BY_KEY
from components.confighub.client import SPACE, TAG, UNIT, ConfigHubClient
from components.confighub.errors import AdoptionRefusedError
from components.confighub.filter import FilterProvider
from components.confighub.models import encode_data
from components.confighub.space import SpaceProvider
from components.confighub.tag import TagProvider
from components.confighub.unit import UnitProvider
from components.confighub.unit_set import UnitSet, member_where
from components.confighub.upstream_revision import UpstreamRevisionProvider
from components.confighub.yamldata import same_data

from .conftest import configure

DEPLOY = """apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  template:
    spec:
      containers: [{name: web, image: "web:1"}]
"""


def space(hub: ConfigHubClient, unique: str, suffix: str = "") -> str:
    return SpaceProvider().create({"slug": f"direct-{unique}{suffix}", "labels": {}}).id


def unit_props(space_id: str, **over: Any) -> dict[str, Any]:
    props: dict[str, Any] = {
        "space_id": space_id,
        "slug": "web",
        "data": DEPLOY,
        "labels": {"app": "web"},
        "annotations": {},
    }
    props.update(over)
    return props


def test_configure_reads_stack_config(confighub_server: Any, unique: str) -> None:
    provider = SpaceProvider()
    configure(provider, confighub_server.url, confighub_server.token)
    created = provider.create({"slug": f"cfg-{unique}"})
    assert created.outs is not None and created.outs["space_id"] == created.id


def test_create_is_idempotent_and_adopts_only_managed(hub: ConfigHubClient, unique: str) -> None:
    provider = SpaceProvider()
    first = provider.create({"slug": f"idem-{unique}", "labels": {"a": "1"}})
    calls.reset()
    again = provider.create({"slug": f"idem-{unique}", "labels": {"a": "1"}})
    assert again.id == first.id
    assert calls.snapshot().writes == 0  # adopted as is
    assert [s.id for s in hub.list_entities(SPACE) if s.slug == f"idem-{unique}"] == [first.id]
    hub.create(SPACE, None, {"Slug": f"foreign-{unique}"})
    with pytest.raises(AdoptionRefusedError, match="not managed by this Pulumi program"):
        provider.create({"slug": f"foreign-{unique}"})


def test_read_maps_404_to_gone_and_delete_is_idempotent(hub: ConfigHubClient, unique: str) -> None:
    space_id = space(hub, unique)
    provider = TagProvider()
    tag = provider.create({"space_id": space_id, "slug": "t1"})
    assert tag.outs is not None
    assert provider.read(tag.id, tag.outs).id == tag.id
    hub.delete(TAG, space_id, tag.id)
    gone = provider.read(tag.id, tag.outs)
    assert gone.id is None and gone.outs == {}
    provider.delete(tag.id, tag.outs)  # already gone: fine


def test_out_of_band_edit_seen_by_read_and_undone_by_update(
    hub: ConfigHubClient, unique: str
) -> None:
    space_id = space(hub, unique)
    provider = UnitProvider()
    declared = unit_props(space_id)
    created = provider.create(declared)
    assert created.outs is not None
    assert created.outs["head_revision_num"] == 1
    hub.patch(
        UNIT,
        space_id,
        created.id,
        {
            "Labels": {"app": "web", "extra": "x"},
            "Data": encode_data(DEPLOY.replace("web:1", "web:9")),
        },
    )
    read = provider.read(created.id, created.outs)
    assert read.outs is not None
    assert read.outs["labels"] == {"app": "web", "extra": "x"} and "web:9" in read.outs["data"]
    assert provider.diff(created.id, read.outs, declared).changes is True
    updated = provider.update(created.id, read.outs, declared)
    assert updated.outs is not None
    unit = hub.get_unit(space_id, created.id)
    assert unit.labels == {"app": "web"} and same_data(unit.text, DEPLOY)
    assert unit.annotations[MANAGED_BY_KEY]
    assert provider.diff(created.id, updated.outs, declared).changes is False
    provider.delete(created.id, updated.outs)
    provider.delete(created.id, updated.outs)
    assert hub.list_entities(UNIT, space_id) == []


def test_clone_then_upgrade_when_pin_rises_keeps_declared_data_even_on_conflict(
    hub: ConfigHubClient, unique: str
) -> None:
    base_space, down_space = space(hub, unique, "-base"), space(hub, unique, "-down")
    provider = UnitProvider()
    base = provider.create(unit_props(base_space))
    down_data = DEPLOY.replace("metadata: {name: web}", "metadata: {name: web, namespace: dev}")
    down_props = unit_props(
        down_space, data=down_data, upstream_unit_id=base.id, upstream_revision_num=1
    )
    down = provider.create(down_props)
    assert down.outs is not None and down.outs["upstream_revision_num"] == 1
    assert same_data(hub.get_unit(down_space, down.id).text, down_data)
    assert base.outs is not None
    base_v2 = unit_props(
        base_space, labels={"app": "web", "v": "2"}, data=DEPLOY.replace("web:1", "web:2")
    )
    base_up = provider.update(base.id, base.outs, base_v2)
    assert base_up.outs is not None and base_up.outs["head_revision_num"] == 2
    raised = {**down_props, "upstream_revision_num": 2}
    assert provider.diff(down.id, down.outs, raised).changes is True
    upgraded = provider.update(down.id, down.outs, raised)
    assert upgraded.outs is not None and upgraded.outs["upstream_revision_num"] == 2
    assert same_data(hub.get_unit(down_space, down.id).text, down_data)
    assert provider.diff(down.id, upgraded.outs, raised).changes is False

    revision = UpstreamRevisionProvider().create(
        {"space_id": base_space, "unit_id": base.id, "revision_num": 2}
    )
    assert revision.outs is not None and revision.outs["images"] == {"web": "web:2"}


def test_unit_set_filter_selects_its_members(hub: ConfigHubClient, unique: str) -> None:
    space_id = space(hub, unique)
    provider = UnitProvider()
    provider.create(unit_props(space_id, slug="in", labels=UnitSet.member_labels("critical")))
    provider.create(unit_props(space_id, slug="out", labels={}))
    flt = FilterProvider().create(
        {
            "space_id": space_id,
            "slug": "set-critical",
            "from_kind": "Unit",
            "where": member_where("critical"),
        }
    )
    members = hub.list_entities(UNIT, space_id, filter=flt.id)
    assert [u.slug for u in members] == ["in"]


def test_a_scoped_set_filter_selects_only_its_projects_members(
    hub: ConfigHubClient, unique: str
) -> None:
    """Two projects whose units are members of a set of the same name: the set's filter,
    scoped to one project, selects only that project's members (the unscoped one took both)."""
    mine = SpaceProvider().create({"slug": f"setp-{unique}-a", "labels": {"project": f"a{unique}"}})
    other = SpaceProvider().create(
        {"slug": f"setp-{unique}-b", "labels": {"project": f"b{unique}"}}
    )
    provider = UnitProvider()
    for sp in (mine.id, other.id):
        provider.create(unit_props(sp, slug="in", labels=UnitSet.member_labels("critical")))
    scope = f"Space.Labels.project = 'a{unique}'"
    scoped = FilterProvider().create(
        {
            "space_id": mine.id,
            "slug": "set-critical",
            "from_kind": "Unit",
            "where": member_where("critical", scope),
        }
    )
    assert [u.space_id for u in hub.list_entities(UNIT, None, filter=scoped.id)] == [mine.id]
    unscoped = hub.list_entities(UNIT, None, where=member_where("critical"))
    assert {mine.id, other.id} <= {u.space_id for u in unscoped}
