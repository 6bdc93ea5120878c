"""The design's command flow through the official `cub`, step by step, each step checked in
what cub printed and in what the server stores (read back over the API)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.conformance.conftest import Cub

WEB = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: cf-demo
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
        - name: web
          image: nginx:1.25
"""
NAMESPACE = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: cf-demo\n"
PLACEHOLDER = WEB.replace("nginx:1.25", "confighubplaceholder").replace("name: web\n", "name: ph\n")


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def space_id(api: httpx.Client, slug: str) -> str:
    found = api.get("/space", params={"where": f"Slug = '{slug}'"}).json()
    assert len(found) == 1, found
    return str(found[0]["Space"]["SpaceID"])


def unit(api: httpx.Client, space: str, slug: str) -> dict[str, Any]:
    sid = space_id(api, space)
    found = api.get(f"/space/{sid}/unit", params={"where": f"Slug = '{slug}'"}).json()
    assert len(found) == 1, found
    doc: dict[str, Any] = found[0]["Unit"]
    return doc


def entity(printed: object, kind: str) -> dict[str, Any]:
    """What `cub <kind> get --json` printed: the entity, or its Extended wrapper."""
    assert isinstance(printed, dict), printed
    inner = printed.get(kind, printed)
    assert isinstance(inner, dict)
    return inner


def data(doc: dict[str, Any]) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(base64.b64decode(doc["Data"]))
    return loaded


def image(doc: dict[str, Any]) -> str:
    return str(data(doc)["spec"]["template"]["spec"]["containers"][0]["image"])


def test_spaces_and_context(cub: Cub, api: httpx.Client) -> None:
    cub.ok("space", "create", "cf-spaces-a", "--label", "env=dev")
    cub.ok("space", "create", "cf-spaces-b")
    listed = cub.ok("space", "list").names()
    assert {"cf-spaces-a", "cf-spaces-b"} <= set(listed)
    got = cub.json("space", "get", "cf-spaces-a")
    assert isinstance(got, dict)
    assert got["Space"]["Labels"] == {"env": "dev"}
    cub.ok("context", "set", "--space", "cf-spaces-a")
    ctx = cub.ok("context", "get").out
    assert "cf-spaces-a" in ctx and cub.server.url in ctx
    # default space from the context: a unit lands in cf-spaces-a without --space
    cub.ok("unit", "create", "ctx-unit", write(cub.home, "ns.yaml", NAMESPACE))
    assert unit(api, "cf-spaces-a", "ctx-unit")["HeadRevisionNum"] == 1
    # a non-empty space is refused with the server's message; an empty one goes
    refused = cub.fails("space", "delete", "cf-spaces-a")
    assert "not empty" in refused.text and "1 Unit" in refused.text
    assert space_id(api, "cf-spaces-a")
    cub.ok("space", "delete", "cf-spaces-b")
    assert api.get("/space", params={"where": "Slug = 'cf-spaces-b'"}).json() == []


def test_units_from_yaml_files(cub: Cub, space: str, api: httpx.Client, tmp_path: Path) -> None:
    web = write(tmp_path, "web.yaml", WEB)
    made = cub.ok("unit", "create", "--label", "tier=front", "web", web)
    assert "Successfully created unit web" in made.out
    cub.ok("unit", "create", "ns", write(tmp_path, "ns.yaml", NAMESPACE))
    assert set(cub.ok("unit", "list").names()) == {"web", "ns"}
    stored = unit(api, space, "web")
    assert base64.b64decode(stored["Data"]).decode() == WEB
    assert stored["Labels"] == {"tier": "front"} and stored["HeadRevisionNum"] == 1
    shown = cub.ok("unit", "get", "web").out
    assert "Number of Resources           1" in shown and stored["UnitID"] in shown
    assert cub.ok("unit", "get", "web", "--data-only").out.strip() == WEB.strip()
    # a duplicate is refused with the server's message (not "no response body")
    dup = cub.fails("unit", "create", "web", web)
    assert "already exists" in dup.text
    # label-only patch: metadata changes, data and revision do not
    cub.ok("unit", "update", "--patch", "web", "--label", "owner=team-a")
    after = unit(api, space, "web")
    assert after["Labels"] == {"tier": "front", "owner": "team-a"}
    assert after["HeadRevisionNum"] == 1
    # new data from a file (PUT of the whole unit): revision 2 equals the file
    v2 = WEB.replace("replicas: 2", "replicas: 3")
    cub.ok("unit", "update", "web", write(tmp_path, "web-v2.yaml", v2))
    after = unit(api, space, "web")
    assert after["HeadRevisionNum"] == 2 and base64.b64decode(after["Data"]).decode() == v2
    assert after["Labels"] == {"tier": "front", "owner": "team-a"}
    cub.ok("unit", "delete", "ns")
    assert cub.ok("unit", "list").names() == ["web"]


