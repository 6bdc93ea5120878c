"""`traderx release list`, `rollback unit` and `audit unit` against the real local server
(no cluster: the unit has no target, so the rollback is the restore alone); bad input exits
with its code and changes nothing. The environment rollback runs end to end in
tests/e2e/test_releases_rollback.py."""

from __future__ import annotations

import base64
import uuid
from typing import Any

from components.confighub.client import ConfigHubClient
from components.confighub.connection import ConnectionSettings
from components.confighub.releases import record_release
from tests.ops.conftest import make_runner
from tests.support.server import ServerProcess

DOC = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: trade-service\ndata:\n  v: '{v}'\n"


def _b64(v: str) -> str:
    return base64.b64encode(DOC.format(v=v).encode()).decode()


def test_release_rollback_unit_and_audit(confighub_server: ServerProcess) -> None:
    from pydantic import SecretStr

    prefix = "rc" + uuid.uuid4().hex[:6]
    client = ConfigHubClient(
        ConnectionSettings(url=confighub_server.url, token=SecretStr(confighub_server.token))
    )
    space = client.request("POST", "/space", json_body={"Slug": f"{prefix}-traderx-staging"})
    space_id = space.get("Space", space)["SpaceID"]
    unit = client.request(
        "POST", f"/space/{space_id}/unit",
        json_body={"Slug": "trade-service", "ToolchainType": "Kubernetes/YAML", "Data": _b64("1")},
    )  # fmt: skip
    unit_id = unit.get("Unit", unit)["UnitID"]

    def release(name: str, pins: dict[str, int]) -> Any:
        return record_release(
            client, space_id=space_id, environment="staging", name=name, description=name,
            pins=pins, services={}, promoted=["trade-service"], source="", kind="promotion",
            stack="t/staging", owner_annotations={},
        )  # fmt: skip

    release("S1", {"trade-service": 1})
    client.request("PATCH", f"/space/{space_id}/unit/{unit_id}", json_body={"Data": _b64("2")})
    release("S2", {"trade-service": 2})
    run = make_runner(confighub_server)

    listed = run("release", "list", "staging", "--prefix", prefix, "--json")
    assert listed.code == 0, listed.stdout
    assert [r["name"] for r in listed.json()["releases"]] == ["S1", "S2"]
    assert listed.json()["releases"][1]["units"] == {"trade-service": 2}

    for to, code, words in (("99", 4, "revisions 1..2"), ("S9", 6, "S1, S2"), ("-5", 4, "-5")):
        bad = run("rollback", "unit", "staging", "trade-service", "--to", to,
                  "--prefix", prefix, "--json")  # fmt: skip
        assert bad.code == code and words in bad.json()["error"], bad.stdout
    missing = run("rollback", "unit", "staging", "nope", "--to", "-1", "--prefix", prefix, "--json")
    assert missing.code == 6 and "trade-service" in missing.json()["error"]
    assert client.get_unit(space_id, unit_id).head_revision_num == 2  # nothing changed

    back = run("rollback", "unit", "staging", "trade-service", "--to", "-1",
               "--prefix", prefix, "--json")  # fmt: skip
    assert back.code == 0, back.stdout
    assert back.json()["head"] == 3 and back.json()["restoredRevision"] == 1
    by_tag = run("rollback", "unit", "staging", "trade-service", "--to", "S2",
                 "--prefix", prefix, "--json")  # fmt: skip
    assert by_tag.code == 0 and by_tag.json()["restoredRevision"] == 2
    assert "v: '2'" in base64.b64decode(client.get_unit(space_id, unit_id).data or "").decode()

    audit = run("audit", "unit", "staging", "trade-service", "--prefix", prefix, "--json")
    assert audit.code == 0, audit.stdout
    events = audit.json()["events"]
    assert [e["release"] for e in events if e["event"] == "release"] == ["S1", "S2"]
    revisions = [e for e in events if e["event"] == "revision"]
    assert [e["revision"] for e in revisions] == [1, 2, 3, 4]
    assert [e["source"] for e in revisions][2:] == ["Restore", "Restore"]
    assert revisions[1]["releases"] == ["S2"] and revisions[0]["releases"] == ["S1"]
    assert any("data.v" in c or "/data/v" in c for c in revisions[1]["changes"]), revisions[1]
    table = run("audit", "env", "staging", "--prefix", prefix)
    assert table.code == 0 and "audit staging" in table.stdout
    client.close()
