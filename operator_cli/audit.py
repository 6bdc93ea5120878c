"""Audit timeline (issue #13): one list of events per unit or environment, newest last.

It joins what ConfigHub records — each revision (who, when, source: a function, merge, restore,
upgrade or a plain update; its description; what changed, as field paths), the releases that
tagged it, its approvals, and each apply/destroy with its outcome (unit events) — with the
Pulumi update that caused the change: the stack update (number, kind) whose run contains the
revision's time. Changes made outside any `pulumi up` (an operator in ConfigHub, this CLI's
restores) show no update.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from components.confighub.client import SPACE, ConfigHubClient
from components.confighub.fields import changes_between
from components.confighub.models import decode_data
from components.confighub.releases import list_releases
from operator_cli.drift import record as drift_record
from operator_cli.rollback import Environment, revisions


@dataclass(frozen=True)
class Update:
    """One Pulumi update of the stack (from `stack.history()`)."""

    stack: str
    version: int
    kind: str
    result: str
    start: datetime
    end: datetime | None


def parse_time(text: str) -> datetime | None:
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def update_at(updates: list[Update], when: str) -> Update | None:
    """The update whose run contains `when` (ConfigHub's timestamp of the change)."""
    t = parse_time(when)
    if t is None:
        return None
    for u in updates:
        end = u.end or u.start
        if u.start.timestamp() - 1 <= t.timestamp() <= end.timestamp() + 1:
            return u
    return None


def _short(changes: dict[str, str], limit: int = 6) -> list[str]:
    items = [f"{k}: {v}" for k, v in sorted(changes.items())]
    return items[:limit] + ([f"... {len(items) - limit} more"] if len(items) > limit else [])


def unit_timeline(
    client: ConfigHubClient, env: Environment, unit: dict[str, Any], updates: list[Update]
) -> list[dict[str, Any]]:
    """Every revision and every apply/destroy of one unit, oldest first."""
    releases = {r.tag_id: r for r in list_releases(client, env.space_id)}
    events: list[dict[str, Any]] = []
    previous: str | None = None
    for rev in revisions(client, env.space_id, unit["UnitID"]):
        text = decode_data(rev.get("Data"))
        update = update_at(updates, str(rev.get("CreatedAt") or ""))
        tags = rev.get("Tags") or {}
        events.append(
            {
                "when": rev.get("CreatedAt"),
                "unit": unit["Slug"],
                "event": "revision",
                "revision": rev.get("RevisionNum"),
                "source": rev.get("Source"),
                "who": rev.get("UserID"),
                "description": rev.get("Description"),
                "changes": _short(changes_between(previous, text)) if previous else ["(created)"],
                "releases": sorted(
                    releases[t].name if t in releases else str(name) for t, name in tags.items()
                ),
                "approvedBy": rev.get("ApprovedBy") or [],
                "pulumiUpdate": (
                    {"stack": update.stack, "version": update.version, "kind": update.kind}
                    if update
                    else None
                ),
            }
        )
        previous = text
    body = client.request("GET", f"/space/{env.space_id}/unit/{unit['UnitID']}/unit_event") or []
    for item in body:
        ev = item.get("UnitEvent", item)
        update = update_at(updates, str(ev.get("CreatedAt") or ""))
        events.append(
            {
                "when": ev.get("CreatedAt"),
                "unit": unit["Slug"],
                "event": str(ev.get("Action") or "").lower() or "operation",
                "revision": ev.get("RevisionNum"),
                "status": ev.get("Status"),
                "result": ev.get("Result"),
                "message": (str(ev.get("Message") or ""))[:200],
                "pulumiUpdate": (
                    {"stack": update.stack, "version": update.version, "kind": update.kind}
                    if update
                    else None
                ),
            }
        )
    for release in releases.values():
        if unit["Slug"] in release.units:
            events.append(
                {
                    "when": release.created_at,
                    "unit": unit["Slug"],
                    "event": "release",
                    "release": release.name,
                    "kind": release.kind,
                    "source": release.source,
                    "who": release.who,
                    "revision": release.units[unit["Slug"]],
                    "promoted": unit["Slug"] in release.promoted,
                    "description": release.description,
                }
            )
    events.extend(drift_events(client, env, unit["Slug"]))
    return sorted(events, key=lambda e: (str(e.get("when") or ""), _ORDER.get(e["event"], 9)))


_ORDER = {"revision": 0, "apply": 1, "destroy": 1, "release": 2, "drift-detected": 3}


def drift_events(
    client: ConfigHubClient, env: Environment, unit: str | None
) -> list[dict[str, Any]]:
    """Drift detections and corrections `traderx drift` recorded on the environment's Space."""
    space = client.get(SPACE, None, env.space_id)
    return drift_record.timeline(drift_record.parse(space.annotations), unit)


def environment_timeline(
    client: ConfigHubClient, env: Environment, updates: list[Update]
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for unit in env.units:
        out.extend(
            e
            for e in unit_timeline(client, env, unit, updates)
            if e["event"] not in ("release", "drift-detected", "drift-corrected")
        )
    out.extend(drift_events(client, env, None))
    for release in list_releases(client, env.space_id):
        out.append(
            {
                "when": release.created_at,
                "unit": "*",
                "event": "release",
                "release": release.name,
                "kind": release.kind,
                "source": release.source,
                "who": release.who,
                "promoted": release.promoted,
                "description": release.description,
            }
        )
    return sorted(out, key=lambda e: (str(e.get("when") or ""), _ORDER.get(e["event"], 9)))


def render_row(e: dict[str, Any]) -> list[Any]:
    """when, unit, event, revision, who, detail, pulumi update (for the table)."""
    upd = e.get("pulumiUpdate")
    if e["event"] == "revision":
        detail = f"{e.get('source')}: {e.get('description') or ''}"
        if e.get("releases"):
            detail += f" [releases: {', '.join(e['releases'])}]"
        if e.get("changes"):
            detail += " | " + "; ".join(e["changes"][:3])
    elif e["event"].startswith("drift-"):
        writer = (e.get("writer") or {}).get("manager")
        detail = f"{e.get('risk')} [{e.get('rule')}] {e.get('object')} {e.get('path')}: "
        detail += f"{e.get('live')} (written by {writer})" if writer else f"{e.get('live')}"
        if e.get("action"):
            detail += f" -> {e['action']}"
    elif e["event"] == "release":
        detail = f"release {e['release']} ({e.get('kind')}"
        detail += f" from {e['source']})" if e.get("source") else ")"
    else:
        detail = f"{e.get('status')}/{e.get('result')} {e.get('message') or ''}".strip()
    return [
        e.get("when"),
        e.get("unit"),
        e["event"],
        e.get("revision", ""),
        e.get("who", ""),
        detail,
        f"{upd['stack']}#{upd['version']}" if upd else "",
    ]