def test_clone_with_upstream_and_upgrade(
    cub: Cub, space: str, api: httpx.Client, tmp_path: Path
) -> None:
    cub.ok("unit", "create", "base", write(tmp_path, "web.yaml", WEB))
    cub.ok("unit", "create", "--upstream-unit", "base", "dev")
    cub.ok("unit", "create", "--upstream-unit", "base", "prod")
    base, dev = unit(api, space, "base"), unit(api, space, "dev")
    assert dev["UpstreamUnitID"] == base["UnitID"] and dev["UpstreamRevisionNum"] == 1
    assert data(dev) == data(base)
    clones = cub.ok("unit", "list", "--where", "UpstreamRevisionNum > 0").names()
    assert sorted(clones) == ["dev", "prod"]
    # a downstream edit, then an upstream change: UPGRADE-NEEDED says Yes
    cub.ok("function", "do", "--where", "Slug = 'dev'", "set-replicas", "4", "--quiet")
    cub.ok("function", "do", "--where", "Slug = 'base'", "set-image-reference", "web", ":1.26")
    rows = {r[0]: r for r in cub.ok("unit", "list", "--where", "UpstreamRevisionNum > 0").rows()}
    assert "Yes" in rows["dev"] and "Yes" in rows["prod"]
    # upgrade keeps the downstream's own edit and takes the upstream's
    cub.ok("unit", "update", "--patch", "--upgrade", "dev")
    dev = unit(api, space, "dev")
    assert image(dev) == "nginx:1.26" and data(dev)["spec"]["replicas"] == 4
    assert dev["UpstreamRevisionNum"] == unit(api, space, "base")["HeadRevisionNum"]
    # push-upgrade: every downstream of base that is behind
    cub.ok("function", "do", "--where", "Slug = 'base'", "set-image-reference", "web", ":1.27")
    pushed = cub.ok("unit", "push-upgrade", "base")
    assert "2 units upgrade" in pushed.out
    for slug in ("dev", "prod"):
        assert image(unit(api, space, slug)) == "nginx:1.27"
    assert data(unit(api, space, "dev"))["spec"]["replicas"] == 4


def test_functions_set_and_get(cub: Cub, space: str, api: httpx.Client, tmp_path: Path) -> None:
    cub.ok("unit", "create", "web", write(tmp_path, "web.yaml", WEB))
    setimg = cub.ok(
        "function", "do", "--where", "Slug = 'web'", "set-image-reference", "web", ":1.26"
    )
    assert "image: nginx:1.26" in setimg.out
    cub.ok("function", "do", "--where", "Slug = 'web'", "set-replicas", "5", "--quiet")
    stored = unit(api, space, "web")
    assert image(stored) == "nginx:1.26" and data(stored)["spec"]["replicas"] == 5
    assert stored["HeadRevisionNum"] == 3
    # a get- function's output is visible
    replicas = cub.ok("function", "do", "--where", "Slug = 'web'", "get-replicas")
    assert "5 int spec.replicas cf-demo/web apps/v1/Deployment" in replicas.out
    values = cub.ok(
        "function", "do", "--where", "Slug = 'web'", "get-replicas", "--output-values-only"
    )
    assert values.out.strip().splitlines()[-1] == "5"
    images = cub.ok("function", "do", "--where", "Slug = 'web'", "get-image", "web")
    assert "nginx:1.26" in images.out
    assert unit(api, space, "web")["HeadRevisionNum"] == 3  # readers write nothing
    listed = cub.ok("function", "list").out
    assert "set-image-reference" in listed and "get-replicas" in listed


