"""A fields-only downstream Unit through the real engine (no cluster: units are not applied).

The preview of a promotion lists what it changes in the data; a ConfigHub-side change that the
stack does not declare survives `up --refresh` with zero writes; a ConfigHub-side change to a
declared field is reported by `preview --refresh` naming the field, and `up --refresh` restores
exactly that path with one write.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml

from components.confighub import Space, Unit
from components.confighub.client import UNIT, ConfigHubClient
from components.confighub.fields import encode, field_key
from components.confighub.models import encode_data

from .engine import EngineStack, changes

pytestmark = pytest.mark.engine

REPLICAS = field_key("Deployment/web", "spec", "replicas")
IMAGE = field_key("Deployment/web", "spec", "template", "spec", "containers", "name=web", "image")
UNIT_PATCH = "PATCH /space/{id}/unit/{id}"


def data(image: str, env: list[dict[str, str]] | None = None) -> str:
    doc = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 1,
            "template": {
                "spec": {"containers": [{"name": "web", "image": image, "env": env or []}]}
            },
        },
    }
    return yaml.safe_dump(doc)


def program(spec: dict[str, Any]) -> None:
    up = Space("up", slug=f"fld-{spec['u']}-up")
    down = Space("down", slug=f"fld-{spec['u']}-down")
    source = Unit("source", space_id=up.space_id, slug="web", data=spec["data"])
    clone = Unit(
        "clone",
        space_id=down.space_id,
        slug="web",
        upstream_unit_id=source.unit_id,
        upstream_revision_num=spec["pin"],
        fields=encode({REPLICAS: spec["replicas"]}),
    )
    pulumi.export("down_id", down.space_id)
    pulumi.export("clone_id", clone.unit_id)
    pulumi.export("images", clone.images)


def writes(st: EngineStack) -> dict[str, int]:
    return {k: v for k, v in st.calls().by_route.items() if not k.startswith("GET")}


def test_fields_only_unit_through_the_engine(
    toolchain: Any,
    pulumi_backend: str,
    confighub_server: Any,
    hub: ConfigHubClient,
    tmp_path: Path,
    unique: str,
) -> None:
    spec: dict[str, Any] = {"u": unique, "data": data("web:1"), "pin": 1, "replicas": 2}
    st = EngineStack(
        "fields",
        lambda: program(spec),
        toolchain=toolchain,
        backend=pulumi_backend,
        url=confighub_server.url,
        token=confighub_server.token,
        workdir=tmp_path,
    )
    res = st.up()
    outs = {k: v.value for k, v in res.outputs.items()}
    down, clone = outs["down_id"], outs["clone_id"]
    assert outs["images"] == {"web": "web:1"}
    spec["data"] = data("web:2", [{"name": "FEATURE", "value": "on"}])
    st.up()  # the upstream's revision 2; the clone stays at 1 (its pin)
    assert "web:1" in hub.get_unit(down, clone).text

    # the preview of a promotion lists the paths it changes
    spec["pin"] = 2
    st.reset_calls()
    preview = st.stack.preview(diff=True, on_output=lambda _line: None)
    assert IMAGE in preview.stdout and "web:1 → web:2" in preview.stdout, preview.stdout
    assert "name=FEATURE" in preview.stdout
    assert "web:1" in hub.get_unit(down, clone).text  # a preview writes nothing lasting
    st.up()
    text = hub.get_unit(down, clone).text
    assert "web:2" in text and "FEATURE" in text and "replicas: 2" in text

    # an undeclared ConfigHub-side change survives up --refresh with zero writes
    doc = yaml.safe_load(hub.get_unit(down, clone).text)
    doc["spec"]["template"]["spec"]["containers"][0]["env"].append({"name": "HOTFIX", "value": "1"})
    hub.patch(UNIT, down, clone, {"Data": encode_data(yaml.safe_dump(doc))})
    st.reset_calls()
    assert set(changes(st.up(refresh=True))) <= {"same"}
    assert writes(st) == {}
    assert "HOTFIX" in hub.get_unit(down, clone).text

    # a ConfigHub-side change of a declared field: named by preview --refresh, restored by up
    changed = hub.get_unit(down, clone).text.replace("replicas: 2", "replicas: 7")
    hub.patch(UNIT, down, clone, {"Data": encode_data(changed)})
    preview = st.stack.preview(diff=True, refresh=True, on_output=lambda _line: None)
    assert REPLICAS in preview.stdout and "clone" in preview.stdout, preview.stdout
    st.reset_calls()
    st.up(refresh=True)
    assert writes(st) == {UNIT_PATCH: 1}
    text = hub.get_unit(down, clone).text
    assert "replicas: 2" in text and "HOTFIX" in text

    # promotion goes back: the lower pin yields the older content, own edits kept
    spec["pin"] = 1
    st.up()
    text = hub.get_unit(down, clone).text
    assert "web:1" in text and "FEATURE" not in text and "HOTFIX" in text
    st.destroy()
