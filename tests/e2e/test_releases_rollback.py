"""Releases and rollback (issue #13), end to end: real engine, local server, local cluster.

One deployment of dev, staging and prod, shared by every assertion:
1. prod's first up with pins is release R1; two services (trade-service, reference-data) get a
   new image in dev, are promoted to staging (a staging release) and then to prod as R2, whose
   source is that staging release;
2. `traderx release list prod` shows R1 and R2 (who, units@revision, the Pulumi update);
3. bad input changes nothing: an unknown release (exit 6, naming R1 and R2), an unknown
   revision (exit 4);
4. `traderx rollback env prod --to R1`: every unit's data equals R1's tagged revision, the
   Deployments run R1's images, and `pulumi preview --expect-no-changes -s prod` passes;
5. `traderx rollback unit prod trade-service --to -1`: a new head equal to the previous one,
   applied and available (its replicas surged at once through one intermediate revision, the
   strategy back afterwards, `preview --expect-no-changes`);
6. `traderx audit unit prod trade-service --json` shows R1, R2 and the rollback with who/when;
then the three stacks are destroyed.
"""

from __future__ import annotations

import json
import secrets
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.driver import ROOT
from tests.e2e.run import start
from tests.support.server import ServerProcess

pytestmark = [pytest.mark.engine, pytest.mark.cluster, pytest.mark.slow]

ENVS = ("dev", "staging", "prod")
MOVED = ("trade-service", "reference-data")
NEW_TAG = "1.1.0"


def traderx(env: dict[str, str], project: Path, *args: str) -> tuple[int, Any, str]:
    """Run the operator CLI with --json: (exit code, parsed stdout, stderr)."""
    proc = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "traderx"), *args, "--json"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    try:
        data = json.loads(proc.stdout) if proc.stdout.strip() else None
    except ValueError:
        data = None
    return proc.returncode, data, proc.stdout[-3000:] + proc.stderr[-3000:]


def get(server: ServerProcess, path: str, **params: str) -> Any:
    with server.client() as c:
        resp = c.get(path, params=params or None)
        resp.raise_for_status()
        return resp.json()


def units_of(server: ServerProcess, space_id: str) -> dict[str, dict[str, Any]]:
    return {
        (i.get("Unit") or i)["Slug"]: (i.get("Unit") or i)
        for i in get(server, f"/space/{space_id}/unit")
    }


def tagged_hash(server: ServerProcess, space_id: str, unit_id: str, tag_id: str) -> str:
    revs = [
        (r.get("Revision") or r) for r in get(server, f"/space/{space_id}/unit/{unit_id}/revision")
    ]
    hit = [r for r in revs if tag_id in (r.get("Tags") or {})]
    assert hit, f"unit {unit_id} has no revision tagged {tag_id}"
    return str(max(hit, key=lambda r: r["RevisionNum"])["DataHash"])


