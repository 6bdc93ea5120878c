"""What the vendor's `cub` sends and parses, over plain HTTP: the spec's include names,
never-null lists, restore through revision_id, mutations, worker status/functions, bulk entity
routes, where_data/resource_type, function Output, Sets refused, and the old-cub compatibility
(error statuses its client decodes, approve as a string)."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest

from tests.server.helpers import MERGE, b64, new_space, new_target, new_unit, ok, slug, unb64
from tests.support.server import ServerProcess

WEB = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: n1}
spec:
  replicas: 2
  template:
    spec:
      containers: [{name: web, image: 'nginx:1.0'}]
"""
OLD_CUB = {"User-Agent": "cub"}


@pytest.fixture
def c(confighub_server: ServerProcess) -> Any:
    with confighub_server.client() as client:
        yield client


def _worker(c: httpx.Client, sid: str) -> dict[str, Any]:
    doc: dict[str, Any] = ok(c.post(f"/space/{sid}/bridge_worker", json={"Slug": slug("w")}))
    return doc


def _set_replicas(c: httpx.Client, sid: str, uid: str, n: int) -> list[dict[str, Any]]:
    body = {"FunctionInvocations": [{"FunctionName": "set-replicas", "Arguments": [{"Value": n}]}]}
    out: list[dict[str, Any]] = ok(
        c.post(f"/space/{sid}/function/invoke", params={"unit_id": uid}, json=body)
    )
    return out


def test_include_uses_the_spec_names(c: httpx.Client) -> None:
    sid = new_space(c)["SpaceID"]
    worker = _worker(c, sid)
    target = new_target(c, sid, worker["BridgeWorkerID"])
    base = new_unit(c, sid, WEB)
    clone = ok(
        c.post(
            f"/space/{sid}/unit",
            params={"upstream_unit_id": base["UnitID"]},
            json={"Slug": slug("d"), "TargetID": target["TargetID"]},
        )
    )
    include = "UnitEventID,TargetID,UpstreamUnitID,SpaceID,BridgeWorkerID,HeadRevisionNum"
    listed = ok(
        c.get(
            f"/space/{sid}/unit",
            params={"include": include, "where": "Slug = '" + clone["Slug"] + "'"},
        )
    )
    ext = listed[0]
    assert ext["Target"]["TargetID"] == target["TargetID"]
    assert ext["UpstreamUnit"]["UnitID"] == base["UnitID"]
    assert ext["BridgeWorker"]["BridgeWorkerID"] == worker["BridgeWorkerID"]
    assert "Secret" not in ext["BridgeWorker"] and "SecretHash" not in ext["BridgeWorker"]
    assert ext["Space"]["SpaceID"] == sid and ext["HeadRevision"]["RevisionNum"] == 1
    assert ext["UnitStatus"]["Status"] == "None"
    assert "LatestUnitEvent" not in ext  # no operation yet
    # after an apply is queued, LatestUnitEvent names it (what `--wait` polls for)
    op = ok(c.post(f"/space/{sid}/unit/{clone['UnitID']}/apply"))
    got = ok(c.get(f"/space/{sid}/unit/{clone['UnitID']}", params={"include": "UnitEventID"}))
    assert got["LatestUnitEvent"]["QueuedOperationID"] == op["QueuedOperationID"]
    assert got["LatestUnitEvent"]["Action"] == "Apply"
    bad = c.get(f"/space/{sid}/unit", params={"include": "UnitEventID,Bogus"})
    assert bad.status_code == 400 and "'Bogus'" in bad.json()["Message"]
    # other entities: the ID names expand to the entity (Link's FromUnit/ToUnit)
    link = ok(
        c.post(
            f"/space/{sid}/link",
            json={"Slug": slug("l"), "FromUnitID": clone["UnitID"], "ToUnitID": base["UnitID"]},
        )
    )
    links = ok(c.get(f"/space/{sid}/link", params={"include": "FromUnitID,ToUnitID,ToSpaceID"}))
    assert links[0]["Link"]["LinkID"] == link["LinkID"]
    assert links[0]["FromUnit"]["Slug"] == clone["Slug"]
    assert links[0]["ToUnit"]["Slug"] == base["Slug"]
    assert links[0]["ToSpace"]["SpaceID"] == sid


