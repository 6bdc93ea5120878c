"""Filters, links, workers, targets, tags and change sets; org-wide listings."""

from __future__ import annotations

from tests.server.helpers import MERGE, b64, new_space, new_target, new_unit, ok, slug, unb64
from tests.support.server import ServerProcess


def test_filter_saves_a_where_and_lists_units(confighub_server: ServerProcess) -> None:
    with confighub_server.client() as c:
        sid = new_space(c)["SpaceID"]
        crit = new_unit(c, sid, "a: 1\n", Labels={"critical": "true"})
        new_unit(c, sid, "a: 1\n")
        flt = ok(
            c.post(
                f"/space/{sid}/filter",
                json={"Slug": slug("f"), "From": "Unit", "Where": "Labels.critical = 'true'"},
            )
        )
        rows = ok(c.get(f"/space/{sid}/unit", params={"filter": flt["FilterID"]}))
        assert [r["Unit"]["UnitID"] for r in rows] == [crit["UnitID"]]
        bad = c.post(
            f"/space/{sid}/filter",
            json={"Slug": slug("f"), "From": "Unit", "Where": "Labels.x == 1"},
        )
        assert bad.status_code == 400 and "Where" in bad.json()["Message"]
        listed = ok(c.get("/filter", params={"where": f"FilterID = '{flt['FilterID']}'"}))
        assert listed[0]["Filter"]["Where"] == "Labels.critical = 'true'"


def test_worker_secret_sealed_at_rest_and_target_link(confighub_server: ServerProcess) -> None:
    """The admin reads a worker's secret again (as `cub worker get-secret` does); the database
    holds only its hash and a sealed copy (tests/server/test_worker_protocol.py has more)."""
    with confighub_server.client() as c:
        sid = new_space(c)["SpaceID"]
        worker = ok(c.post(f"/space/{sid}/bridge_worker", json={"Slug": slug("w")}))
        assert len(worker["Secret"]) > 20
        got = ok(c.get(f"/space/{sid}/bridge_worker/{worker['BridgeWorkerID']}"))
        assert got["BridgeWorker"]["Secret"] == worker["Secret"]
        assert not {"SecretHash", "SecretSealed"} & set(got["BridgeWorker"])
        stored = confighub_server.db_path.read_bytes() + (
            confighub_server.db_path.with_name("confighub.db-wal").read_bytes()
            if confighub_server.db_path.with_name("confighub.db-wal").exists()
            else b""
        )
        assert worker["Secret"].encode() not in stored, "secret stored in plain text"
        again = ok(
            c.post(
                f"/space/{sid}/bridge_worker",
                params={"allow_exists": "true"},
                json={"Slug": worker["Slug"]},
            )
        )
        assert again["BridgeWorkerID"] == worker["BridgeWorkerID"]
        assert again["Secret"] == worker["Secret"], "adopting a worker keeps its secret"
        listed = ok(c.get("/bridge_worker", params={"where": f"SpaceID = '{sid}'"}))
        assert [w["BridgeWorker"]["Secret"] for w in listed] == [worker["Secret"]]
        target = new_target(c, sid, worker["BridgeWorkerID"], Parameters='{"KubeContext":"kwok"}')
        unit = new_unit(c, sid, "a: 1\n", TargetID=target["TargetID"])
        assert unit["BridgeWorkerID"] == worker["BridgeWorkerID"]
        bad = c.post(
            f"/space/{sid}/target",
            json={
                "Slug": slug("t"),
                "BridgeWorkerID": "00000000-0000-0000-0000-000000000001",
                "ProviderType": "Kubernetes",
                "ToolchainType": "Kubernetes/YAML",
            },
        )
        assert bad.status_code == 400 and "BridgeWorkerID" in bad.json()["Message"]
        other = new_unit(c, sid, "b: 1\n")
        link = ok(
            c.post(
                f"/space/{sid}/link",
                json={"Slug": slug("l"), "FromUnitID": unit["UnitID"], "ToUnitID": other["UnitID"]},
            )
        )
        assert link["ToSpaceID"] == sid
        got_link = ok(c.get(f"/space/{sid}/link/{link['LinkID']}"))
        assert got_link["ToUnit"]["UnitID"] == other["UnitID"]


def test_tag_and_change_set_restore(confighub_server: ServerProcess) -> None:
    with confighub_server.client() as c:
        sid = new_space(c)["SpaceID"]
        mark = slug("cs")
        units = [new_unit(c, sid, "v: 1\n", Labels={"cs": mark}) for _ in range(2)]
        tag = ok(c.post(f"/space/{sid}/tag", json={"Slug": slug("release")}))
        tagged = c.post(
            "/unit/tag", params={"where": f"Labels.cs = '{mark}'"}, json={"TagID": tag["TagID"]}
        )
        assert tagged.status_code == 200 and len(tagged.json()) == 2
        cs = ok(
            c.post(f"/space/{sid}/change_set", json={"Slug": slug("cs"), "Description": "bump"})
        )
        ok(
            c.patch(
                "/unit",
                params={"where": f"Labels.cs = '{mark}'"},
                json={"ChangeSetID": cs["ChangeSetID"]},
                headers=MERGE,
            )
        )
        for u in units:
            ok(
                c.patch(
                    f"/space/{sid}/unit/{u['UnitID']}", json={"Data": b64("v: 2\n")}, headers=MERGE
                )
            )
            ok(
                c.patch(
                    f"/space/{sid}/unit/{u['UnitID']}", json={"Data": b64("v: 3\n")}, headers=MERGE
                )
            )
        restored = ok(
            c.patch(
                "/unit",
                params={
                    "where": f"Labels.cs = '{mark}'",
                    "restore": f"Before:ChangeSet:{cs['ChangeSetID']}",
                },
            )
        )
        assert [unb64(r["Unit"]["Data"]) for r in restored] == ["v: 1\n", "v: 1\n"]
        back = ok(
            c.patch(
                "/unit", params={"where": f"Labels.cs = '{mark}'", "restore": f"Tag:{tag['TagID']}"}
            )
        )
        assert all(r["Unit"]["HeadRevisionNum"] == 5 for r in back)


def test_org_wide_listings(confighub_server: ServerProcess) -> None:
    with confighub_server.client() as c:
        sid = new_space(c)["SpaceID"]
        ok(c.post(f"/space/{sid}/tag", json={"Slug": slug("t")}))
        for path in (
            "/tag",
            "/filter",
            "/link",
            "/target",
            "/bridge_worker",
            "/trigger",
            "/change_set",
            "/unit",
            "/revision",
        ):
            rows = ok(c.get(path))
            assert isinstance(rows, list), path
        tags = ok(c.get("/tag", params={"where": f"SpaceID = '{sid}'"}))
        assert len(tags) == 1 and tags[0]["Space"]["SpaceID"] == sid
