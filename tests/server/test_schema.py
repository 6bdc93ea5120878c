"""Every implemented operation, called once or more, answers with bodies that validate
against openapi.json's schemas for that status (errors included)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.server import spec
from tests.server.helpers import MERGE, b64, slug
from tests.support.server import ServerProcess

SIMPLE = {
    "filter": "Filter",
    "link": "Link",
    "target": "Target",
    "bridge_worker": "BridgeWorker",
    "tag": "Tag",
    "change_set": "ChangeSet",
    "trigger": "Trigger",
    "view": "View",
    "invocation": "Invocation",
}
BULK_CREATE = ("Filter", "Link", "Tag", "ChangeSet", "Trigger", "View", "Invocation")
IMPLEMENTED = {
    "apiInfo",
    "GetMe",
    "ListOrganizations",
    "GetOrganization",
    "ListOrganizationMembers",
    "ListUsers",
    "GetUser",
    "ListSpaces",
    "CreateSpace",
    "GetSpace",
    "UpdateSpace",
    "PatchSpace",
    "DeleteSpace",
    "ListUnits",
    "CreateUnit",
    "GetUnit",
    "UpdateUnit",
    "PatchUnit",
    "DeleteUnit",
    "ListAllUnits",
    "BulkCreateUnits",
    "BulkPatchUnits",
    "BulkDeleteUnits",
    "BulkTagUnits",
    "BulkApplyUnits",
    "BulkDestroyUnits",
    "BulkRefreshUnits",
    "BulkApproveUnits",
    "DownloadUnitData",
    "ListExtendedRevisions",
    "GetExtendedRevision",
    "DownloadRevisionData",
    "ListAllRevisions",
    "ApplyUnit",
    "DestroyUnit",
    "RefreshUnit",
    "ApproveUnit",
    "ListUnitActions",
    "GetUnitAction",
    "ListAllUnitActions",
    "ListUnitEvents",
    "GetUnitEvent",
    "ListAllUnitEvents",
    "DownloadUnitLiveState",
    "DownloadUnitLiveData",
    "ListFunctions",
    "ListOrgFunctions",
    "InvokeFunctions",
    "InvokeFunctionsOnOrg",
    "CreateActionResult",
    "UserCreateActionResult",
    "GetSelf",
    "ListQueuedOperations",
    "GetQueuedOperation",
    "StreamBridgeWorker",
    "BulkCancelUnits",
    "GetUnitExtended",
    *(
        f"{verb}{k}"
        for k in SIMPLE.values()
        for verb in ("Create", "Get", "Update", "Patch", "Delete")
    ),
    *(f"List{k}s" for k in SIMPLE.values()),
    "ListAllFilters",
    "SearchListLinks",
    "ListAllTargets",
    "ListAllBridgeWorkers",
    "ListAllTags",
    "ListAllChangeSets",
    "ListAllTriggers",
    "ListAllViews",
    "ListExtendedMutations",
    "GetExtendedMutation",
    "ListBridgeWorkerStatuses",
    "ListBridgeWorkerFunctions",
    *(f"BulkCreate{k}s" for k in BULK_CREATE),
    *(f"Bulk{verb}{k}s" for k in SIMPLE.values() for verb in ("Patch", "Delete")),
    "ListAllInvocations",
}

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 1
  template:
    spec:
      containers: [{name: web, image: 'nginx:1.0'}]
"""


class Recorder:
    def __init__(self) -> None:
        self.responses: list[httpx.Response] = []

    def __call__(self, resp: httpx.Response) -> None:
        if resp.headers.get("content-type", "").startswith("text/event-stream"):
            self.responses.append(resp)
            return
        resp.read()
        self.responses.append(resp)


@pytest.fixture
def recorded(confighub_server: ServerProcess) -> Iterator[tuple[httpx.Client, Recorder]]:
    spec.require_spec()
    rec = Recorder()
    with confighub_server.client(event_hooks={"response": [rec]}) as client:
        yield client, rec


def _j(resp: httpx.Response) -> Any:
    assert resp.status_code in (200, 207), f"{resp.request.url}: {resp.status_code} {resp.text}"
    return resp.json()