def test_mutation_sources_are_never_null(c: httpx.Client) -> None:
    sid = new_space(c)["SpaceID"]
    unit = new_unit(c, sid, WEB)
    assert unit["MutationSources"] == []
    got = ok(c.get(f"/space/{sid}/unit/{unit['UnitID']}"))
    sources = got["Unit"]["MutationSources"]
    assert [s["Resource"]["ResourceType"] for s in sources] == ["apps/v1/Deployment"]
    assert sources[0]["ResourceMutationInfo"]["MutationType"] == "None"
    # a PUT carrying "MutationSources": null (as the Go client's Unit does) changes nothing
    body = {**unit, "MutationSources": None, "Labels": {"a": "b"}}
    put = ok(c.put(f"/space/{sid}/unit/{unit['UnitID']}", json=body))
    assert put["MutationSources"] == [] and put["Labels"] == {"a": "b"}
    revs = ok(c.get(f"/space/{sid}/unit/{unit['UnitID']}/revision"))
    assert all(r["Revision"]["MutationSources"] == [] for r in revs)
    rev = ok(
        c.get(f"/space/{sid}/unit/{unit['UnitID']}/revision/{revs[0]['Revision']['RevisionID']}")
    )
    assert rev["Revision"]["MutationSources"] == [] and rev["Unit"]["UnitID"] == unit["UnitID"]


@pytest.mark.parametrize("method", ["PATCH", "PUT"])
def test_restore_through_revision_id(c: httpx.Client, method: str) -> None:
    sid = new_space(c)["SpaceID"]
    unit = new_unit(c, sid, WEB)
    uid = unit["UnitID"]
    _set_replicas(c, sid, uid, 7)
    revs = {
        r["Revision"]["RevisionNum"]: r["Revision"]
        for r in ok(c.get(f"/space/{sid}/unit/{uid}/revision"))
    }
    current = ok(c.get(f"/space/{sid}/unit/{uid}"))["Unit"]
    params = {"revision_id": revs[1]["RevisionID"]}
    if method == "PATCH":
        done = ok(c.patch(f"/space/{sid}/unit/{uid}", params=params, content=b"{}", headers=MERGE))
    else:  # cub without --patch PUTs the whole unit it read, old Data included
        done = ok(c.put(f"/space/{sid}/unit/{uid}", params=params, json=current))
    assert done["HeadRevisionNum"] == 3
    assert unb64(done["Data"]) == WEB
    stored = ok(c.get(f"/space/{sid}/unit/{uid}"))["Unit"]
    assert unb64(stored["Data"]) == WEB and stored["HeadRevisionNum"] == 3
    both = c.patch(
        f"/space/{sid}/unit/{uid}",
        params={"revision_id": revs[1]["RevisionID"], "restore": "1"},
        content=b"{}",
        headers=MERGE,
    )
    assert both.status_code == 400 and "not both" in both.json()["Message"]
    missing = c.patch(
        f"/space/{sid}/unit/{uid}",
        params={"revision_id": "11111111-1111-1111-1111-111111111111"},
        content=b"{}",
        headers=MERGE,
    )
    assert missing.status_code == 404
    assert ok(c.get(f"/space/{sid}/unit/{uid}"))["Unit"]["HeadRevisionNum"] == 3