def test_releases_and_rollback(
    toolchain: Any, kube_cluster: Any, hub: ServerProcess, pulumi_backend: str, tmp_path: Path
) -> None:
    run = start("rel", ENVS, toolchain, kube_cluster, hub, pulumi_backend, tmp_path)
    prefix, namespaces, project, stacks = run.prefix, run.namespaces, run.project, run.stacks
    env, appsv1 = run.env, run.appsv1
    cli = ("--prefix", prefix, "--project-dir", str(project))
    one_unit = ("--prefix", prefix)  # a unit rollback does not touch the stack
    try:
        run.init(
            "dev", {"traderx:prefix": prefix, "traderx:namespace": namespaces["dev"]},
            {"confighub:token": hub.token},
        )  # fmt: skip
        stacks.up("dev")
        run.init(
            "staging", {"traderx:namespace": namespaces["staging"]}, {"confighub:token": hub.token}
        )
        stacks.up("staging")
        r1_pins = stacks.outputs("staging")["unitRevisions"]
        run.init(
            "prod",
            {
                "traderx:namespace": namespaces["prod"],
                "traderx:promote": r1_pins,
                "traderx:release": {"name": "R1", "description": "first prod release"},
            },
            {"confighub:token": hub.token, "traderx:databasePassword": secrets.token_hex(8)},
        )
        stacks.up("prod")
        assert stacks.outputs("prod")["release"] == "R1"
        prod_space = stacks.outputs("prod")["envSpaceId"]
        r1_images = stacks.outputs("prod")["images"]

        # --- 1. two services move: dev → staging (a staging release) → prod as R2 -----------
        for svc in MOVED:
            stacks.set("dev", f'traderx:services["{svc}"]["image"]["tag"]', NEW_TAG)
        stacks.up("dev")
        dev_revs = stacks.outputs("dev")["unitRevisions"]
        for svc in MOVED:
            stacks.set("staging", f'traderx:promote["{svc}"]', dev_revs[svc])
        stacks.up("staging")
        staging_release = stacks.outputs("staging")["release"]
        assert staging_release.startswith("staging-")
        staging_revs = stacks.outputs("staging")["unitRevisions"]
        for svc in MOVED:
            stacks.set("prod", f'traderx:promote["{svc}"]', staging_revs[svc])
        stacks.set("prod", "traderx:release", {"name": "R2", "source": staging_release})
        stacks.up("prod")
        assert stacks.outputs("prod")["release"] == "R2"
        for svc in MOVED:
            assert stacks.outputs("prod")["images"][svc].endswith(f":{NEW_TAG}")
            live: Any = appsv1.read_namespaced_deployment(svc, namespaces["prod"])
            assert live.spec.template.spec.containers[0].image.endswith(f":{NEW_TAG}")
        stacks.run("config", "rm", "traderx:release", stack="prod")

        # --- 2. releases are listed ----------------------------------------------------------
        code, listed, log = traderx(env, project, "release", "list", "prod", *cli)
        assert code == 0, log
        releases = {r["name"]: r for r in listed["releases"]}
        assert list(releases) == ["R1", "R2"], log
        assert sorted(releases["R2"]["promoted"]) == sorted(MOVED)
        assert releases["R2"]["source"] == staging_release and releases["R2"]["who"]
        assert releases["R1"]["pulumiUpdate"] and releases["R2"]["pulumiUpdate"]
        assert releases["R2"]["pulumiUpdate"] > releases["R1"]["pulumiUpdate"]

        # --- 3. bad input fails before anything changes --------------------------------------
        before = {s: u["HeadRevisionNum"] for s, u in units_of(hub, prod_space).items()}
        code, err, log = traderx(env, project, "rollback", "env", "prod", "--to", "R9", *cli)
        assert code == 6 and "R1" in err["error"] and "R2" in err["error"], log
        code, err, log = traderx(
            env, project, "rollback", "unit", "prod", "trade-service", "--to", "999", *one_unit
        )
        assert code == 4 and "no revision '999'" in err["error"], log
        assert {s: u["HeadRevisionNum"] for s, u in units_of(hub, prod_space).items()} == before

        # --- 4. roll prod back to R1 in one operation ----------------------------------------
        code, report, log = traderx(env, project, "rollback", "env", "prod", "--to", "R1", *cli)
        assert code == 0, log
        assert sorted(report["restored"]) == sorted(MOVED), report
        units = units_of(hub, prod_space)
        for slug, unit in units.items():
            assert unit["DataHash"] == tagged_hash(
                hub, prod_space, unit["UnitID"], releases["R1"]["tagId"]
            ), slug
            assert unit["LiveRevisionNum"] == unit["HeadRevisionNum"], slug
        for svc in MOVED:
            # new heads, not a rewrite: the tagged data with maxSurge 100% (its 3 replicas
            # rolled at once, applied), then the exact tagged revision (applied)
            assert units[svc]["HeadRevisionNum"] == before[svc] + 2
            assert report["surged"][svc] == [svc], report
            live = appsv1.read_namespaced_deployment(svc, namespaces["prod"])
            assert live.spec.template.spec.containers[0].image == r1_images[svc]
            assert live.status.available_replicas == live.spec.replicas
            assert live.spec.strategy.rolling_update.max_surge == 1  # the strategy is back
        assert report["recordedAs"] and report["recordedAs"] not in ("R1", "R2")
        stacks.run("preview", "--expect-no-changes", stack="prod")  # the rollback holds

        # --- 5. one unit back to -1 ----------------------------------------------------------
        svc = "trade-service"
        head = units[svc]["HeadRevisionNum"]
        revs = get(hub, f"/space/{prod_space}/unit/{units[svc]['UnitID']}/revision")
        # -1 is the state before the environment rollback (R2's), not its surging revision
        assert head == before[svc] + 2
        previous = next(
            (r.get("Revision") or r)
            for r in revs
            if (r.get("Revision") or r)["RevisionNum"] == before[svc]
        )
        code, one, log = traderx(
            env, project, "rollback", "unit", "prod", svc, "--to", "-1", *one_unit
        )
        assert code == 0, log
        after = units_of(hub, prod_space)[svc]
        # its 3 replicas roll at once: revision head+1 is the target's data with maxSurge 100%
        # (applied), head+2 the exact restore of the previous revision (applied)
        assert one["surged"] == [svc] and one["restoredRevision"] == before[svc], one
        assert after["HeadRevisionNum"] == head + 2 == one["head"] == one["live"]
        assert after["DataHash"] == previous["DataHash"]
        revs = get(hub, f"/space/{prod_space}/unit/{units[svc]['UnitID']}/revision")
        by_num = {(r.get("Revision") or r)["RevisionNum"]: (r.get("Revision") or r) for r in revs}
        assert "maxSurge 100%" in by_num[head + 1]["Description"]
        assert by_num[head + 2]["Source"] == "Restore"
        live = appsv1.read_namespaced_deployment(svc, namespaces["prod"])
        assert live.status.available_replicas == live.spec.replicas
        assert live.spec.template.spec.containers[0].image.endswith(f":{NEW_TAG}")
        assert live.spec.strategy.rolling_update.max_surge == 1  # the strategy is back
        stacks.run("preview", "--expect-no-changes", stack="prod")  # and the stack agrees

        # --- 6. the audit timeline shows R1, R2 and the rollback, with who and when ----------
        code, audit, log = traderx(env, project, "audit", "unit", "prod", svc, *cli)
        assert code == 0, log
        events = audit["events"]
        named = [e["release"] for e in events if e["event"] == "release"]
        assert named[:2] == ["R1", "R2"] and report["recordedAs"] in named, named
        assert all(e["when"] for e in events)
        kinds = {e["release"]: e["kind"] for e in events if e["event"] == "release"}
        assert kinds[report["recordedAs"]] == "rollback"
        sources = [e.get("source") for e in events if e["event"] == "revision"]
        assert sources.count("Restore") >= 2  # the environment rollback and the unit rollback
        assert any(e["event"] == "apply" and e.get("result") for e in events)
        assert any(e.get("pulumiUpdate") for e in events if e["event"] == "revision")
        print("rollback report:", json.dumps(report["seconds"]), "unit:", one["seconds"])
    finally:
        errors, left_spaces, left_ns = run.teardown()
        print("e2e timings (s):", {k: round(v, 1) for k, v in stacks.timings.items()})
    assert errors == [], errors[0][:3000] if errors else ""
    assert left_spaces == [] and left_ns == []
