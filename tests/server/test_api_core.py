"""Core API against a real server process: auth, spaces, units, revisions, where, Version."""

from __future__ import annotations

import httpx

from tests.server.helpers import MERGE, b64, new_space, new_unit, ok, slug, unb64
from tests.support.server import ServerProcess


def test_every_api_route_needs_the_token(confighub_server: ServerProcess) -> None:
    for path in ("/info", "/me", "/space", "/unit", "/space/00000000-0000-0000-0000-000000000000"):
        resp = httpx.get(confighub_server.api + path)
        assert resp.status_code == 401, path
        assert resp.json()["Code"] == "Unauthorized"
        bad = httpx.get(confighub_server.api + path, headers={"Authorization": "Bearer nope"})
        assert bad.status_code == 401, path


def test_info_me_organization(confighub_server: ServerProcess) -> None:
    with confighub_server.client() as c:
        me = ok(c.get("/me"))
        orgs = ok(c.get("/organization"))
        assert [o["OrganizationID"] for o in orgs] == [me["OrganizationID"]]
        assert ok(c.get("/info"))["Version"]


def test_space_crud_labels_and_where(confighub_server: ServerProcess) -> None:
    with confighub_server.client() as c:
        space = new_space(c, Labels={"project": "traderx", "env": "dev"})
        assert space["Version"] == 1 and space["Labels"]["env"] == "dev"
        got = ok(c.get(f"/space/{space['SpaceID']}"))
        assert got["Space"]["Slug"] == space["Slug"] and got["TotalUnitCount"] == 0
        listed = ok(c.get("/space", params={"where": f"Slug = '{space['Slug']}'"}))
        assert [s["Space"]["SpaceID"] for s in listed] == [space["SpaceID"]]
        patched = ok(
            c.patch(
                f"/space/{space['SpaceID']}",
                json={"Labels": {"env": None, "x": "1"}},
                headers=MERGE,
            )
        )
        assert patched["Labels"] == {"project": "traderx", "x": "1"} and patched["Version"] == 2
        assert ok(c.get("/space", params={"where": f"Labels.x = '1' AND Slug = '{space['Slug']}'"}))
        dup = c.post("/space", json={"Slug": space["Slug"]})
        assert dup.status_code == 409 and space["Slug"] in dup.json()["Message"]
        assert (
            ok(c.post("/space", params={"allow_exists": "true"}, json={"Slug": space["Slug"]}))[
                "SpaceID"
            ]
            == space["SpaceID"]
        )
        ok(c.delete(f"/space/{space['SpaceID']}"))
        assert c.get(f"/space/{space['SpaceID']}").status_code == 404


def test_unit_crud_revisions_and_data(confighub_server: ServerProcess) -> None:
    with confighub_server.client() as c:
        space = new_space(c)
        sid = space["SpaceID"]
        unit = new_unit(c, sid, "a: 1\n", Labels={"tier": "backend"})
        assert unit["HeadRevisionNum"] == 1 and unit["LiveRevisionNum"] == 0
        assert unb64(unit["Data"]) == "a: 1\n"
        uid = unit["UnitID"]
        upd = ok(c.patch(f"/space/{sid}/unit/{uid}", json={"Data": b64("a: 2\n")}, headers=MERGE))
        assert upd["HeadRevisionNum"] == 2
        same = ok(
            c.patch(f"/space/{sid}/unit/{uid}", json={"Labels": {"extra": "y"}}, headers=MERGE)
        )
        assert same["HeadRevisionNum"] == 2, "label-only change must not make a revision"
        assert same["Labels"] == {"tier": "backend", "extra": "y"}
        revs = ok(c.get(f"/space/{sid}/unit/{uid}/revision"))
        assert [r["Revision"]["RevisionNum"] for r in revs] == [1, 2]
        first = revs[0]["Revision"]
        data = c.get(f"/space/{sid}/unit/{uid}/revision/{first['RevisionID']}/data")
        assert data.status_code == 200 and data.content == b"a: 1\n"
        assert c.get(f"/space/{sid}/unit/{uid}/data").content == b"a: 2\n"
        got = ok(c.get(f"/space/{sid}/unit/{uid}"))
        assert got["Unit"]["UnitID"] == uid and got["Space"]["SpaceID"] == sid
        ok(c.delete(f"/space/{sid}/unit/{uid}"))
        assert c.get(f"/space/{sid}/unit/{uid}").status_code == 404


def test_restore_makes_a_new_head_equal_to_the_old_revision(
    confighub_server: ServerProcess,
) -> None:
    with confighub_server.client() as c:
        sid = new_space(c)["SpaceID"]
        unit = new_unit(c, sid, "image: v1\n")
        uid = unit["UnitID"]
        ok(c.patch(f"/space/{sid}/unit/{uid}", json={"Data": b64("image: v2\n")}, headers=MERGE))
        restored = ok(c.patch(f"/space/{sid}/unit/{uid}", params={"restore": "1"}, json=None))
        assert restored["HeadRevisionNum"] == 3
        assert unb64(restored["Data"]) == "image: v1\n"
        before = ok(c.patch(f"/space/{sid}/unit/{uid}", params={"restore": "Before:3"}))
        assert unb64(before["Data"]) == "image: v2\n" and before["HeadRevisionNum"] == 4


def test_optimistic_concurrency_refuses_lost_updates(confighub_server: ServerProcess) -> None:
    with confighub_server.client() as c:
        sid = new_space(c)["SpaceID"]
        unit = new_unit(c, sid, "a: 1\n")
        uid, version = unit["UnitID"], unit["Version"]
        ok(
            c.patch(
                f"/space/{sid}/unit/{uid}",
                json={"Data": b64("a: 2\n"), "Version": version},
                headers=MERGE,
            )
        )
        stale = c.patch(
            f"/space/{sid}/unit/{uid}",
            json={"Data": b64("a: 3\n"), "Version": version},
            headers=MERGE,
        )
        assert stale.status_code == 409 and "stale" in stale.json()["Message"]
        assert c.get(f"/space/{sid}/unit/{uid}/data").content == b"a: 2\n"