def test_revisions_and_restore(cub: Cub, space: str, api: httpx.Client, tmp_path: Path) -> None:
    cub.ok("unit", "create", "web", write(tmp_path, "web.yaml", WEB))
    cub.ok("function", "do", "--where", "Slug = 'web'", "set-replicas", "3", "--quiet")
    cub.ok("function", "do", "--where", "Slug = 'web'", "set-replicas", "4", "--quiet")
    revs = cub.ok("revision", "list", "web").rows()
    assert [r[0] for r in revs[1:]] == ["3", "2", "1"]
    assert revs[0][:3] == ["NUM", "TIME", "USER"] and all("local" in r for r in revs[1:])
    one = cub.ok("revision", "get", "web", "1").out
    assert "Create" in one and "replicas: 2" in one
    before = unit(api, space, "web")
    # restore revision 1 (cub sends revision_id): a NEW head equal to revision 1
    cub.ok("unit", "update", "--patch", "--restore", "1", "web")
    after = unit(api, space, "web")
    assert after["HeadRevisionNum"] == before["HeadRevisionNum"] + 1 == 4
    assert base64.b64decode(after["Data"]).decode() == WEB
    assert "Restored revision 1" in cub.ok("revision", "list", "web").out
    # the same through PUT (no --patch): head 5 equal to revision 3
    cub.ok("unit", "update", "--restore", "3", "web")
    after = unit(api, space, "web")
    assert after["HeadRevisionNum"] == 5 and data(after)["spec"]["replicas"] == 4
    mutations = cub.ok("mutation", "list", "web").rows()
    assert len(mutations) == 1 + 5


def test_filters_and_where(cub: Cub, space: str, api: httpx.Client, tmp_path: Path) -> None:
    web = write(tmp_path, "web.yaml", WEB)
    cub.ok("unit", "create", "--label", "tier=front", "web-a", web)
    cub.ok("unit", "create", "--label", "tier=back", "api-b", web)
    cub.ok("unit", "create", "ns", write(tmp_path, "ns.yaml", NAMESPACE))
    cub.ok("function", "do", "--where", "Slug = 'api-b'", "set-replicas", "6", "--quiet")
    where = lambda expr: sorted(cub.ok("unit", "list", "--where", expr, "--names").out.split())  # noqa: E731
    assert where("Labels.tier = 'front'") == ["web-a"]
    assert where("Slug LIKE 'web%'") == ["web-a"]
    assert where("Slug ~ '^[a-z]+-[ab]$'") == ["api-b", "web-a"]
    assert where("HeadRevisionNum > 1") == ["api-b"]
    assert where("HeadRevisionNum > LiveRevisionNum") == ["api-b", "ns", "web-a"]
    bad = cub.fails("unit", "list", "--where", "Bogus = 1")
    assert "unknown attribute 'Bogus'" in bad.text
    # saved filters, including on the configuration data
    cub.ok("filter", "create", "front", "Unit", "--where", "Labels.tier = 'front'")
    cub.ok(
        "filter",
        "create",
        "big",
        "Unit",
        "--resource-type",
        "apps/v1/Deployment",
        "--where-data",
        "spec.replicas > 3",
    )
    flt = entity(cub.json("filter", "get", "big"), "Filter")
    assert flt["WhereData"] == "spec.replicas > 3"
    assert flt["ResourceType"] == "apps/v1/Deployment"
    sid = space_id(api, space)
    via_filter = api.get(f"/space/{sid}/unit", params={"filter": flt["FilterID"]})
    assert [u["Unit"]["Slug"] for u in via_filter.json()] == ["api-b"]
    assert set(cub.ok("filter", "list").names()) == {"front", "big"}
    by_data = cub.ok("unit", "list", "--where-data", "spec.replicas > 3", "--names").out.split()
    assert by_data == ["api-b"]
    typed = cub.ok(
        "unit",
        "list",
        "--space",
        "*",
        "--resource-type",
        "v1/Namespace",
        "--where",
        f"SpaceID = '{sid}'",
        "--names",
    ).out.split()
    assert typed == ["ns"]
    bad_data = cub.fails("unit", "list", "--where-data", "spec.replicas >")
    assert "where_data" in bad_data.text
    bad_filter = cub.fails("filter", "create", "oops", "Space", "--where-data", "a = 1")
    assert "apply only to From Unit" in bad_filter.text


def test_change_sets_and_tags(cub: Cub, space: str, api: httpx.Client, tmp_path: Path) -> None:
    cub.ok("unit", "create", "web", write(tmp_path, "web.yaml", WEB))
    cub.ok("changeset", "create", "--description", "release 1", "rel1")
    cs = entity(cub.json("changeset", "get", "rel1"), "ChangeSet")
    cs_id = cs["ChangeSetID"]
    assert cs["Description"] == "release 1"
    assert cub.ok("changeset", "list").names() == ["rel1"]
    # a unit joins the change set; its next revision records it
    cub.ok(
        "unit", "update", "--patch", "--from-stdin", "web", stdin=json.dumps({"ChangeSetID": cs_id})
    )
    cub.ok("function", "do", "--where", "Slug = 'web'", "set-replicas", "3", "--quiet")
    members = cub.ok("unit", "list", "--where", f"ChangeSetID = '{cs_id}'", "--names").out.split()
    assert members == ["web"]
    stored = unit(api, space, "web")
    revs = api.get(f"/space/{stored['SpaceID']}/unit/{stored['UnitID']}/revision").json()
    by_num = {r["Revision"]["RevisionNum"]: r["Revision"] for r in revs}
    assert by_num[2].get("ChangeSetID") == cs_id
    cub.ok("tag", "create", "v1")
    bulk = cub.ok("tag", "create", "--where", "Slug = 'v1'", "--name-prefix", "copy-")
    assert "Success: 1 tag(s)" in bulk.out
    assert sorted(cub.ok("tag", "list").names()) == ["copy-v1", "v1"]
    cub.ok("tag", "delete", "copy-v1")
    assert cub.ok("tag", "list").names() == ["v1"]


