"""A unit's status summary (UnitStatus) from its latest event and revision numbers."""

from __future__ import annotations

from typing import Any

from confighub_local.context import ServerState
from confighub_local.db.store import Doc


def unit_status(st: ServerState, unit: Doc) -> dict[str, Any]:
    status: dict[str, Any] = {}
    events = st.store.select("UnitEvent", parent_id=unit["UnitID"], order="e.cursor DESC", limit=1)
    live = int(unit.get("LiveRevisionNum", 0))
    head = int(unit.get("HeadRevisionNum", 0))
    status["SyncStatus"] = (
        "Synced" if live and live == head else ("OutOfSync" if live else "Unapplied")
    )
    live_info = st.store.get("LiveInfo", f"live:{unit['UnitID']}") or {}
    status["Drift"] = live_info.get("Drift", "None")
    if events:
        ev = events[0]
        status.update(
            Action=ev.get("Action", "N/A"),
            ActionResult=ev.get("Result", "None"),
            ActionStartedAt=ev.get("StartedAt"),
            ActionTerminatedAt=ev.get("TerminatedAt"),
            Status=ev.get("Status", "None"),
        )
    else:
        status.update(Action="N/A", ActionResult="None", Status="None")
    return status
