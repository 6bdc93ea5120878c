"""Adoption and import rules through the real engine.

- A same-slug object that this program did not create (no managed-by annotation) is never
  silently adopted: `up` fails naming it.
- Pulumi import cannot work for dynamic resources in this SDK (the engine reads an imported
  resource without its serialized provider): the `import_` option is refused at program time
  with a clear message naming the supported way - `python -m components.confighub adopt`, which
  marks the object managed so the next `up` adopts it as is (same ID, zero writes when the
  declaration matches, YAML formatting aside).
- The bare `pulumi import` command cannot work for dynamic resources (no serialized provider):
  it fails and writes nothing.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pulumi
import pytest
from pulumi.automation import CommandError

from components.confighub import Unit
from components.confighub.base import MANAGED_BY_KEY
from components.confighub.client import SPACE, UNIT, ConfigHubClient
from components.confighub.models import encode_data

from .engine import ROOT, EngineStack, changes

pytestmark = pytest.mark.engine

DATA = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: imported\ndata:\n  k: v\n"
SAME_REFORMATTED = (
    '{"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "imported"},\n'
    ' "data": {"k": "v"}}\n'
)


def test_unmanaged_slug_refused_import_option_refused_and_adopt_takes_over(
    toolchain: Any,
    pulumi_backend: str,
    confighub_server: Any,
    hub: ConfigHubClient,
    tmp_path: Path,
    unique: str,
) -> None:
    space = hub.create(SPACE, None, {"Slug": f"imp-{unique}"})
    existing = hub.create(
        UNIT,
        space.id,
        {
            "Slug": "imported",
            "ToolchainType": "Kubernetes/YAML",
            "Data": encode_data(DATA),
            "Labels": {"a": "1"},
        },
    )
    spec: dict[str, Any] = {"labels": {"a": "1"}, "import": None}

    def program() -> None:
        opts = pulumi.ResourceOptions(import_=spec["import"]) if spec["import"] else None
        Unit(
            "imp",
            space_id=space.id,
            slug="imported",
            data=SAME_REFORMATTED,
            labels=spec["labels"],
            opts=opts,
        )

    st = EngineStack(
        "imp",
        program,
        toolchain=toolchain,
        backend=pulumi_backend,
        url=confighub_server.url,
        token=confighub_server.token,
        workdir=tmp_path,
    )

    # same slug, not ours: refused, nothing changed
    with pytest.raises(CommandError) as err:
        st.up()
    assert "'imported' already exists" in str(err.value)
    assert "not managed by this Pulumi program" in str(err.value)
    assert f"adopt unit {space.id} imported --owner chtest/imp" in str(err.value)
    assert hub.get_unit(space.id, existing.id).head_revision_num == 1

    # the import_ option: refused with the supported alternative, nothing written
    spec["import"] = existing.id
    with pytest.raises(CommandError) as err:
        st.up()
    assert "Pulumi import is not supported" in str(err.value)
    assert "python -m components.confighub adopt unit" in str(err.value)
    assert hub.get_unit(space.id, existing.id).head_revision_num == 1

    # adopt: mark it managed, then up takes it over as is (same ID, zero writes)
    spec["import"] = None
    env = {
        **os.environ,
        "CONFIGHUB_URL": confighub_server.url,
        "CONFIGHUB_TOKEN": confighub_server.token,
        "PYTHONPATH": str(ROOT),
    }
    adopt = f"adopt unit {space.id} imported --owner chtest/imp".split()
    done = subprocess.run(
        [sys.executable, "-m", "components.confighub", *adopt],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert confighub_server.token not in done.stdout + done.stderr
    st.reset_calls()
    out = st.up()
    assert changes(out).get("create") == 1 and "update" not in changes(out)
    assert st.calls().writes == 0, st.calls().by_route
    units = hub.list_entities(UNIT, space.id)
    assert [u.id for u in units] == [existing.id]
    st.reset_calls()
    assert set(changes(st.up())) == {"same"} and st.calls().writes == 0
    spec["labels"] = {"a": "2"}
    assert changes(st.up()).get("update") == 1
    unit = hub.get_unit(space.id, existing.id)
    assert unit.labels == {"a": "2"} and unit.annotations.get(MANAGED_BY_KEY)
    st.destroy()
    assert hub.list_entities(UNIT, space.id) == []


def test_bare_pulumi_import_command_fails_without_writing(
    toolchain: Any,
    pulumi_backend: str,
    confighub_server: Any,
    hub: ConfigHubClient,
    tmp_path: Path,
    unique: str,
) -> None:
    space = hub.create(SPACE, None, {"Slug": f"impcli-{unique}"})
    existing = hub.create(
        UNIT, space.id, {"Slug": "u", "ToolchainType": "Kubernetes/YAML", "Data": encode_data(DATA)}
    )
    st = EngineStack(
        "impcli",
        lambda: None,
        toolchain=toolchain,
        backend=pulumi_backend,
        url=confighub_server.url,
        token=confighub_server.token,
        workdir=tmp_path,
    )
    st.up()
    proc = subprocess.run(
        [
            str(toolchain.pulumi),
            "import",
            "pulumi-python:dynamic/confighub:Unit",
            "u",
            f"{space.id}/{existing.id}",
            "--yes",
            "--stack",
            "impcli",
        ],
        cwd=st.work,
        env=st.env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode != 0
    assert hub.get_unit(space.id, existing.id).head_revision_num == 1
    print("pulumi import output:", (proc.stdout + proc.stderr)[-1500:])