def _scenario(c: httpx.Client, server: ServerProcess, rec: Recorder) -> None:
    me = _j(c.get("/me"))
    _j(c.get("/info"))
    _j(c.get("/organization"))
    _j(c.get(f"/organization/{me['OrganizationID']}"))
    _j(c.get(f"/organization/{me['OrganizationID']}/organization_member"))
    _j(c.get("/user"))
    _j(c.get(f"/user/{me['UserID']}"))

    space = _j(c.post("/space", json={"Slug": slug("schema"), "Labels": {"k": "v"}}))
    sid = space["SpaceID"]
    _j(c.get("/space", params={"where": f"SpaceID = '{sid}'"}))
    _j(c.get(f"/space/{sid}"))
    space = _j(c.put(f"/space/{sid}", json={"Slug": space["Slug"], "Labels": {"k": "w"}}))
    _j(c.patch(f"/space/{sid}", json={"Annotations": {"a": "b"}}, headers=MERGE))

    worker = _j(c.post(f"/space/{sid}/bridge_worker", json={"Slug": slug("w")}))
    wid = worker["BridgeWorkerID"]
    target = _j(
        c.post(
            f"/space/{sid}/target",
            json={
                "Slug": slug("t"),
                "BridgeWorkerID": wid,
                "ProviderType": "Kubernetes",
                "ToolchainType": "Kubernetes/YAML",
            },
        )
    )
    unit = _j(
        c.post(
            f"/space/{sid}/unit",
            json={
                "Slug": slug("u"),
                "ToolchainType": "Kubernetes/YAML",
                "Data": b64(DEPLOYMENT),
                "TargetID": target["TargetID"],
                "Labels": {"app": "web"},
            },
        )
    )
    uid = unit["UnitID"]
    other = _j(
        c.post(
            f"/space/{sid}/unit",
            json={"Slug": slug("u"), "ToolchainType": "Kubernetes/YAML", "Data": b64(DEPLOYMENT)},
        )
    )
    _j(c.get(f"/space/{sid}/unit", params={"where": "Labels.app = 'web'"}))
    _j(c.get("/unit", params={"where": f"SpaceID = '{sid}'", "include": "Target"}))
    _j(c.get(f"/space/{sid}/unit/{uid}", params={"include": "HeadRevisionNum"}))
    unit = _j(c.put(f"/space/{sid}/unit/{uid}", json={**unit, "Labels": {"app": "web", "x": "1"}}))
    _j(
        c.patch(
            f"/space/{sid}/unit/{uid}", json={"Data": b64(DEPLOYMENT + "# v2\n")}, headers=MERGE
        )
    )
    c.get(f"/space/{sid}/unit/{uid}/data")
    revs = _j(c.get(f"/space/{sid}/unit/{uid}/revision"))
    rid = revs[0]["Revision"]["RevisionID"]
    _j(c.get(f"/space/{sid}/unit/{uid}/revision/{rid}"))
    c.get(f"/space/{sid}/unit/{uid}/revision/{rid}/data")
    _j(c.get("/revision", params={"where": f"UnitID = '{uid}'"}))
    muts = _j(c.get(f"/space/{sid}/unit/{uid}/mutation"))
    _j(c.get(f"/space/{sid}/unit/{uid}/mutation/{muts[0]['Mutation']['MutationID']}"))

    _j(c.get("/function"))
    _j(c.get(f"/space/{sid}/function"))
    inv = {"FunctionInvocations": [{"FunctionName": "set-replicas", "Arguments": [{"Value": 2}]}]}
    _j(c.post(f"/space/{sid}/function/invoke", params={"where": f"UnitID = '{uid}'"}, json=inv))
    get = {"FunctionInvocations": [{"FunctionName": "get-replicas"}]}
    _j(c.post("/function/invoke", params={"where": f"UnitID = '{uid}'"}, json=get))

    # every simple kind: create, get, put, patch, list, org-wide list, delete
    bodies: dict[str, dict[str, Any]] = {
        "filter": {"From": "Unit", "Where": "Labels.app = 'web'"},
        "link": {"FromUnitID": uid, "ToUnitID": other["UnitID"]},
        "target": {
            "BridgeWorkerID": wid,
            "ProviderType": "Kubernetes",
            "ToolchainType": "Kubernetes/YAML",
        },
        "bridge_worker": {},
        "tag": {},
        "change_set": {"Description": "d"},
        "trigger": {
            "Event": "Mutation",
            "ToolchainType": "Kubernetes/YAML",
            "FunctionName": "vet-placeholders",
        },
        "view": {},
        "invocation": {"FunctionName": "set-replicas", "ToolchainType": "Kubernetes/YAML"},
    }
    for seg, kind in SIMPLE.items():
        made = _j(c.post(f"/space/{sid}/{seg}", json={"Slug": slug(seg), **bodies[seg]}))
        eid = made[f"{kind}ID"]
        got = _j(c.get(f"/space/{sid}/{seg}/{eid}"))[kind]
        _j(c.put(f"/space/{sid}/{seg}/{eid}", json={**got, "Labels": {"p": "1"}}))
        _j(c.patch(f"/space/{sid}/{seg}/{eid}", json={"Labels": {"q": "2"}}, headers=MERGE))
        _j(c.get(f"/space/{sid}/{seg}"))
        _j(c.get(f"/{seg}", params={"where": f"SpaceID = '{sid}'"}))
        mine = {"where": f"{kind}ID = '{eid}'"}
        if kind in BULK_CREATE:
            _j(c.post(f"/{seg}", params={**mine, "name_prefixes": "bk-"}, json={}))
            _j(c.delete(f"/{seg}", params={"where": f"SpaceID = '{sid}' AND Slug LIKE 'bk-%'"}))
        _j(c.patch(f"/{seg}", params=mine, json={"Labels": {"b": "1"}}, headers=MERGE))
        if kind == "BridgeWorker":
            _j(c.get(f"/space/{sid}/bridge_worker/{eid}/status"))
            _j(c.get(f"/space/{sid}/bridge_worker/{eid}/function"))
        _j(c.delete(f"/space/{sid}/{seg}/{eid}"))
        if kind not in BULK_CREATE:  # no bulk clone to make one: create one to bulk-delete
            extra = _j(c.post(f"/space/{sid}/{seg}", json={"Slug": slug(seg), **bodies[seg]}))
            _j(c.delete(f"/{seg}", params={"where": f"{kind}ID = '{extra[f'{kind}ID']}'"}))

    tag = _j(c.post(f"/space/{sid}/tag", json={"Slug": slug("tag")}))
    _j(c.post("/unit/tag", params={"where": f"UnitID = '{uid}'"}, json={"TagID": tag["TagID"]}))
    _j(c.post("/unit/approve", params={"where": f"UnitID = '{uid}'"}))
    _j(c.post(f"/space/{sid}/unit/{uid}/approve"))

    # operations and the worker protocol, the worker answering by hand
    op = _j(c.post(f"/space/{sid}/unit/{uid}/apply"))
    as_worker = {"Authorization": f"Bearer {worker['Secret']}"}
    with httpx.Client(base_url=server.api, headers=as_worker, event_hooks={"response": [rec]}) as w:
        _j(w.get(f"/bridge_worker/{wid}/me"))
        _j(w.get(f"/bridge_worker/{wid}/queued_operation"))
        _j(w.get(f"/bridge_worker/{wid}/queued_operation/{op['QueuedOperationID']}"))
        with w.stream("POST", f"/bridge_worker/{wid}/stream", json={}) as stream:
            assert stream.status_code == 200
            events = []
            for line in stream.iter_lines():
                if line.startswith("data:"):
                    events.append(json.loads(line[5:]))
                if any(e["Event"] == "BridgeWorkerEvent" for e in events):
                    break
        for event in events:  # the SDK's EventMessage envelope (bridge-worker/api)
            assert set(event) == {"Event", "Data"}
            assert set(event["Data"]) == {"Action", "Payload"}
            if event["Event"] == "BridgeWorkerEvent":
                base64.b64decode(event["Data"]["Payload"]["Data"])
        result = {
            "QueuedOperationID": op["QueuedOperationID"],
            "UnitID": uid,
            "SpaceID": sid,
            "Action": "Apply",
            "Status": "Completed",
            "Result": "ApplyCompleted",
            "Message": "ok",
            "LiveState": b64("kind: Deployment\n"),
        }
        _j(w.post(f"/bridge_worker/{wid}/action_result", json=result))
        _j(w.post(f"/bridge_worker/{wid}/user_action_result", json=result))
    _j(c.get(f"/space/{sid}/unit/{uid}/unit_action"))
    _j(c.get(f"/space/{sid}/unit/{uid}/unit_action/{op['QueuedOperationID']}"))
    _j(c.get("/unit_action", params={"where": f"UnitID = '{uid}'"}))
    events = _j(c.get(f"/space/{sid}/unit/{uid}/unit_event"))
    _j(c.get(f"/space/{sid}/unit/{uid}/unit_event/{events[0]['UnitEventID']}"))
    _j(c.get("/unit_event", params={"where": f"UnitID = '{uid}'"}))
    c.get(f"/space/{sid}/unit/{uid}/live_state")
    c.get(f"/space/{sid}/unit/{uid}/live_data")
    _j(c.post(f"/space/{sid}/unit/{uid}/refresh"))
    _j(c.post(f"/space/{sid}/unit/{uid}/destroy"))
    _j(c.post("/unit/apply", params={"where": f"UnitID = '{uid}'"}))
    canceled = _j(c.post("/unit/cancel", params={"where": f"UnitID = '{uid}'"}))
    assert canceled and all(r["Action"]["Status"] == "Canceled" for r in canceled)
    _j(c.get(f"/space/{sid}/unit/{uid}/extended"))
    _j(c.post("/unit/refresh", params={"where": f"UnitID = '{uid}'"}))
    _j(c.post("/unit/destroy", params={"where": f"UnitID = '{uid}'"}))

    # clone, bulk patch/upgrade, restore, errors
    dst = _j(c.post("/space", json={"Slug": slug("dst")}))
    clones = _j(
        c.post(
            "/unit",
            params={
                "where": f"UnitID = '{other['UnitID']}'",
                "where_space": f"SpaceID = '{dst['SpaceID']}'",
            },
        )
    )
    _j(
        c.patch(
            "/unit",
            params={"where": f"UnitID = '{clones[0]['Unit']['UnitID']}'", "upgrade": "true"},
            json=None,
        )
    )
    _j(c.patch(f"/space/{sid}/unit/{uid}", params={"restore": "1"}))
    c.get(f"/space/{sid}/unit", params={"where": "Nope = 1"})
    c.get(f"/space/{sid}/unit/{'0' * 8}-0000-0000-0000-{'0' * 12}")
    c.post("/space", json={"Slug": space["Slug"]})
    c.patch(f"/space/{sid}/unit/{uid}", json={"Version": 1}, headers=MERGE)
    _j(c.delete("/unit", params={"where": f"SpaceID = '{dst['SpaceID']}'"}))
    _j(c.delete(f"/space/{sid}/unit/{other['UnitID']}"))
    _j(c.delete(f"/space/{dst['SpaceID']}"))
    c.delete(f"/space/{sid}")
    _j(c.delete(f"/space/{sid}", params={"recursive": "true"}))


def test_every_implemented_operation_matches_the_spec(
    confighub_server: ServerProcess, recorded: tuple[httpx.Client, Recorder]
) -> None:
    client, rec = recorded
    _scenario(client, confighub_server, rec)
    problems: list[str] = []
    covered = set()
    statuses = set()
    for resp in rec.responses:
        op_id, errs = spec.validate_response(resp)
        covered.add(op_id)
        statuses.add(resp.status_code)
        problems.extend(f"{op_id} {resp.status_code}: {e}" for e in errs)
    assert not problems, "\n".join(problems[:40])
    assert IMPLEMENTED - covered == set()
    assert {200, 400, 404, 409} <= statuses


def test_the_validator_catches_violations() -> None:
    spec.require_spec()
    url = "http://x/api/space/11111111-1111-1111-1111-111111111111"
    bad = httpx.Response(200, json={"Space": {"Version": "x"}}, request=httpx.Request("GET", url))
    op_id, problems = spec.validate_response(bad)
    assert op_id == "GetSpace"
    assert any("Version" in p for p in problems) and any("Slug" in p for p in problems)
