"""Ownership through the real engine: a replacement that keeps its slug never deletes its own
object, and two stacks of one project never take each other's objects.

Before the fix, a unit whose `upstream_unit_id` changed (or a link whose ends changed) was
created by adopting the old object by slug, and the engine then deleted the old resource: the
same object. And the managed-by marker was one constant, so a second stack adopted (and on
destroy deleted) the first stack's objects.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pulumi
import pytest
from pulumi.automation import errors as auto_errors

from components.confighub import Link, Space, Unit
from components.confighub.base import MANAGED_BY_KEY, marker
from components.confighub.client import LINK, SPACE, UNIT, ConfigHubClient

from .engine import EngineStack, changes

pytestmark = pytest.mark.engine

DATA = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: %s}\ndata: {a: '1'}\n"


def replacing(spec: dict[str, Any]) -> None:
    up = Space("up", slug=f"own-{spec['u']}-up")
    down = Space("down", slug=f"own-{spec['u']}-down")
    first = Unit("first", space_id=up.space_id, slug="first", data=DATA % "first")
    second = Unit("second", space_id=up.space_id, slug="second", data=DATA % "second")
    source = first if spec["upstream"] == "first" else second
    clone = Unit("clone", space_id=down.space_id, slug="clone", upstream_unit_id=source.unit_id)
    other = Unit("other", space_id=down.space_id, slug="other", data=DATA % "other")
    link = Link(
        "link",
        space_id=down.space_id,
        slug="clone-to-other",
        from_unit_id=clone.unit_id,
        to_unit_id=other.unit_id,
    )
    pulumi.export("down_id", down.space_id)
    pulumi.export("clone_id", clone.unit_id)
    pulumi.export("link_id", link.link_id)
    pulumi.export("source_id", source.unit_id)


def test_replacement_keeping_its_slug_keeps_its_object(
    toolchain: Any,
    pulumi_backend: str,
    confighub_server: Any,
    hub: ConfigHubClient,
    tmp_path: Path,
    unique: str,
) -> None:
    spec: dict[str, Any] = {"u": unique, "upstream": "first"}
    st = EngineStack(
        "replace",
        lambda: replacing(spec),
        toolchain=toolchain,
        backend=pulumi_backend,
        url=confighub_server.url,
        token=confighub_server.token,
        workdir=tmp_path,
    )
    st.up()
    spec["upstream"] = "second"  # the clone's upstream changes: a replacement, same slug
    result = st.up()
    assert changes(result).get("replace") == 2, changes(result)  # the clone and its link
    outs = {k: v.value for k, v in result.outputs.items()}
    down = outs["down_id"]
    clone = hub.get_unit(down, outs["clone_id"])  # the new resource's object exists
    assert clone.upstream_unit_id == outs["source_id"]
    assert [u.slug for u in hub.list_entities(UNIT, down) if u.slug == "clone"] == ["clone"]
    link = hub.get(LINK, down, outs["link_id"])
    assert link.from_unit_id == clone.unit_id  # type: ignore[attr-defined]
    st.reset_calls()
    assert set(changes(st.up())) == {"same"} and st.calls().writes == 0
    st.destroy()
    assert hub.find_by_slug(SPACE, None, f"own-{unique}-down") is None


def shared(spec: dict[str, Any]) -> None:
    space = Space("space", slug=f"own-{spec['u']}-shared", labels={"who": spec["who"]})
    pulumi.export("space_id", space.space_id)


def test_another_stacks_object_is_refused_naming_its_owner(
    toolchain: Any,
    pulumi_backend: str,
    confighub_server: Any,
    hub: ConfigHubClient,
    tmp_path: Path,
    unique: str,
) -> None:
    def stack(name: str, spec: dict[str, Any]) -> EngineStack:
        return EngineStack(
            name,
            lambda: shared(spec),
            toolchain=toolchain,
            backend=pulumi_backend,
            url=confighub_server.url,
            token=confighub_server.token,
            workdir=tmp_path / name,
        )

    first = stack("alpha", {"u": unique, "who": "alpha"})
    first.up()
    space = hub.find_by_slug(SPACE, None, f"own-{unique}-shared")
    assert space is not None
    assert space.annotations[MANAGED_BY_KEY] == marker("chtest/alpha")
    second = stack("beta", {"u": unique, "who": "beta"})
    with pytest.raises(auto_errors.CommandError) as err:
        second.up()
    text = str(err.value)
    assert "managed by another stack, chtest/alpha" in text, text[-2000:]
    assert "this stack (chtest/beta)" in text
    # the refusal reads as its message: no provider traceback in front of it
    assert "AdoptionRefusedError: Space 'own-" in text and "Traceback" not in text, text[-3000:]
    again = hub.get(SPACE, None, space.id)
    assert again.labels == {"who": "alpha"}  # not overwritten
    second.destroy()  # beta owns nothing: alpha's space survives
    assert hub.get(SPACE, None, space.id).id == space.id
    first.destroy()
    assert hub.find_by_slug(SPACE, None, f"own-{unique}-shared") is None
