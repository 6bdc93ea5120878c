"""The drift record kept on the environment's Space (pure), and its round trip through the
real local server: written by a merge patch of one annotation, read back, other annotations
and labels kept."""

from __future__ import annotations

from typing import Any

from components.confighub.client import SPACE, ConfigHubClient
from components.confighub.connection import ConnectionSettings
from operator_cli.drift import record

ACTOR = "traderx drift (ops@host)"


def finding(path: str = "spec.replicas", live: Any = 3, action: str = "reported") -> dict[str, Any]:
    return {
        "unit": "trade-service",
        "object": "Deployment/ns/trade-service",
        "path": path,
        "desired": 1,
        "live": live,
        "writer": {"manager": "kubectl", "operation": "Update", "time": "2026-12-01T10:00:00Z"},
        "risk": "low",
        "rule": "replica-count",
        "action": action,
    }


def rnd(at: str, *drift: dict[str, Any], pulumi: list[dict[str, Any]] | None = None) -> dict:
    return {"environment": "dev", "at": at, "drift": list(drift), "pulumi": pulumi or []}


def test_a_detection_is_recorded_once_and_a_correction_every_time() -> None:
    first = record.summarise(rnd("t1", finding()), ACTOR, None)
    assert first["status"] == "drift" and first["remaining"] == 1
    assert [e["event"] for e in first["events"]] == ["drift-detected"]
    again = record.summarise(rnd("t2", finding()), ACTOR, first)  # the next watch round
    assert [e["when"] for e in again["events"]] == ["t1"], "the same drifted value: not new"
    fixed = record.summarise(rnd("t3", finding(action="corrected: re-applied")), ACTOR, again)
    assert [e["event"] for e in fixed["events"]] == ["drift-detected", "drift-corrected"]
    assert fixed["status"] == "corrected" and fixed["corrected"] == 1 and fixed["active"] == []
    clean = record.summarise(rnd("t4"), ACTOR, fixed)
    assert clean["status"] == "clean" and len(clean["events"]) == 2
    back = record.summarise(rnd("t5", finding()), ACTOR, clean)  # drifted again after the fix
    assert [e["when"] for e in back["events"]] == ["t1", "t3", "t5"]
    e = back["events"][-1]
    assert (
        e["who"] == ACTOR and e["rule"] == "replica-count" and e["writer"]["manager"] == "kubectl"
    )


def test_pulumi_layer_events_and_bounds() -> None:
    gone = {"op": "deleted", "type": "kubernetes:networking.k8s.io/v1:NetworkPolicy",
            "name": "np-allow-dns", "diffs": []}  # fmt: skip
    out = record.summarise(rnd("t1", pulumi=[gone]), ACTOR, None)
    (e,) = out["events"]
    assert e["unit"] == "(pulumi)" and e["rule"] == "pulumi-refresh" and e["live"] == "deleted"
    assert out["status"] == "drift" and out["drifted"] == 1
    many = None
    for i in range(record.MAX_EVENTS + 10):
        many = record.summarise(rnd(f"t{i:03}", finding(live=i)), ACTOR, many)
    assert many is not None and len(many["events"]) == record.MAX_EVENTS
    assert many["events"][-1]["when"] == f"t{record.MAX_EVENTS + 9:03}", "newest kept"
    long = record.summarise(rnd("t", finding(path="spec.x", live="x" * 500)), ACTOR, None)
    assert len(long["events"][0]["live"]) == 120


def test_output_and_timeline() -> None:
    assert record.output(None) == {"status": "never-checked"}
    assert record.parse({record.ANNOTATION: "not json"}) is None
    rec = record.summarise(rnd("t1", finding()), ACTOR, None)
    out = record.output(record.parse({record.ANNOTATION: record.encode(rec)}))
    assert out["status"] == "drift" and "events" not in out and "active" not in out
    assert out["latest"] == rec["events"]
    assert record.timeline(rec, "trade-service") == [{**rec["events"][0], "revision": ""}]
    assert record.timeline(rec, "database") == []


def test_round_trip_on_the_server_keeps_other_annotations(confighub_server: Any) -> None:
    settings = ConnectionSettings.model_validate(
        {"url": confighub_server.url, "token": confighub_server.token}
    )
    client = ConfigHubClient(settings)
    try:
        space = client.create(
            SPACE, None, {"Slug": f"drift-rec-{id(client)}", "Labels": {"a": "b"},
                          "Annotations": {"keep": "me"}},
        )  # fmt: skip
        assert record.read(client, space.id) is None
        assert record.stack_output(confighub_server.url, confighub_server.token, space.id) == {
            "status": "never-checked"
        }
        record.write(client, space.id, rnd("t1", finding()), ACTOR)
        record.write(client, space.id, rnd("t2", finding(action="corrected: ok")), ACTOR)
        got = client.get(SPACE, None, space.id)
        assert got.annotations["keep"] == "me" and got.labels == {"a": "b"}
        rec = record.read(client, space.id)
        assert rec is not None and rec["status"] == "corrected" and len(rec["events"]) == 2
        out = record.stack_output(confighub_server.url, confighub_server.token, space.id)
        assert out["status"] == "corrected" and out["by"] == ACTOR
        bad = record.stack_output(confighub_server.url, "wrong-token", space.id)
        assert bad["status"] == "unreadable" and "401" in bad["error"], bad
        client.delete(SPACE, None, space.id)
    finally:
        client.close()