def test_mutations_one_per_revision(c: httpx.Client) -> None:
    sid = new_space(c)["SpaceID"]
    uid = new_unit(c, sid, WEB)["UnitID"]
    _set_replicas(c, sid, uid, 3)
    muts = ok(c.get(f"/space/{sid}/unit/{uid}/mutation"))
    assert [m["Mutation"]["MutationNum"] for m in muts] == [1, 2]
    second = muts[1]["Mutation"]
    assert second["FunctionInvocation"]["FunctionName"] == "set-replicas"
    assert second["ProvidedResource"] is not None
    one = ok(c.get(f"/space/{sid}/unit/{uid}/mutation/{second['MutationID']}"))
    assert one["Mutation"] == second and one["Revision"]["RevisionNum"] == 2
    only = ok(c.get(f"/space/{sid}/unit/{uid}/mutation", params={"where": "MutationNum = 1"}))
    assert [m["Mutation"]["MutationNum"] for m in only] == [1]


def test_function_output_for_the_sdk(c: httpx.Client) -> None:
    sid = new_space(c)["SpaceID"]
    uid = new_unit(c, sid, WEB)["UnitID"]
    body = {"FunctionInvocations": [{"FunctionName": "get-replicas"}]}
    out = ok(c.post(f"/space/{sid}/function/invoke", params={"unit_id": uid}, json=body))[0]
    assert out["OutputType"] == "AttributeValueList" and out["Mutators"] == []
    values = json.loads(base64.b64decode(out["Output"]))
    assert values == [
        {
            "ResourceName": "n1/web",
            "ResourceNameWithoutScope": "web",
            "ResourceType": "apps/v1/Deployment",
            "Path": "spec.replicas",
            "DataType": "int",
            "Value": 2,
        }
    ]
    assert json.loads(out["Outputs"]["get-replicas"]) == values  # the spec's map as well
    mutated = _set_replicas(c, sid, uid, 4)[0]
    assert mutated["Mutators"] == [0] and "Output" not in mutated


def test_where_data_and_resource_type(c: httpx.Client) -> None:
    sid = new_space(c)["SpaceID"]
    big = new_unit(c, sid, WEB.replace("replicas: 2", "replicas: 5"), prefix="big")
    small = new_unit(c, sid, WEB, prefix="small")
    ns = new_unit(c, sid, "apiVersion: v1\nkind: Namespace\nmetadata: {name: n1}\n", prefix="ns")

    def slugs(**params: str) -> list[str]:
        return sorted(u["Unit"]["Slug"] for u in ok(c.get(f"/space/{sid}/unit", params=params)))

    assert slugs(where_data="spec.replicas > 3") == [big["Slug"]]
    assert slugs(where_data="spec.replicas >= 2 AND metadata.name = 'web'") == sorted(
        [big["Slug"], small["Slug"]]
    )
    image = "spec.template.spec.containers.?name=web.image LIKE 'nginx:%'"
    assert len(slugs(where_data=image)) == 2
    assert slugs(where_data="spec.template.spec.containers.*.image = 'nginx:1.0'") == sorted(
        [big["Slug"], small["Slug"]]
    )
    assert slugs(resource_type="v1/Namespace") == [ns["Slug"]]
    assert slugs(resource_type="apps/v1/Deployment", include="SpaceID") == sorted(
        [big["Slug"], small["Slug"]]
    )
    flt = ok(
        c.post(
            f"/space/{sid}/filter",
            json={"Slug": slug("f"), "From": "Unit", "WhereData": "spec.replicas > 3"},
        )
    )
    assert slugs(filter=flt["FilterID"]) == [big["Slug"]]
    for params in ({"where_data": "spec.replicas >"}, {"where_data": "spec.replicas > x"}):
        bad = c.get(f"/space/{sid}/unit", params=params)
        assert bad.status_code == 400 and "where_data" in bad.json()["Message"]
    bad = c.post(
        f"/space/{sid}/filter", json={"Slug": slug("f"), "From": "Space", "WhereData": "a = 1"}
    )
    assert bad.status_code == 400 and "only to From Unit" in bad.json()["Message"]
    unknown = c.get(f"/space/{sid}/unit", params={"where_trigger": "Slug = 'x'"})
    assert unknown.status_code == 400 and "where_trigger" in unknown.json()["Message"]
    # function invocation honours the same selection
    body = {"FunctionInvocations": [{"FunctionName": "get-replicas"}]}
    got = ok(
        c.post(
            f"/space/{sid}/function/invoke",
            params={"where": "Slug LIKE '%'", "where_data": "spec.replicas > 3"},
            json=body,
        )
    )
    assert [r["UnitSlug"] for r in got] == [big["Slug"]]


