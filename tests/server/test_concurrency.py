"""Concurrent clients: one winner per slug, one winner per Version, no lost revisions."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from tests.server.helpers import MERGE, b64, new_space, new_unit, ok, slug
from tests.support.server import ServerProcess


def test_same_slug_created_concurrently_has_one_winner(confighub_server: ServerProcess) -> None:
    with confighub_server.client() as c:
        sid = new_space(c)["SpaceID"]
    name = slug("race")

    def create(_: int) -> int:
        with confighub_server.client() as w:
            return w.post(
                f"/space/{sid}/unit",
                json={"Slug": name, "ToolchainType": "Kubernetes/YAML", "Data": b64("a: 1\n")},
            ).status_code

    with ThreadPoolExecutor(8) as pool:
        codes = sorted(pool.map(create, range(8)))
    assert codes == [200] + [409] * 7
    with confighub_server.client() as c:
        assert len(ok(c.get(f"/space/{sid}/unit", params={"where": f"Slug = '{name}'"}))) == 1


def test_same_version_patched_concurrently_has_one_winner(confighub_server: ServerProcess) -> None:
    with confighub_server.client() as c:
        sid = new_space(c)["SpaceID"]
        unit = new_unit(c, sid, "n: 0\n")
    uid, version = unit["UnitID"], unit["Version"]

    def patch(i: int) -> int:
        with confighub_server.client() as w:
            return w.patch(
                f"/space/{sid}/unit/{uid}",
                json={"Data": b64(f"n: {i}\n"), "Version": version},
                headers=MERGE,
            ).status_code

    with ThreadPoolExecutor(8) as pool:
        codes = sorted(pool.map(patch, range(1, 9)))
    assert codes == [200] + [409] * 7
    with confighub_server.client() as c:
        got = ok(c.get(f"/space/{sid}/unit/{uid}"))["Unit"]
        assert got["HeadRevisionNum"] == 2 and got["Version"] == version + 1


def test_unconditional_concurrent_updates_each_make_a_revision(
    confighub_server: ServerProcess,
) -> None:
    with confighub_server.client() as c:
        sid = new_space(c)["SpaceID"]
        uid = new_unit(c, sid, "n: 0\n")["UnitID"]

    def patch(i: int) -> int:
        with confighub_server.client() as w:
            return w.patch(
                f"/space/{sid}/unit/{uid}", json={"Data": b64(f"n: {i}\n")}, headers=MERGE
            ).status_code

    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(patch, range(1, 21))) == {200}
    with confighub_server.client() as c:
        revs = ok(c.get(f"/space/{sid}/unit/{uid}/revision"))
        assert [r["Revision"]["RevisionNum"] for r in revs] == list(range(1, 22))
