"""PATCH ?merge_source&merge_base&merge_end: merge one range of an upstream's revisions.

Promotion uses it to move a downstream unit to any upstream revision, older or newer, keeping
the downstream's own edits.
"""

from __future__ import annotations

from typing import Any

import yaml

from tests.server.helpers import MERGE, b64, new_space, new_unit, ok, slug, unb64
from tests.support.server import ServerProcess

V1 = "kind: Deployment\nmetadata: {name: web}\nspec: {replicas: 1, image: web:1, env: []}\n"
V2 = "kind: Deployment\nmetadata: {name: web}\nspec: {replicas: 1, image: web:2, env: []}\n"
V3 = (
    "kind: Deployment\nmetadata: {name: web}\n"
    "spec: {replicas: 1, image: web:2, env: [{name: A, value: x}]}\n"
)


def _spec(unit: dict[str, Any]) -> Any:
    return yaml.safe_load(unb64(unit["Data"]))["spec"]


def _chain(c: Any) -> tuple[str, dict[str, Any], str, dict[str, Any]]:
    """Upstream with revisions 1..3 (V1, V2, V3); a downstream cloned at 1 with replicas 5."""
    up_sp, down_sp = new_space(c)["SpaceID"], new_space(c)["SpaceID"]
    up = new_unit(c, up_sp, V1)
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
            json={"Data": b64(V1.replace("replicas: 1", "replicas: 5"))},
            headers=MERGE,
        )
    )
    for text in (V2, V3):
        ok(c.patch(f"/space/{up_sp}/unit/{up['UnitID']}", json={"Data": b64(text)}, headers=MERGE))
    return up_sp, up, down_sp, down


def _merge(c: Any, space: str, unit: str, source: str, base: Any, end: Any) -> Any:
    params = {"merge_source": source, "merge_base": str(base), "merge_end": str(end)}
    return c.patch(f"/space/{space}/unit/{unit}", params=params, content="null", headers=MERGE)


def test_merge_forward_then_back_keeps_the_downstream_edit(
    confighub_server: ServerProcess,
) -> None:
    with confighub_server.client() as c:
        _, up, down_sp, down = _chain(c)
        fwd = ok(_merge(c, down_sp, down["UnitID"], up["UnitID"], 1, 2))
        assert _spec(fwd) == {"replicas": 5, "image": "web:2", "env": []}
        assert fwd["UpstreamRevisionNum"] == 2
        assert fwd["HeadRevisionNum"] == down["HeadRevisionNum"] + 2  # edit + merge
        fwd3 = ok(_merge(c, down_sp, down["UnitID"], up["UnitID"], 2, 3))
        assert _spec(fwd3)["env"] == [{"name": "A", "value": "x"}]
        back = ok(_merge(c, down_sp, down["UnitID"], up["UnitID"], 3, 1))
        assert _spec(back) == {"replicas": 5, "image": "web:1", "env": []}
        assert back["UpstreamRevisionNum"] == 1
        # a range with no change for this unit writes no revision but records the revision
        same = ok(_merge(c, down_sp, down["UnitID"], up["UnitID"], 1, 1))
        assert same["HeadRevisionNum"] == back["HeadRevisionNum"]


def test_bad_merge_requests_are_4xx_and_change_nothing(confighub_server: ServerProcess) -> None:
    with confighub_server.client() as c:
        _, up, down_sp, down = _chain(c)
        path = f"/space/{down_sp}/unit/{down['UnitID']}"
        before = ok(c.get(path))["Unit"]
        cases = [
            ({"merge_source": up["UnitID"], "merge_base": "1"}, 400, "merge_end"),
            ({"merge_base": "1", "merge_end": "2"}, 400, "merge_source"),
            ({"merge_source": "nope", "merge_base": "1", "merge_end": "2"}, 400, "merge_source"),
            ({"merge_source": up["UnitID"], "merge_base": "1", "merge_end": "9"}, 404, "9"),
            ({"merge_source": up["UnitID"], "merge_base": "x", "merge_end": "2"}, 400, "'x'"),
        ]
        for params, status, word in cases:
            resp = c.patch(path, params=params, content="null", headers=MERGE)
            assert resp.status_code == status, (params, resp.text)
            assert word in resp.text, (params, resp.text)
        # a conflicting range: both sides changed the image differently
        ok(
            c.patch(
                path,
                json={
                    "Data": b64(V1.replace("web:1", "web:9").replace("replicas: 1", "replicas: 5"))
                },
                headers=MERGE,
            )
        )
        resp = _merge(c, down_sp, down["UnitID"], up["UnitID"], 1, 2)
        assert resp.status_code == 409 and "image" in resp.text, resp.text
        after = ok(c.get(path))["Unit"]
        assert after["UpstreamRevisionNum"] == before["UpstreamRevisionNum"]


def test_dry_run_answers_the_merge_and_stores_nothing(confighub_server: ServerProcess) -> None:
    with confighub_server.client() as c:
        _, up, down_sp, down = _chain(c)
        path = f"/space/{down_sp}/unit/{down['UnitID']}"
        before = ok(c.get(path))["Unit"]
        params = {
            "merge_source": up["UnitID"],
            "merge_base": "1",
            "merge_end": "3",
            "dry_run": "true",
        }
        dry = ok(c.patch(path, params=params, content="null", headers=MERGE))
        assert _spec(dry)["env"] == [{"name": "A", "value": "x"}]
        assert dry["UpstreamRevisionNum"] == 3
        after = ok(c.get(path))["Unit"]
        assert after["HeadRevisionNum"] == before["HeadRevisionNum"]
        assert after["Data"] == before["Data"]
        assert after["UpstreamRevisionNum"] == before["UpstreamRevisionNum"]
        revisions = ok(c.get(f"{path}/revision"))
        assert len(revisions) == before["HeadRevisionNum"]