def test_worker_status_and_functions(c: httpx.Client) -> None:
    sid = new_space(c)["SpaceID"]
    worker = _worker(c, sid)
    wid = worker["BridgeWorkerID"]
    assert ok(c.get(f"/space/{sid}/bridge_worker/{wid}/status")) == []
    fns = ok(c.get(f"/space/{sid}/bridge_worker/{wid}/function"))
    assert "set-replicas" in fns["Kubernetes/YAML"]
    missing = c.get(f"/space/{sid}/bridge_worker/11111111-1111-1111-1111-111111111111/status")
    assert missing.status_code == 404


def test_bulk_entity_routes(c: httpx.Client) -> None:
    sid = new_space(c)["SpaceID"]
    other = new_space(c, "dst")
    tag = ok(c.post(f"/space/{sid}/tag", json={"Slug": slug("v")}))
    where = f"Slug = '{tag['Slug']}' AND SpaceID = '{sid}'"
    made = ok(c.post("/tag", params={"where": where, "name_prefixes": "a-,b-"}, json={}))
    assert sorted(m["Tag"]["Slug"] for m in made) == sorted(
        ["a-" + tag["Slug"], "b-" + tag["Slug"]]
    )
    copied = ok(
        c.post(
            "/tag",
            params={"where": where, "where_space": f"SpaceID = '{other['SpaceID']}'"},
            json={"Labels": {"copied": "yes"}},
        )
    )
    assert copied[0]["Tag"]["SpaceID"] == other["SpaceID"]
    assert copied[0]["Tag"]["Labels"] == {"copied": "yes"}
    again = c.post(
        "/tag", params={"where": where, "where_space": f"SpaceID = '{other['SpaceID']}'"}
    )
    assert again.status_code == 207 and "already exists" in again.json()[0]["Error"]["Message"]
    patched = ok(
        c.patch(
            "/tag",
            params={"where": f"SpaceID = '{sid}'"},
            content=json.dumps({"Labels": {"x": "1"}}).encode(),
            headers=MERGE,
        )
    )
    assert len(patched) == 3 and all(p["Tag"]["Labels"]["x"] == "1" for p in patched)
    deleted = ok(c.delete("/tag", params={"where": f"SpaceID = '{sid}' AND Slug LIKE 'a-%'"}))
    assert len(deleted) == 1
    assert len(ok(c.get(f"/space/{sid}/tag"))) == 2
    assert c.delete("/tag").status_code == 400  # never everything by accident


def test_sets_are_refused_by_name(c: httpx.Client) -> None:
    sid = new_space(c)["SpaceID"]
    for method, path in (("GET", f"/space/{sid}/set"), ("POST", f"/space/{sid}/set")):
        resp = c.request(method, path, json={"Slug": "s"})
        assert resp.status_code == 404
        assert "Sets are not supported by this server" in resp.json()["Message"]


