"""Lateral promotion (issue #13), end to end: real engine, local server, local cluster.

`prod-eu` is a second prod region: its own stack, space, namespace, worker and target, with units
downstream of prod's. One deployment, kept small (it runs in the full suite):
- dev, then prod as release R1 (prod's upstream is set to dev here: staging's promotion is
  covered by test_releases_rollback.py; what matters below is prod ↔ prod-eu), then prod-eu
  promoted from prod with prod's revisions as pins: release `prod-eu-<date>-1`, source R1;
- one service moves: dev → prod as R2 → prod-eu (`prod-eu-<date>-2`, source R2);
- `traderx rollback env prod-eu --to prod-eu-<date>-1`: prod-eu's units equal that release's
  tagged revisions, its Deployment runs R1's image, `preview --expect-no-changes -s prod-eu`;
- prod is untouched by the lateral promotion and the rollback: every prod unit's head and live
  revision numbers and data hashes, prod's releases and prod's Deployments are compared.
Spaces and units are declared unprotected (`traderx:protect=false`) to spare two teardown `up`s;
the protected teardown is test_three_environments.py's.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.run import start
from tests.e2e.test_releases_rollback import tagged_hash, traderx, units_of
from tests.support.server import ServerProcess

pytestmark = [pytest.mark.engine, pytest.mark.cluster, pytest.mark.slow]

ENVS = ("dev", "prod", "prod-eu")
MOVED = "trade-service"
NEW_TAG = "1.2.0"


def prod_state(server: ServerProcess, space_id: str) -> dict[str, tuple[int, int, str]]:
    """Per prod unit: (head revision, live revision, data hash)."""
    return {
        slug: (int(u["HeadRevisionNum"]), int(u["LiveRevisionNum"]), str(u["DataHash"]))
        for slug, u in units_of(server, space_id).items()
    }


def images(appsv1: Any, namespace: str) -> dict[str, str]:
    items: list[Any] = appsv1.list_namespaced_deployment(namespace).items
    return {d.metadata.name: d.spec.template.spec.containers[0].image for d in items}


def test_lateral_promotion_and_rollback_leave_prod_untouched(
    toolchain: Any, kube_cluster: Any, hub: ServerProcess, pulumi_backend: str, tmp_path: Path
) -> None:
    run = start("lat", ENVS, toolchain, kube_cluster, hub, pulumi_backend, tmp_path)
    prefix, namespaces, project, stacks = run.prefix, run.namespaces, run.project, run.stacks
    env, appsv1 = run.env, run.appsv1
    prod_like = {"traderx:protect": False}
    cli = ("--prefix", prefix, "--project-dir", str(project))
    try:
        run.init(
            "dev", {"traderx:prefix": prefix, "traderx:namespace": namespaces["dev"]},
            {"confighub:token": hub.token},
        )  # fmt: skip
        stacks.up("dev")
        run.init(
            "prod",
            {
                **prod_like,
                "traderx:namespace": namespaces["prod"],
                "traderx:upstreamStack": "organization/traderx/dev",
                "traderx:promote": stacks.outputs("dev")["unitRevisions"],
                "traderx:release": {"name": "R1"},
            },
            {"confighub:token": hub.token, "traderx:databasePassword": secrets.token_hex(8)},
        )
        stacks.up("prod")
        prod = stacks.outputs("prod")
        assert prod["release"] == "R1"
        prod_space = prod["envSpaceId"]

        # --- lateral promotion prod → prod-eu: its own space, worker, target, namespace -------
        run.init(
            "prod-eu",
            {
                **prod_like,
                "traderx:namespace": namespaces["prod-eu"],
                "traderx:promote": prod["unitRevisions"],
                "traderx:release": {"source": "R1"},
            },
            {"confighub:token": hub.token, "traderx:databasePassword": secrets.token_hex(8)},
        )
        stacks.up("prod-eu")
        eu = stacks.outputs("prod-eu")
        first = eu["release"]
        assert first.startswith("prod-eu-") and first.endswith("-1"), first
        assert eu["upstreamStack"] == "organization/traderx/prod"
        eu_space = eu["envSpaceId"]
        assert eu_space != prod_space and eu["workerId"] != prod["workerId"]
        assert eu["targetId"] != prod["targetId"]
        eu_units = units_of(hub, eu_space)
        prod_units = units_of(hub, prod_space)
        for slug, unit in eu_units.items():
            assert unit["UpstreamUnitID"] == prod_units[slug]["UnitID"], slug
            assert unit["UpstreamRevisionNum"] == prod["unitRevisions"][slug], slug
            assert unit["LiveRevisionNum"] == unit["HeadRevisionNum"], slug
        assert images(appsv1, namespaces["prod-eu"]) == images(appsv1, namespaces["prod"])
        stacks.run("config", "rm", "traderx:release", stack="prod-eu")

        # --- one service moves: dev → prod (R2) → prod-eu (release 2, source R2) -------------
        stacks.set("dev", f'traderx:services["{MOVED}"]["image"]["tag"]', NEW_TAG)
        stacks.up("dev")
        dev_revision = stacks.outputs("dev")["unitRevisions"][MOVED]
        stacks.set("prod", f'traderx:promote["{MOVED}"]', dev_revision)
        stacks.set("prod", "traderx:release", {"name": "R2"})
        stacks.up("prod")
        prod = stacks.outputs("prod")
        assert prod["release"] == "R2"
        prod_before = prod_state(hub, prod_space)
        prod_images = images(appsv1, namespaces["prod"])
        assert prod_images[MOVED].endswith(f":{NEW_TAG}")
        code, listed, log = traderx(env, project, "release", "list", "prod", *cli)
        assert code == 0, log
        prod_releases = listed["releases"]
        assert [r["name"] for r in prod_releases] == ["R1", "R2"], log

        stacks.set("prod-eu", f'traderx:promote["{MOVED}"]', prod["unitRevisions"][MOVED])
        stacks.set("prod-eu", "traderx:release", {"source": "R2"})
        stacks.up("prod-eu")
        second = stacks.outputs("prod-eu")["release"]
        # the day's second release, or the next day's first if UTC midnight fell in between
        stem, next_day = first.rsplit("-", 1)[0], second.rsplit("-", 1)[0]
        assert second == f"{stem}-2" or (next_day > stem and second.endswith("-1")), second
        assert images(appsv1, namespaces["prod-eu"])[MOVED].endswith(f":{NEW_TAG}")
        stacks.run("config", "rm", "traderx:release", stack="prod-eu")
        code, listed, log = traderx(env, project, "release", "list", "prod-eu", *cli)
        assert code == 0, log
        eu_releases = {r["name"]: r for r in listed["releases"]}
        assert list(eu_releases) == [first, second], log
        assert eu_releases[first]["source"] == "R1" and eu_releases[second]["source"] == "R2"
        assert eu_releases[second]["promoted"] == [MOVED]

        # --- roll prod-eu back to its first release -----------------------------------------
        code, report, log = traderx(
            env, project, "rollback", "env", "prod-eu", "--to", first, *cli
        )  # fmt: skip
        assert code == 0, log
        assert sorted(report["restored"]) == [MOVED], report
        assert report["surged"] == {MOVED: [MOVED]}, report  # its 3 replicas at once
        for slug, unit in units_of(hub, eu_space).items():
            assert unit["DataHash"] == tagged_hash(
                hub, eu_space, unit["UnitID"], eu_releases[first]["tagId"]
            ), slug
            assert unit["LiveRevisionNum"] == unit["HeadRevisionNum"], slug
        live: Any = appsv1.read_namespaced_deployment(MOVED, namespaces["prod-eu"])
        assert live.spec.template.spec.containers[0].image.endswith(":latest")
        assert live.status.available_replicas == live.spec.replicas
        assert live.spec.strategy.rolling_update.max_surge == 1  # the strategy is back
        assert report["recordedAs"].startswith("prod-eu-"), report
        stacks.run("preview", "--expect-no-changes", stack="prod-eu")

        # --- prod is untouched ---------------------------------------------------------------
        assert prod_state(hub, prod_space) == prod_before
        assert images(appsv1, namespaces["prod"]) == prod_images
        code, listed, log = traderx(env, project, "release", "list", "prod", *cli)
        assert code == 0 and listed["releases"] == prod_releases, log
        stacks.run("preview", "--expect-no-changes", stack="prod")
    finally:
        errors, left_spaces, left_ns = run.teardown(unprotect=False)  # declared unprotected
        print("e2e timings (s):", {k: round(v, 1) for k, v in stacks.timings.items()})
    assert errors == [], errors[0][:3000] if errors else ""
    assert left_spaces == [] and left_ns == []