def test_links_targets_workers(cub: Cub, space: str, api: httpx.Client, tmp_path: Path) -> None:
    cub.ok("unit", "create", "web", write(tmp_path, "web.yaml", WEB))
    cub.ok("unit", "create", "ns", write(tmp_path, "ns.yaml", NAMESPACE))
    cub.ok("link", "create", "web-to-ns", "web", "ns")
    links = cub.ok("link", "list").rows()
    assert links[1][:4] == ["web-to-ns", space, "web", "ns"]
    assert "web-to-ns" in cub.ok("link", "get", "web-to-ns").out
    cub.ok("worker", "create", "w1")
    assert cub.ok("worker", "list").names() == ["w1"]
    worker = entity(cub.json("worker", "get", "w1"), "BridgeWorker")
    assert worker["Slug"] == "w1"
    assert cub.ok("worker", "list-status", "w1").rows()[0][0] == "ID"
    # the secret cub prints is the one the server accepts from that worker
    secret = cub.ok("worker", "get-secret", "w1").out.strip()
    envs = cub.ok("worker", "get-envs", "w1").out
    assert f"export CONFIGHUB_WORKER_SECRET={secret}" in envs
    assert f"export CONFIGHUB_WORKER_ID={worker['BridgeWorkerID']}" in envs
    me = httpx.get(
        f"{cub.server.api}/bridge_worker/{worker['BridgeWorkerID']}/me",
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert me.status_code == 200, me.text
    assert "get-replicas" in cub.ok("worker", "list-function", "w1").out
    cub.ok("target", "create", "t1", '{"KubeContext":"kwok-traderx"}', "w1")
    targets = cub.ok("target", "list").rows()
    assert targets[1][:3] == ["t1", "w1", "Kubernetes"]
    cub.ok("unit", "set-target", "web", "t1")
    listed = {r[0]: r for r in cub.ok("unit", "list").rows()[1:]}
    assert listed["web"][2] == "t1"
    stored = unit(api, space, "web")
    target = api.get(f"/space/{stored['SpaceID']}/target").json()[0]["Target"]
    assert stored["TargetID"] == target["TargetID"]
    assert stored["BridgeWorkerID"] == worker["BridgeWorkerID"]
    cub.ok("link", "delete", "web-to-ns")
    assert cub.ok("link", "list").names() == []


def test_trigger_gates_apply_and_approve(
    cub: Cub, space: str, api: httpx.Client, tmp_path: Path
) -> None:
    cub.ok("trigger", "create", "complete", "Mutation", "Kubernetes/YAML", "vet-placeholders")
    assert cub.ok("trigger", "list").names() == ["complete"]
    cub.ok("unit", "create", "ph", write(tmp_path, "ph.yaml", PLACEHOLDER))
    cub.ok("unit", "create", "ok", write(tmp_path, "web.yaml", WEB))
    gated = cub.ok("unit", "list", "--where", "LEN(ApplyGates) > 0", "--names").out.split()
    assert gated == ["ph"]
    named = "ApplyGates.complete/vet-placeholders = true"
    assert cub.ok("unit", "list", "--where", named, "--names").out.split() == ["ph"]
    cub.ok("worker", "create", "w1")
    cub.ok("target", "create", "t1", "{}", "w1")
    cub.ok("unit", "set-target", "ph", "t1")
    blocked = cub.fails("unit", "apply", "ph")
    assert "blocked by failing validating triggers" in blocked.text
    assert "complete/vet-placeholders" in blocked.text
    approved = cub.ok("unit", "approve", "ok")
    assert "has been approved" in approved.out
    assert unit(api, space, "ok")["ApprovedBy"]
    assert cub.ok("unit", "list", "--where", "LEN(ApprovedBy) > 0", "--names").out.split() == ["ok"]


def test_unsupported_is_named(cub: Cub, space: str) -> None:
    refused = cub.fails("set", "list")
    assert "Sets are not supported by this server" in refused.text


def test_bulk_unit_commands(cub: Cub, space: str, api: httpx.Client, tmp_path: Path) -> None:
    web = write(tmp_path, "web.yaml", WEB)
    cub.ok("unit", "create", "web-a", web)
    cub.ok("unit", "create", "web-b", web)
    dest = f"{space}-dst"
    cub.ok("space", "create", dest)
    made = cub.ok("unit", "create", "--where", "Slug LIKE 'web-%'", "--dest-space", dest)
    assert "2 units create" in made.out
    clones = {
        u["Unit"]["Slug"]: u["Unit"] for u in api.get(f"/space/{space_id(api, dest)}/unit").json()
    }
    assert sorted(clones) == ["web-a", "web-b"]
    assert clones["web-a"]["UpstreamUnitID"] == unit(api, space, "web-a")["UnitID"]
    patched = cub.ok(
        "unit", "update", "--patch", "--where", "Slug LIKE 'web-%'", "--label", "wave=1"
    )
    assert "2 units update" in patched.out
    assert unit(api, space, "web-b")["Labels"] == {"wave": "1"}
    gone = cub.ok("unit", "delete", "--where", "Labels.wave = '1'")
    assert "Success: 2 unit(s)" in gone.out
    assert cub.ok("unit", "list", "--names").out.split() == []
    assert len(api.get(f"/space/{space_id(api, dest)}/unit").json()) == 2


def test_entity_commands(cub: Cub, space: str, api: httpx.Client, tmp_path: Path) -> None:
    """get/update/delete of the other entities, and the read-only org views."""
    sid = space_id(api, space)
    assert "Default organization" in cub.ok("organization", "list").out
    assert "local" in cub.ok("user", "list").out
    assert "local" in cub.ok("organization-member", "list").out
    assert "confighub-local" in cub.ok("info").out
    assert cub.server.url in cub.ok("version").out
    cub.ok("space", "update", "--patch", space, "--label", "env=test")
    assert api.get(f"/space/{sid}").json()["Space"]["Labels"] == {"env": "test"}
    cub.ok("unit", "create", "web", write(tmp_path, "web.yaml", WEB))
    got = cub.json("unit", "get", "web")
    assert entity(got, "Unit")["Slug"] == "web"
    assert cub.ok("unit-event", "list", "web").rows()[0][:3] == ["ACTION", "RESULT", "STATUS"]
    cub.ok("worker", "create", "w")
    cub.ok("worker", "update", "--patch", "w", "--label", "pool=a")
    workers = api.get(f"/space/{sid}/bridge_worker").json()
    assert workers[0]["BridgeWorker"]["Labels"] == {"pool": "a"}
    cub.ok("target", "create", "t", "{}", "w")
    assert "Name               t" in cub.ok("target", "get", "t").out
    cub.ok("target", "update", "--patch", "t", "--label", "zone=z1")
    assert api.get(f"/space/{sid}/target").json()[0]["Target"]["Labels"] == {"zone": "z1"}
    cub.ok("trigger", "create", "tr", "Mutation", "Kubernetes/YAML", "vet-placeholders")
    assert "vet-placeholders" in cub.ok("trigger", "get", "tr").out
    cub.ok("trigger", "delete", "tr")
    assert api.get(f"/space/{sid}/trigger").json() == []
    cub.ok("filter", "create", "f", "Unit", "--where", "Slug = 'web'")
    assert "Slug = 'web'" in cub.ok("filter", "get", "f").out
    cub.ok("filter", "delete", "f")
    cub.ok("changeset", "create", "cs")
    cub.ok("changeset", "update", "--patch", "cs", "--label", "rel=1")
    assert api.get(f"/space/{sid}/change_set").json()[0]["ChangeSet"]["Labels"] == {"rel": "1"}
    cub.ok("changeset", "delete", "cs")
    cub.ok("tag", "create", "v1")
    assert "v1" in cub.ok("tag", "get", "v1").out
    cub.ok("tag", "update", "--patch", "v1", "--label", "k=v")
    assert api.get(f"/space/{sid}/tag").json()[0]["Tag"]["Labels"] == {"k": "v"}
    assert cub.ok("view", "list").rows()[0][0] == "NAME"
    assert cub.ok("invocation", "list").rows()[0][0] == "NAME"
    cub.ok("unit", "set-target", "web", "t")
    cub.fails("worker", "delete", "w-missing")
    cub.ok("unit", "delete", "web")
    cub.ok("target", "delete", "t")
    cub.ok("worker", "delete", "w")
    assert api.get(f"/space/{sid}/bridge_worker").json() == []
