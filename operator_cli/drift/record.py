"""The last drift result, kept in ConfigHub where the stack output and the audit timeline read it.

`traderx drift check|watch` writes, after every round, one annotation on the environment's
Space (`traderx.finos.org/drift`, compact JSON): when it ran, who ran it, the counts, and the
most recent detection and correction events (newest last, at most `MAX_EVENTS`). Why there:

- the Space's annotations are not declared by the stack (the Space resource manages its labels
  and its managed-by key only, with merge patches), so this write never makes a Pulumi diff and
  no `up` ever undoes it - no write loop between the operator and Pulumi;
- the stack reads it while the program runs (`program.py`: output `lastDrift`), a read and no
  write, so a no-op `up` stays a no-op for every resource;
- it is shared: `traderx audit env|unit` on any machine shows the same drift events (the local
  `--audit` file stays the detailed, append-only record of corrections).

A detection is recorded once per drifted value (unit, object, field, live value, the writer's
time), not once per watch round; a correction every time one is made.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import SecretStr

from components.confighub.client import SPACE, ConfigHubClient
from components.confighub.connection import ConnectionSettings
from components.confighub.errors import ConfigHubError

ANNOTATION = "traderx.finos.org/drift"
MAX_EVENTS = 30
_TEXT = 120  # longest value kept in an event (a live value, an action)


def _cut(value: Any) -> Any:
    if isinstance(value, str) and len(value) > _TEXT:
        return value[: _TEXT - 3] + "..."
    if isinstance(value, (dict, list)):
        text = json.dumps(value, sort_keys=True, default=str)
        return value if len(text) <= _TEXT else text[: _TEXT - 3] + "..."
    return value


def _key(event: Mapping[str, Any]) -> str:
    """Identity of one drifted value: a detection repeated by the next round is not new."""
    return json.dumps(
        [
            event.get("unit"),
            event.get("object"),
            event.get("path"),
            event.get("live"),
            (event.get("writer") or {}).get("time"),
        ],
        sort_keys=True,
        default=str,
    )


def _base(d: Mapping[str, Any]) -> dict[str, Any]:
    """An event's fields from one finding of `traderx drift` (values cut to a short length)."""
    writer = d.get("writer") or {}
    return {
        "unit": d.get("unit"),
        "object": d.get("object"),
        "path": d.get("path"),
        "risk": d.get("risk"),
        "rule": d.get("rule"),
        "live": _cut(d.get("live")),
        "desired": _cut(d.get("desired")),
        "writer": {"manager": writer.get("manager"), "time": writer.get("time")},
    }


def summarise(
    report: Mapping[str, Any], actor: str, previous: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The new record from one round's report and the previous record (pure)."""
    drift = list(report.get("drift") or [])
    corrected = [d for d in drift if str(d.get("action", "")).startswith("corrected")]
    events: list[dict[str, Any]] = list((previous or {}).get("events") or [])
    # new unless the previous round saw the same drifted value (so a watch records it once)
    seen: set[str] = set((previous or {}).get("active") or [])
    active: list[str] = []
    for d in drift:
        base = _base(d)
        _detected(events, seen, active, base, report, actor)
        if d in corrected:
            events.append(
                {
                    "when": report.get("at"),
                    "event": "drift-corrected",
                    "who": actor,
                    **base,
                    "action": _cut(d.get("action")),
                }
            )
    pulumi = list(report.get("pulumi") or [])  # Pulumi-owned objects (`--stack`): reported
    for c in pulumi:
        base = {
            "unit": "(pulumi)",
            "object": f"{c.get('type')}/{c.get('name')}",
            "path": ",".join(c.get("diffs") or []) or "(object)",
            "risk": "high",
            "rule": "pulumi-refresh",
            "live": c.get("op"),
            "desired": "the stack",
            "writer": {"manager": None, "time": None},
        }
        _detected(events, seen, active, base, report, actor)
    remaining = len(drift) - len(corrected) + len(pulumi)
    corrected_keys = {_key(_base(d)) for d in corrected}
    return {
        "at": report.get("at"),
        "by": actor,
        "environment": report.get("environment"),
        "status": "drift" if remaining else ("corrected" if corrected else "clean"),
        "drifted": len(drift) + len(pulumi),
        "corrected": len(corrected),
        "remaining": remaining,
        "high": sum(1 for d in drift if d.get("risk") == "high"),
        "events": events[-MAX_EVENTS:],
        "active": [k for k in active if k not in corrected_keys][-MAX_EVENTS:],
    }


def _detected(
    events: list[dict[str, Any]],
    seen: set[str],
    active: list[str],
    base: dict[str, Any],
    report: Mapping[str, Any],
    actor: str,
) -> None:
    key = _key(base)
    active.append(key)
    if key not in seen:
        seen.add(key)
        events.append({"when": report.get("at"), "event": "drift-detected", "who": actor, **base})


def parse(annotations: Mapping[str, str] | None) -> dict[str, Any] | None:
    """The record in a Space's annotations; None when absent or unreadable (never fatal)."""
    text = (annotations or {}).get(ANNOTATION)
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def encode(record: Mapping[str, Any]) -> str:
    return json.dumps(record, sort_keys=True, separators=(",", ":"), default=str)


def read(client: ConfigHubClient, space_id: str) -> dict[str, Any] | None:
    return parse(client.get(SPACE, None, space_id).annotations)


def write(
    client: ConfigHubClient, space_id: str, report: Mapping[str, Any], actor: str
) -> dict[str, Any]:
    """Merge the round into the Space's record (a merge patch of that one annotation)."""
    record = summarise(report, actor, read(client, space_id))
    client.patch(SPACE, None, space_id, {"Annotations": {ANNOTATION: encode(record)}})
    return record


def timeline(record: Mapping[str, Any] | None, unit: str | None = None) -> list[dict[str, Any]]:
    """The record's events as audit timeline entries (of one unit, or all)."""
    out: list[dict[str, Any]] = []
    for e in (record or {}).get("events") or []:
        if unit is not None and e.get("unit") != unit:
            continue
        out.append({**e, "revision": ""})
    return out


def output(record: Mapping[str, Any] | None, latest: int = 5) -> dict[str, Any]:
    """The `lastDrift` stack output: the last result and its newest events (pure)."""
    if record is None:
        return {"status": "never-checked"}
    summary = {k: v for k, v in record.items() if k not in ("events", "active")}
    return {**summary, "latest": list(record.get("events") or [])[-latest:]}


def stack_output(url: str, token: str, space_id: str) -> dict[str, Any]:
    """Read the Space's record while the stack program runs (a read, never a write), so the
    output follows the last `traderx drift` round at every `up` without any resource diff.

    One attempt, and a failure is the output's status, not the run's: an output must never be
    the reason an `up` fails (the resources report an unreachable server themselves)."""
    settings = ConnectionSettings(url=url, token=SecretStr(token), timeout_seconds=10.0)
    client = ConfigHubClient(settings, max_attempts=1, retry_deadline=10.0)
    try:
        return output(read(client, space_id))
    except ConfigHubError as exc:
        return {"status": "unreadable", "error": str(exc)[:200]}
    finally:
        client.close()