def test_bad_input_is_a_clear_400_and_changes_nothing(confighub_server: ServerProcess) -> None:
    with confighub_server.client() as c:
        sid = new_space(c)["SpaceID"]
        unit = new_unit(c, sid, "a: 1\n")
        uid = unit["UnitID"]
        bad = c.patch(f"/space/{sid}/unit/{uid}", json={"Data": "%%%not-base64"}, headers=MERGE)
        assert bad.status_code == 400 and "Data" in bad.json()["Message"]
        bad = c.patch(f"/space/{sid}/unit/{uid}", json={"Labels": {"a": 1}}, headers=MERGE)
        assert bad.status_code == 400 and "Labels" in bad.json()["Message"]
        bad = c.post(f"/space/{sid}/unit", json={"Slug": slug("u")})
        assert bad.status_code == 400 and "ToolchainType" in bad.json()["Message"]
        bad = c.patch(
            f"/space/{sid}/unit/{uid}", json={"Data": b64("a: [unclosed\n")}, headers=MERGE
        )
        assert bad.status_code == 400 and "not valid YAML" in bad.json()["Message"]
        bad = c.patch(
            f"/space/{sid}/unit/{uid}", json={"Data": b64("- just\n- a list\n")}, headers=MERGE
        )
        assert bad.status_code == 400 and "not a YAML mapping" in bad.json()["Message"]
        assert c.get(f"/space/{sid}/unit/not-a-uuid").status_code == 400
        after = ok(c.get(f"/space/{sid}/unit/{uid}"))["Unit"]
        assert after["Version"] == unit["Version"] and after["Data"] == unit["Data"]


def test_where_operators_over_units(confighub_server: ServerProcess) -> None:
    with confighub_server.client() as c:
        space = new_space(c, Labels={"project": "p1"})
        sid = space["SpaceID"]
        a = new_unit(
            c, sid, "x: 1\n", prefix="trade-service", Labels={"tier": "backend", "order": "3"}
        )
        b = new_unit(c, sid, "x: 1\n", prefix="web-front", Labels={"tier": "frontend"})
        ok(c.patch(f"/space/{sid}/unit/{b['UnitID']}", json={"Data": b64("x: 2\n")}, headers=MERGE))

        def slugs(where: str) -> set[str]:
            rows = ok(c.get(f"/space/{sid}/unit", params={"where": where}))
            return {r["Unit"]["Slug"] for r in rows}

        assert slugs("Labels.tier = 'backend'") == {a["Slug"]}
        assert slugs("Slug LIKE 'trade-%'") == {a["Slug"]}
        assert slugs("Slug ILIKE 'TRADE-%'") == {a["Slug"]}
        assert slugs("Slug LIKE 'TRADE-%'") == set()
        assert slugs("Slug ~ '^web-'") == {b["Slug"]}
        assert slugs("Slug !~* '^WEB-'") == {a["Slug"]}
        assert slugs("HeadRevisionNum > 1") == {b["Slug"]}
        assert slugs("HeadRevisionNum > LiveRevisionNum") == {a["Slug"], b["Slug"]}
        assert slugs("Labels.tier IN ('backend', 'frontend') AND LiveRevisionNum = 0") == {
            a["Slug"],
            b["Slug"],
        }
        assert slugs("Labels.tier NOT IN ('backend')") == {b["Slug"]}
        assert slugs("Labels.order IS NULL") == {b["Slug"]}
        assert slugs("Space.Labels.project = 'p1' AND Labels.order IS NOT NULL") == {a["Slug"]}
        assert slugs(f"UnitID = '{a['UnitID']}'") == {a["Slug"]}
        assert slugs("Slug = 'it''s'") == set()
        org = ok(
            c.get("/unit", params={"where": f"SpaceID = '{sid}' AND Labels.tier = 'frontend'"})
        )
        assert [r["Unit"]["UnitID"] for r in org] == [b["UnitID"]]


def test_bad_where_names_the_offending_token(confighub_server: ServerProcess) -> None:
    with confighub_server.client() as c:
        sid = new_space(c)["SpaceID"]
        cases = {
            "Slug = 'a' OR Slug = 'b'": "OR",
            "Bogus = 1": "Bogus",
            "HeadRevisionNum > 'x'": "'x'",
            "Slug = ": "end of expression",
            "Slug == 'a'": "'='",
            "Slug ~ '('": "regular expression",
            "UnitID > 'a'": "'>'",
            "Slug = 'open": "unterminated",
        }
        for expr, needle in cases.items():
            resp = c.get(f"/space/{sid}/unit", params={"where": expr})
            assert resp.status_code == 400, expr
            assert needle in resp.json()["Message"], (expr, resp.json())


def test_malformed_requests_get_clear_errors(confighub_server: ServerProcess) -> None:
    with confighub_server.client() as c:
        bad = c.post("/space", content=b"{bad json", headers={"Content-Type": "application/json"})
        assert bad.status_code == 400 and "not valid JSON (at character 1)" in bad.json()["Message"]
        assert "must be a JSON object" in c.post("/space", json=[1]).json()["Message"]
        slug_err = c.post("/space", json={"Slug": "bad slug!"}).json()["Message"]
        assert "Space.Slug" in slug_err
        missing = c.get("/nowhere")
        assert missing.status_code == 404 and "GET /api/nowhere" in missing.json()["Message"]
