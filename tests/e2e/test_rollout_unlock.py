"""`traderx rollout unlock` against the real local server (no cluster: unlock changes only the
record): refused while the holder is alive, `--force` clears it anyway, a holder on another
host with an old heartbeat is stale; each clearing is one attributable record revision."""

from __future__ import annotations

import json
import os
import secrets
import socket
import time
from typing import Any

from typer.testing import CliRunner

from components.confighub.yamldata import documents
from components.model.layout import space_slug
from components.model.manifests import base_context, render_component, to_yaml
from operator_cli.app import app
from operator_cli.rollout.hub_io import RECORD
from tests.server.helpers import b64, ok, unb64
from tests.support.server import ServerProcess


def _record(holder: dict[str, Any], beat: float) -> str:
    body = {
        "state": {"strategy": "canary", "phase": "Stepping", "step": 1, "weight": 25},
        "history": [{"at": beat, "event": "phase Stepping", "weight": 25}],
        "holder": holder,
        "heartbeat": beat,
        "staleAfterSeconds": 180.0,
        "revision": "img:1",
    }
    doc = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": RECORD},
           "data": {"rollout": json.dumps(body)}}  # fmt: skip
    return to_yaml([doc])


def _prod(server: ServerProcess, record: str) -> tuple[str, str, str]:
    """(prefix, space id, record unit id) of a prod space holding a running record."""
    prefix = f"ul{secrets.token_hex(3)}"
    with server.client() as c:
        sid = ok(c.post("/space", json={"Slug": space_slug(prefix, "prod")}))["SpaceID"]
        stable = to_yaml(render_component(base_context(), "trade-service"))
        for slug, data in (("trade-service", stable), (RECORD, record)):
            body = {"Slug": slug, "ToolchainType": "Kubernetes/YAML", "Data": b64(data)}
            unit = ok(c.post(f"/space/{sid}/unit", json=body))
        return prefix, sid, unit["UnitID"]


def _unlock(server: ServerProcess, prefix: str, *extra: str) -> tuple[int, dict[str, Any]]:
    env = {"CONFIGHUB_URL": server.url, "CONFIGHUB_TOKEN": server.token}
    args = ["rollout", "unlock", "--prefix", prefix, "--reason", "runner host died", *extra]
    result = CliRunner().invoke(app, [*args, "--json"], env=env)
    return result.exit_code, json.loads(result.stdout)


def _head(server: ServerProcess, sid: str, uid: str) -> tuple[int, dict[str, Any], str]:
    with server.client() as c:
        unit = ok(c.get(f"/space/{sid}/unit/{uid}"))
        unit = unit.get("Unit", unit)
        revs = ok(c.get(f"/space/{sid}/unit/{uid}/revision"))
    described = [r.get("Revision", r) for r in revs]
    last = max(described, key=lambda r: r["RevisionNum"])
    (doc,) = [d for d in documents(unb64(unit["Data"])) if d]
    body = json.loads(doc["data"]["rollout"])
    return int(unit["HeadRevisionNum"]), body, str(last.get("Description", ""))


def test_unlock_refuses_a_live_holder_unless_forced(confighub_server: ServerProcess) -> None:
    me = {"user": "ann", "host": socket.gethostname(), "pid": os.getpid()}  # alive: this test
    prefix, sid, uid = _prod(confighub_server, _record(me, time.time()))
    head, _body, _ = _head(confighub_server, sid, uid)
    code, out = _unlock(confighub_server, prefix)
    assert code == 3 and "the lock is not stale" in out["error"], out
    assert "running on this host" in out["error"]
    assert _head(confighub_server, sid, uid)[0] == head  # refused: nothing written
    code, out = _unlock(confighub_server, prefix, "--force")
    assert code == 0 and out["lockCleared"]["forced"] is True, out
    after, body, description = _head(confighub_server, sid, uid)
    assert after == head + 1
    assert body["state"]["phase"] == "Unlocked" and body["lockCleared"]["reason"] == (
        "runner host died"
    )
    assert body["lockCleared"]["phase"] == "Stepping"
    assert "rollout lock cleared by" in description and "(forced)" in description
    assert out["leftUnits"] == []


def test_unlock_clears_a_silent_holder_on_another_host(confighub_server: ServerProcess) -> None:
    other = {"user": "bob", "host": "elsewhere.invalid", "pid": 1}
    prefix, sid, uid = _prod(confighub_server, _record(other, time.time() - 600))
    code, out = _unlock(confighub_server, prefix)
    assert code == 0 and out["lockCleared"]["forced"] is False, out
    assert "no heartbeat for 600 s" in out["lockCleared"]["holder"]
    _head_num, body, description = _head(confighub_server, sid, uid)
    assert body["state"]["phase"] == "Unlocked" and "(forced)" not in description
    code, out = _unlock(confighub_server, prefix)
    assert code == 3 and "no rollout of trade-service holds the lock" in out["error"]
