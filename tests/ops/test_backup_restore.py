"""Backup and restore against real local servers: back up a project, restore it into an empty
server (a wiped database), and compare everything field by field; refusals for a server that
already holds the project and for corrupt, partial or too-new backups, before any write."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from operator_cli.backup.format import MANIFEST
from tests.ops.compare import differences, normalised
from tests.ops.conftest import Run, make_runner
from tests.ops.project import Project
from tests.support.server import ServerProcess

ROOT = Path(__file__).resolve().parents[2]


def backup(run: Run, project: Project, dest: Path) -> dict[str, Any]:
    ran = run("backup", "create", str(dest), "--prefix", project.prefix, "--json")
    assert ran.code == 0, ran.stdout + ran.stderr
    return dict(ran.json())


def project_spaces(server: ServerProcess, project: Project) -> list[str]:
    with server.client() as http:
        body = http.get("/space", params={"where": f"Labels.project = '{project.name}'"}).json()
    return sorted(item["Space"]["Slug"] for item in body)


def entity_count(server: ServerProcess) -> int:
    with server.client() as http:
        units = http.get("/unit").json()
        revisions = http.get("/revision").json()
        spaces = http.get("/space").json()
    return len(units) + len(revisions) + len(spaces)


def test_round_trip_is_identical_field_by_field(
    project: Project, source: Run, empty_server: ServerProcess, tmp_path: Path
) -> None:
    taken = backup(source, project, tmp_path / "b1")
    assert taken["counts"]["unit"] == 5 and taken["counts"]["revision"] == 12, taken["counts"]
    assert taken["counts"]["tag"] == 2 and taken["counts"]["trigger"] == 1
    target = make_runner(empty_server)
    ran = target("restore", str(tmp_path / "b1"), "--json")
    assert ran.code == 0, ran.stdout + ran.stderr
    report = ran.json()
    assert report["created"]["unit"] == 5 and report["created"]["revision"] == 12
    assert report["kept"] == {} and report["warnings"] == []
    again = backup(target, project, tmp_path / "b2")
    assert again["counts"] == taken["counts"]
    before, after = normalised(tmp_path / "b1"), normalised(tmp_path / "b2")
    assert before.keys() == after.keys()
    for rel in before:
        assert after[rel] == before[rel], (rel, differences(before[rel], after[rel]))
    # spot checks of what matters most, in plain terms
    base_ts = after[f"spaces/{project.slug('base')}/units/trade-service.json"]
    assert [r["RevisionNum"] for r in base_ts["Revisions"]] == [1, 2, 3, 4, 5]
    assert base_ts["Revisions"][4]["Description"] == "Restored revision 4"
    dev_ts = after[f"spaces/{project.slug('dev')}/units/trade-service.json"]["Unit"]
    assert dev_ts["UpstreamRevisionNum"] == 2
    assert dev_ts["UpstreamUnitID"] == f"unit:{project.slug('base')}/trade-service"
    assert dev_ts["TargetID"] == f"target:{project.slug('dev')}/dev-target"
    dev_revs = after[f"spaces/{project.slug('dev')}/units/trade-service.json"]["Revisions"]
    assert dev_revs[0]["Tags"] == {f"tag:{project.slug('dev')}/r1-start": "r1-start"}
    assert dev_revs[1]["ChangeSetID"] == f"change_set:{project.slug('dev')}/release-1"
    gated = after[f"spaces/{project.slug('dev')}/units/web-front-end.json"]["Unit"]
    assert gated["ApplyGates"], "the restored trigger gates the restored unit again"


def test_restore_into_a_server_holding_the_project_is_refused_then_forced_without_duplicates(
    project: Project, source: Run, empty_server: ServerProcess, tmp_path: Path
) -> None:
    backup(source, project, tmp_path / "b")
    target = make_runner(empty_server)
    assert target("restore", str(tmp_path / "b"), "--json").code == 0
    count = entity_count(empty_server)
    refused = target("restore", str(tmp_path / "b"))
    assert refused.code == 3
    assert "already holds 4 of the backup's spaces" in refused.stderr
    assert "--force" in refused.stderr
    assert entity_count(empty_server) == count
    forced = target("restore", str(tmp_path / "b"), "--force", "--json")
    assert forced.code == 0, forced.stdout + forced.stderr
    report = forced.json()
    assert report["created"] == {}
    assert report["kept"]["unit"] == 5 and report["kept"]["space"] == 4
    assert entity_count(empty_server) == count


def test_partial_restore_fills_in_missing_objects(
    project: Project, source: Run, empty_server: ServerProcess, tmp_path: Path
) -> None:
    """Rebuild one environment: restore base+filters+dev first, staging later; staging's clone
    finds its upstream on the server by slug."""
    backup(source, project, tmp_path / "b")
    target = make_runner(empty_server)
    first = target(
        "restore",
        str(tmp_path / "b"),
        "--space",
        "base",
        "--space",
        "filters",
        "--space",
        "dev",
        "--json",
    )
    assert first.code == 0, first.stdout + first.stderr
    assert project_spaces(empty_server, project) == sorted(
        project.slug(k) for k in ("base", "filters", "dev")
    )
    second = target("restore", str(tmp_path / "b"), "--space", "staging", "--json")
    assert second.code == 0, second.stdout + second.stderr
    # The API records an upstream's head at clone time; dev moved on, so staging's base is
    # dev's head now, and the restore says so.
    assert len(second.json()["warnings"]) == 1
    assert "UpstreamRevisionNum is 3 (was 1)" in second.json()["warnings"][0]
    backup(target, project, tmp_path / "after")
    before, after = normalised(tmp_path / "b"), normalised(tmp_path / "after")
    assert before.keys() == after.keys()
    staging_ts = f"spaces/{project.slug('staging')}/units/trade-service.json"
    after[staging_ts]["Unit"]["UpstreamRevisionNum"] = 1
    for rel in before:
        assert after[rel] == before[rel], (rel, differences(before[rel], after[rel]))


def _corrupt_cases(root: Path, project: Project) -> list[tuple[str, Path]]:
    unit_file = root / "spaces" / project.slug("dev") / "units" / "trade-service.json"
    return [
        ("checksum", unit_file),
        ("missing", unit_file),
        ("version", root / MANIFEST),
        ("extra", root / "spaces" / "stray.json"),
        ("manifest", root / MANIFEST),
    ]


@pytest.mark.parametrize("case", ["checksum", "missing", "version", "extra", "manifest", "nodir"])
def test_corrupt_or_partial_backup_is_refused_before_any_write(
    case: str, project: Project, source: Run, empty_server: ServerProcess, tmp_path: Path
) -> None:
    root = tmp_path / "b"
    backup(source, project, root)
    unit_file = root / "spaces" / project.slug("dev") / "units" / "trade-service.json"
    named: Path = unit_file
    if case == "checksum":
        text = unit_file.read_text()
        unit_file.write_text(text.replace('"Slug": "trade-service"', '"Slug": "trade-servicf"', 1))
    elif case == "missing":
        unit_file.unlink()
    elif case == "version":
        manifest = json.loads((root / MANIFEST).read_text())
        manifest["format_version"] = 99
        (root / MANIFEST).write_text(json.dumps(manifest))
        named = root / MANIFEST
    elif case == "extra":
        named = root / "spaces" / "stray.json"
        named.write_text("{}")
    elif case == "manifest":
        (root / MANIFEST).unlink()
        named = root / MANIFEST
    else:
        shutil.rmtree(root)
        named = root
    before = entity_count(empty_server)
    ran = make_runner(empty_server)("restore", str(root))
    assert ran.code == 4, ran.stdout + ran.stderr
    assert str(named) in ran.stderr and "nothing was written" in ran.stderr
    if case == "version":
        assert "format_version 99 is newer" in ran.stderr
    if case == "checksum":
        assert "checksum mismatch" in ran.stderr
    assert entity_count(empty_server) == before
    verify = make_runner(empty_server)("backup", "verify", str(root), "--json")
    assert verify.code == 4 and verify.json()["kind"] == "bad_input"


def test_backup_refuses_to_overwrite_and_unknown_project(
    project: Project, source: Run, tmp_path: Path
) -> None:
    backup(source, project, tmp_path / "b")
    again = source("backup", "create", str(tmp_path / "b"), "--prefix", project.prefix)
    assert again.code == 3 and "never written over another" in again.stderr
    missing = source("backup", "create", str(tmp_path / "x"), "--prefix", "nosuchprefix")
    assert missing.code == 6 and "project='nosuchprefix-traderx'" in missing.stderr
    assert not (tmp_path / "x").exists() and not (tmp_path / "x.partial").exists()


def test_console_script_and_connection_errors(
    project: Project, source: Run, confighub_server: ServerProcess, tmp_path: Path
) -> None:
    backup(source, project, tmp_path / "b")
    script = Path(sys.executable).with_name("traderx")
    assert script.exists(), "toolchain/venv.sh installs the project editable with the script"
    proc = subprocess.run(
        [str(script), "backup", "verify", str(tmp_path / "b"), "--json"],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["counts"]["unit"] == 5
    down = source("restore", str(tmp_path / "b"), "--url", "http://127.0.0.1:1", "--json")
    assert down.code == 5 and "did not answer" in down.json()["error"]
    no_token = source("restore", str(tmp_path / "b"), env={"CONFIGHUB_TOKEN": ""})
    assert no_token.code == 5 and "CONFIGHUB_TOKEN" in no_token.stderr
    bad_token = source(
        "backup", "create", str(tmp_path / "c"), "--prefix", project.prefix, "--token", "wrong"
    )
    assert bad_token.code == 5 and "refused the token" in bad_token.stderr
    assert confighub_server.proc is not None and confighub_server.proc.poll() is None


def test_rebuild_refuses_bad_environments_before_anything_is_written(
    project: Project, source: Run, confighub_server: ServerProcess, tmp_path: Path
) -> None:
    backup(source, project, tmp_path / "b")
    before = entity_count(confighub_server)
    unknown = source("dr", "rebuild", "dev", "qa", "--backup", str(tmp_path / "b"))
    assert unknown.code == 2 and "unknown environment 'qa'" in unknown.stderr, unknown.stderr
    one_stack = source(
        "dr", "rebuild", "staging", "dev", "--stack", "dev", "--backup", str(tmp_path / "b")
    )
    assert one_stack.code == 2 and "--stack names one stack" in one_stack.stderr
    assert "2 environments" in one_stack.stderr, one_stack.stderr
    other = source(
        "dr", "rebuild", "dev", "--prefix", "someoneelse", "--backup", str(tmp_path / "b")
    )
    assert other.code == 4 and "is a backup of" in other.stderr, other.stderr
    assert entity_count(confighub_server) == before, "nothing was written"


def test_rebuild_orders_environments_upstream_first() -> None:
    from operator_cli.dr import in_order

    assert in_order(["prod", "dev", "staging", "prod"]) == ["dev", "staging", "prod"]
    assert in_order(["prod-eu", "prod"]) == ["prod", "prod-eu"]