def test_old_cub_gets_statuses_it_can_decode(c: httpx.Client) -> None:
    sid = new_space(c)["SpaceID"]
    unit = new_unit(c, sid, WEB)
    dup = {"Slug": unit["Slug"], "ToolchainType": "Kubernetes/YAML", "Data": b64(WEB)}
    spec_answer = c.post(f"/space/{sid}/unit", json=dup)
    assert spec_answer.status_code == 409
    cub_answer = c.post(f"/space/{sid}/unit", json=dup, headers=OLD_CUB)
    assert cub_answer.status_code == 400 and cub_answer.headers["x-confighub-status"] == "409"
    assert cub_answer.json() == spec_answer.json()
    assert cub_answer.json()["Code"] == "Conflict"
    stale = {**unit, "Version": 0}
    put = c.put(f"/space/{sid}/unit/{unit['UnitID']}", json=stale, headers=OLD_CUB)
    assert put.status_code == 409  # PUT updates decode 409 in the old client too
    assert c.get("/space", headers=OLD_CUB).status_code == 200


def test_approve_shape_per_client(c: httpx.Client) -> None:
    sid = new_space(c)["SpaceID"]
    unit = new_unit(c, sid, WEB)
    spec_answer = ok(c.post(f"/space/{sid}/unit/{unit['UnitID']}/approve"))
    assert spec_answer["Unit"]["UnitID"] == unit["UnitID"] and spec_answer["Message"]
    assert spec_answer["Unit"]["MutationSources"] == []
    cub_answer = ok(c.post(f"/space/{sid}/unit/{unit['UnitID']}/approve", headers=OLD_CUB))
    assert isinstance(cub_answer, str) and "approved" in cub_answer


def test_unit_write_parameters(c: httpx.Client) -> None:
    """`tag` tags the new head revision; change_set_id must match; the spec's parameters this
    server does not implement are refused by name, never ignored."""
    sid = new_space(c)["SpaceID"]
    unit = new_unit(c, sid, WEB)
    uid = unit["UnitID"]
    tag = ok(c.post(f"/space/{sid}/tag", json={"Slug": slug("v")}))
    patch = json.dumps({"Data": b64(WEB.replace("replicas: 2", "replicas: 3"))}).encode()
    done = ok(
        c.patch(
            f"/space/{sid}/unit/{uid}", params={"tag": tag["TagID"]}, content=patch, headers=MERGE
        )
    )
    revs = {
        r["Revision"]["RevisionNum"]: r["Revision"]
        for r in ok(c.get(f"/space/{sid}/unit/{uid}/revision"))
    }
    assert revs[done["HeadRevisionNum"]]["Tags"] == {tag["TagID"]: tag["Slug"]}
    assert revs[1]["Tags"] == {}
    cs = ok(c.post(f"/space/{sid}/change_set", json={"Slug": slug("cs")}))
    wrong = c.patch(
        f"/space/{sid}/unit/{uid}",
        params={"change_set_id": cs["ChangeSetID"]},
        content=b"{}",
        headers=MERGE,
    )
    assert wrong.status_code == 400 and "does not match" in wrong.json()["Message"]
    for name in ("resolve", "where_mutation", "subgroup"):
        resp = c.patch(f"/space/{sid}/unit/{uid}", params={name: "x"}, content=b"{}", headers=MERGE)
        assert resp.status_code == 400 and name in resp.json()["Message"]
    assert ok(c.get(f"/space/{sid}/unit/{uid}"))["Unit"]["HeadRevisionNum"] == 2


def test_keep_alive_survives_an_unread_body(confighub_server: ServerProcess) -> None:
    """A request refused before its body is read (401, 404, the Sets refusal) must leave the
    keep-alive connection usable for the next request (hypercorn drops it otherwise)."""
    no_auth = {"Authorization": "Bearer wrong"}
    refused = [
        ("POST", "/space/{sid}/set", None, 404),
        ("POST", "/space", no_auth, 401),
        ("GET", "/nosuch", None, 404),
    ]
    for i in range(30):
        for method, path, headers, status in refused:
            with confighub_server.client() as c:
                sid = ok(c.post("/space", json={"Slug": slug(f"ka{i}")}))["SpaceID"]
                resp = c.request(method, path.format(sid=sid), json={"a": 1}, headers=headers)
                assert resp.status_code == status
                assert c.get(f"/space/{sid}").status_code == 200
