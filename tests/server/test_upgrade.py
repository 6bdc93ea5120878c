"""Upstream/downstream: clone, upgrade keeping downstream edits, bulk clone, push-upgrade."""

from __future__ import annotations

from typing import Any

import yaml

from tests.server.helpers import MERGE, b64, new_space, new_unit, ok, slug, unb64
from tests.support.server import ServerProcess

BASE = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: trade-service
spec:
  replicas: 1
  template:
    spec:
      containers:
      - name: trade-service
        image: ghcr.io/finos/traderx/trade-service:1.0.0
        env:
        - name: LOG_LEVEL
          value: info
"""


def _doc(unit: dict[str, Any]) -> Any:
    return yaml.safe_load(unb64(unit["Data"]))


def test_base_dev_staging_chain_upgrade_keeps_local_edit(confighub_server: ServerProcess) -> None:
    with confighub_server.client() as c:
        base_sp, dev_sp, stg_sp = (new_space(c, p)["SpaceID"] for p in ("base", "dev", "stg"))
        base = new_unit(c, base_sp, BASE, prefix="trade")
        dev = ok(
            c.post(
                f"/space/{dev_sp}/unit",
                params={"upstream_unit_id": base["UnitID"], "upstream_space_id": base_sp},
                json={"Slug": base["Slug"]},
            )
        )
        assert dev["UpstreamUnitID"] == base["UnitID"] and dev["UpstreamRevisionNum"] == 1
        stg = ok(
            c.post(
                f"/space/{stg_sp}/unit",
                params={"upstream_unit_id": dev["UnitID"]},
                json={"Slug": base["Slug"]},
            )
        )
        assert stg["UpstreamRevisionNum"] == dev["HeadRevisionNum"]

        # local edit in dev: replicas 3 (via function, a new dev revision)
        res = c.post(
            f"/space/{dev_sp}/function/invoke",
            params={"where": f"UnitID = '{dev['UnitID']}'"},
            json={
                "FunctionInvocations": [
                    {"FunctionName": "set-replicas", "Arguments": [{"Value": 3}]}
                ]
            },
        )
        assert res.status_code == 200, res.text
        # upstream change in base: new image tag
        new_base = BASE.replace("1.0.0", "1.1.0")
        base2 = ok(
            c.patch(
                f"/space/{base_sp}/unit/{base['UnitID']}",
                json={"Data": b64(new_base)},
                headers=MERGE,
            )
        )
        assert base2["HeadRevisionNum"] == 2

        upgradable = ok(
            c.get(
                "/unit",
                params={
                    "where": (
                        f"UpstreamUnitID = '{base['UnitID']}' AND "
                        "UpstreamRevisionNum < UpstreamUnit.HeadRevisionNum"
                    )
                },
            )
        )
        assert [u["Unit"]["UnitID"] for u in upgradable] == [dev["UnitID"]]

        dev2 = ok(
            c.patch(
                f"/space/{dev_sp}/unit/{dev['UnitID']}",
                params={"upgrade": "true"},
                content="null",
                headers={"Content-Type": "application/json"},
            )
        )
        assert dev2["UpstreamRevisionNum"] == 2
        doc = _doc(dev2)
        ctr = doc["spec"]["template"]["spec"]["containers"][0]
        assert ctr["image"].endswith(":1.1.0"), "upstream change merged"
        assert doc["spec"]["replicas"] == 3, "downstream edit kept"

        stg2 = ok(
            c.patch(
                "/unit",
                params={"where": f"UnitID = '{stg['UnitID']}'", "upgrade": "true"},
                json=None,
            )
        )[0]["Unit"]
        assert stg2["UpstreamRevisionNum"] == dev2["HeadRevisionNum"]
        sdoc = _doc(stg2)
        assert sdoc["spec"]["replicas"] == 3
        assert sdoc["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":1.1.0")


def test_conflicting_upgrade_is_409_and_changes_nothing(confighub_server: ServerProcess) -> None:
    with confighub_server.client() as c:
        up_sp, down_sp = new_space(c)["SpaceID"], new_space(c)["SpaceID"]
        up = new_unit(c, up_sp, "a: 1\n")
        down = ok(
            c.post(
                f"/space/{down_sp}/unit",
                params={"upstream_unit_id": up["UnitID"]},
                json={"Slug": slug("d")},
            )
        )
        ok(
            c.patch(
                f"/space/{down_sp}/unit/{down['UnitID']}",
                json={"Data": b64("a: 2\n")},
                headers=MERGE,
            )
        )
        ok(
            c.patch(
                f"/space/{up_sp}/unit/{up['UnitID']}", json={"Data": b64("a: 3\n")}, headers=MERGE
            )
        )
        resp = c.patch(f"/space/{down_sp}/unit/{down['UnitID']}", params={"upgrade": "true"})
        assert resp.status_code == 409 and "/a" in resp.json()["Message"]
        after = ok(c.get(f"/space/{down_sp}/unit/{down['UnitID']}"))["Unit"]
        assert unb64(after["Data"]) == "a: 2\n" and after["UpstreamRevisionNum"] == 1


def test_bulk_clone_with_where_into_spaces(confighub_server: ServerProcess) -> None:
    with confighub_server.client() as c:
        mark = slug("m")
        src = new_space(c)["SpaceID"]
        targets = [new_space(c, Labels={"bulk": mark}) for _ in range(2)]
        units = [new_unit(c, src, "k: v\n", Labels={"app": mark}) for _ in range(3)]
        resp = c.post(
            "/unit",
            params={"where": f"Labels.app = '{mark}'", "where_space": f"Labels.bulk = '{mark}'"},
            json={"Labels": {"env": "dev"}},
        )
        assert resp.status_code == 200, resp.text
        made = [r["Unit"] for r in resp.json()]
        assert len(made) == 6
        assert {u["SpaceID"] for u in made} == {t["SpaceID"] for t in targets}
        assert {u["UpstreamUnitID"] for u in made} == {u["UnitID"] for u in units}
        assert all(u["Labels"] == {"app": mark, "env": "dev"} for u in made)
