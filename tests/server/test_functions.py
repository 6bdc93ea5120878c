"""Functions over where selections, and validating triggers gating apply."""

from __future__ import annotations

import json
from typing import Any

import httpx
import yaml

from tests.server.helpers import new_space, new_unit, ok, unb64
from tests.server.test_upgrade import BASE
from tests.support.server import ServerProcess


def _invoke(
    c: httpx.Client, sid: str, where: str, name: str, *values: Any, status: int = 200
) -> Any:
    resp = c.post(
        f"/space/{sid}/function/invoke",
        params={"where": where},
        json={
            "FunctionInvocations": [
                {"FunctionName": name, "Arguments": [{"Value": v} for v in values]}
            ]
        },
    )
    assert resp.status_code == status, resp.text
    return resp.json()


def test_function_signatures_listed(confighub_server: ServerProcess) -> None:
    with confighub_server.client() as c:
        sigs = ok(c.get("/function"))["Kubernetes/YAML"]
        for name in (
            "set-image-reference",
            "set-replicas",
            "set-namespace",
            "set-env-var",
            "set-container-resources",
            "get-replicas",
            "vet-placeholders",
        ):
            assert sigs[name]["FunctionName"] == name
        assert sigs["vet-placeholders"]["Validating"] is True


def test_mutating_functions_make_revisions(confighub_server: ServerProcess) -> None:
    with confighub_server.client() as c:
        sid = new_space(c)["SpaceID"]
        unit = new_unit(c, sid, BASE)
        where = f"UnitID = '{unit['UnitID']}'"
        _invoke(c, sid, where, "set-image-reference", "trade-service", ":2.0.0")
        _invoke(c, sid, where, "set-namespace", "traderx-dev")
        _invoke(c, sid, where, "set-env-var", "trade-service", "LOG_LEVEL", "debug")
        _invoke(c, sid, where, "set-container-resources", "*", "all", "250m", "256Mi", 2)
        _invoke(c, sid, where, "set-replicas", 4)
        out = _invoke(c, sid, where, "get-replicas")
        assert json.loads(out[0]["Outputs"]["get-replicas"])[0]["Value"] == 4
        got = ok(c.get(f"/space/{sid}/unit/{unit['UnitID']}"))["Unit"]
        assert got["HeadRevisionNum"] == 6
        doc = yaml.safe_load(unb64(got["Data"]))
        ctr = doc["spec"]["template"]["spec"]["containers"][0]
        assert ctr["image"] == "ghcr.io/finos/traderx/trade-service:2.0.0"
        assert doc["metadata"]["namespace"] == "traderx-dev"
        assert ctr["env"] == [{"name": "LOG_LEVEL", "value": "debug"}]
        assert ctr["resources"] == {
            "requests": {"cpu": "250m", "memory": "256Mi"},
            "limits": {"memory": "256Mi", "cpu": "500m"},
        }
        bad = _invoke(c, sid, where, "set-image-reference", "nope", ":1", status=207)
        assert bad[0]["Success"] is False and "nope" in bad[0]["Error"]["Message"]
        unknown = c.post(
            f"/space/{sid}/function/invoke",
            params={"where": where},
            json={"FunctionInvocations": [{"FunctionName": "no-such"}]},
        )
        assert unknown.status_code == 400 and "no-such" in unknown.json()["Message"]


def test_vet_placeholders_trigger_gates_apply(confighub_server: ServerProcess) -> None:
    with confighub_server.client() as c:
        sid = new_space(c)["SpaceID"]
        ok(
            c.post(
                f"/space/{sid}/trigger",
                json={
                    "Slug": "no-placeholders",
                    "Event": "Mutation",
                    "ToolchainType": "Kubernetes/YAML",
                    "FunctionName": "vet-placeholders",
                    "Validating": True,
                },
            )
        )
        bad = new_unit(c, sid, BASE.replace("1.0.0", "confighubplaceholder"))
        good = new_unit(c, sid, BASE)
        assert bad["ApplyGates"] == {"no-placeholders/vet-placeholders": True}
        assert good["ApplyGates"] == {}
        res = _invoke(c, sid, f"UnitID = '{bad['UnitID']}'", "vet-placeholders", status=207)
        assert res[0]["Success"] is False and "placeholder" in res[0]["Error"]["Message"]
        fixed = _invoke(
            c, sid, f"UnitID = '{bad['UnitID']}'", "set-image-reference", "trade-service", ":1.0.0"
        )
        assert fixed[0]["Success"] is True
        after = ok(c.get(f"/space/{sid}/unit/{bad['UnitID']}"))["Unit"]
        assert after["ApplyGates"] == {}
