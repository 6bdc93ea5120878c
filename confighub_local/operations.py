"""Queued operations (apply/destroy/refresh), unit events, live state and drift.

A request queues an operation for the bridge worker behind the unit's target and wakes that
worker's stream; the worker reports progress and the result; the result moves the unit's
LiveRevisionNum and stores live state and drift.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from confighub_local.context import ServerState
from confighub_local.db.store import Doc, new_id, now
from confighub_local.errors import ApiError
from confighub_local.validation import check_uuid, decode_b64

TERMINAL = {"Completed", "Failed", "Aborted", "Canceled"}


def live_key(unit_id: str) -> str:
    """Entity IDs are unique across kinds, so a unit's live info gets a derived key."""
    return f"live:{unit_id}"


class Dispatcher:
    """Wakes a worker's stream when an operation is queued for it (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiters: dict[str, list[tuple[asyncio.AbstractEventLoop, asyncio.Event]]] = {}
        self.closed = False

    def close(self) -> None:
        """Server shutdown: end every open stream so connections drain at once."""
        with self._lock:
            self.closed = True
            waiters = [w for ws in self._waiters.values() for w in ws]
        for loop, event in waiters:
            loop.call_soon_threadsafe(event.set)

    def subscribe(self, worker_id: str) -> asyncio.Event:
        event = asyncio.Event()
        with self._lock:
            self._waiters.setdefault(worker_id, []).append((asyncio.get_running_loop(), event))
        return event

    def unsubscribe(self, worker_id: str, event: asyncio.Event) -> None:
        with self._lock:
            self._waiters[worker_id] = [
                w for w in self._waiters.get(worker_id, []) if w[1] is not event
            ]

    def connected(self, worker_id: str) -> bool:
        with self._lock:
            return bool(self._waiters.get(worker_id))

    def notify(self, worker_id: str) -> None:
        with self._lock:
            waiters = list(self._waiters.get(worker_id, []))
        for loop, event in waiters:
            loop.call_soon_threadsafe(event.set)


def dispatcher(st: ServerState) -> Dispatcher:
    found = st.extras.get("dispatcher")
    if found is None:
        found = st.extras["dispatcher"] = Dispatcher()
    assert isinstance(found, Dispatcher)
    return found


def _event(st: ServerState, unit: Doc, op: Doc, message: str) -> Doc:
    num = int(unit.get("HeadUnitEventNum", 0)) + 1
    unit["HeadUnitEventNum"] = num
    stamp = now()
    event: Doc = {
        "UnitEventID": new_id(),
        "UnitEventNum": num,
        "UnitID": unit["UnitID"],
        "SpaceID": unit["SpaceID"],
        "SpaceSlug": unit.get("SpaceSlug", ""),
        "OrganizationID": unit["OrganizationID"],
        "QueuedOperationID": op["QueuedOperationID"],
        "BridgeWorkerID": op["BridgeWorkerID"],
        "Action": op["Action"],
        "Status": "Pending",
        "Result": "None",
        "Message": message,
        "RevisionNum": op["RevisionNum"],
        "StartedAt": stamp,
        "CreatedAt": stamp,
        "UpdatedAt": stamp,
        "Version": 1,
        "EntityType": "UnitEvent",
        "ResourceStatuses": {},
    }
    st.store.insert(
        "UnitEvent", event["UnitEventID"], event, space_id=unit["SpaceID"], parent_id=unit["UnitID"]
    )
    return event


def queue(
    st: ServerState, unit: Doc, action: str, *, revision: Doc | None = None, dry_run: bool = False
) -> Doc:
    """Queue Apply/Destroy/Refresh for the unit's target; returns the QueuedOperation."""
    from confighub_local import triggers, units

    if not unit.get("TargetID"):
        raise ApiError(400, f"Unit {unit['Slug']} has no TargetID; set a target before {action}")
    target = st.store.get("Target", unit["TargetID"])
    if target is None:
        raise ApiError(400, f"Unit {unit['Slug']} names a missing Target {unit['TargetID']}")
    with st.store.tx():
        unit = st.store.get("Unit", unit["UnitID"]) or unit
        if action == "Apply":
            gates = triggers.evaluate(st, unit, units.unit_data(unit))
            if gates:
                raise ApiError(
                    409,
                    f"apply of Unit {unit['Slug']} is blocked by failing "
                    f"validating triggers: {', '.join(sorted(gates))}",
                )
        if revision is None:
            data = unit.get("Data", "")
            rev_num = int(unit.get("HeadRevisionNum", 0))
        else:
            data = revision.get("Data", "")
            rev_num = int(revision["RevisionNum"])
        if action == "Destroy":
            rev_num = int(unit.get("LiveRevisionNum", 0)) or rev_num
            live_rev = units.revision(st, unit, rev_num) if unit.get("LiveRevisionNum") else None
            data = live_rev.get("Data", "") if live_rev else data
        num = int(unit.get("HeadUnitActionNum", 0)) + 1
        unit["HeadUnitActionNum"] = num
        stamp = now()
        op: Doc = {
            "QueuedOperationID": new_id(),
            "Action": action,
            "Status": "Pending",
            "UnitID": unit["UnitID"],
            "SpaceID": unit["SpaceID"],
            "OrganizationID": unit["OrganizationID"],
            "TargetID": target["TargetID"],
            "BridgeWorkerID": target["BridgeWorkerID"],
            "RevisionNum": rev_num,
            "Data": data,
            "UnitActionNum": num,
            "DryRun": dry_run,
            "UserID": st.user_id,
            "ExtraParams": target.get("Parameters", ""),
            "CreatedAt": stamp,
            "Version": 1,
            "Dependencies": [],
            "ErrorDetails": [],
        }
        st.store.insert(
            "QueuedOperation",
            op["QueuedOperationID"],
            op,
            space_id=unit["SpaceID"],
            parent_id=unit["UnitID"],
        )
        message = f"{action} queued for bridge worker {target['BridgeWorkerID']}"
        if not dispatcher(st).connected(target["BridgeWorkerID"]):
            message += " (not connected: the operation waits until it connects)"
        _event(st, unit, op, message)
        unit["LastActionAt"] = stamp
        st.store.replace("Unit", unit["UnitID"], unit)
    dispatcher(st).notify(target["BridgeWorkerID"])
    return op


def approve(st: ServerState, unit: Doc) -> Doc:
    with st.store.tx():
        current = st.store.get("Unit", unit["UnitID"]) or unit
        approvers = list(current.get("ApprovedBy") or [])
        if st.user_id not in approvers:
            approvers.append(st.user_id)
        current["ApprovedBy"] = approvers
        current["UpdatedAt"] = now()
        current["Version"] = int(current["Version"]) + 1
        return st.store.replace("Unit", current["UnitID"], current)


def pending_for(st: ServerState, worker_id: str) -> list[Doc]:
    """Pending operations for a worker, marked Delivered as they are handed out."""
    with st.store.tx():
        ops = st.store.select(
            "QueuedOperation",
            where_sql="json_extract(e.doc, '$.BridgeWorkerID') = ? AND "
            "json_extract(e.doc, '$.Status') = 'Pending'",
            params=[worker_id],
        )
        for op in ops:
            op["Status"] = "Delivered"
            st.store.replace("QueuedOperation", op["QueuedOperationID"], op)
    return ops


def cancel(st: ServerState, unit: Doc) -> list[Doc]:
    """Cancel the unit's operations that no worker has started yet."""
    canceled = []
    with st.store.tx():
        ops = st.store.select(
            "QueuedOperation",
            parent_id=unit["UnitID"],
            where_sql="json_extract(e.doc, '$.Status') IN ('Pending', 'Delivered')",
        )
        stamp = now()
        for op in ops:
            op["Status"] = "Canceled"
            op["Version"] = int(op.get("Version", 1)) + 1
            st.store.replace("QueuedOperation", op["QueuedOperationID"], op)
            for ev in st.store.select(
                "UnitEvent",
                parent_id=unit["UnitID"],
                where_sql="json_extract(e.doc, '$.QueuedOperationID') = ?",
                params=[op["QueuedOperationID"]],
            ):
                ev.update(
                    Status="Canceled",
                    TerminatedAt=stamp,
                    UpdatedAt=stamp,
                    Message=f"{op['Action']} canceled",
                )
                st.store.replace("UnitEvent", ev["UnitEventID"], ev)
            canceled.append(op)
    return canceled


def requeue_delivered(st: ServerState, worker_id: str) -> int:
    """A worker connecting afresh gets its unfinished operations again: the official worker
    exits when its stream ends, so operations handed to an earlier connection (Delivered, or
    Progressing while it waited for readiness) died with it. Apply and destroy are idempotent."""
    with st.store.tx():
        ops = st.store.select(
            "QueuedOperation",
            where_sql="json_extract(e.doc, '$.BridgeWorkerID') = ? AND "
            "json_extract(e.doc, '$.Status') IN ('Delivered', 'Progressing')",
            params=[worker_id],
        )
        for op in ops:
            op["Status"] = "Pending"
            st.store.replace("QueuedOperation", op["QueuedOperationID"], op)
    return len(ops)


NIL_UUID = "00000000-0000-0000-0000-000000000000"
# ActionResult.Status as the SDK sends it -> what the operation and its event record.
# "None" is what the worker answers for an action it does not know: that operation failed.
_STATUS_MAP = {
    "Completed": "Completed",
    "Failed": "Failed",
    "Progressing": "Progressing",
    "Canceled": "Canceled",
    "Aborted": "Aborted",
    "Submitted": "Progressing",
    "Pending": "Progressing",
    "None": "Failed",
}


def record_result(st: ServerState, worker_id: str, result: Any) -> None:
    """Apply a worker's ActionResult (the SDK's `api.ActionResult`) to the operation, its
    event and the unit. A Heartbeat acknowledgement (no operation) only marks the worker seen."""
    if not isinstance(result, dict):
        raise ApiError(400, "ActionResult must be a JSON object")
    if result.get("Action") == "Heartbeat":
        return
    op_id = check_uuid(str(result.get("QueuedOperationID", "")), "ActionResult.QueuedOperationID")
    if op_id == NIL_UUID:
        raise ApiError(400, "ActionResult.QueuedOperationID must name an operation")
    raw_status = result.get("Status")
    if raw_status not in _STATUS_MAP:
        raise ApiError(400, f"ActionResult.Status must be one of {sorted(_STATUS_MAP)}")
    status = _STATUS_MAP[str(raw_status)]
    for field in ("LiveState", "LiveData", "Data"):
        if result.get(field):
            decode_b64(result[field], f"ActionResult.{field}")
    with st.store.tx():
        op = st.store.get("QueuedOperation", op_id)
        if op is None or op["BridgeWorkerID"] != worker_id:
            raise ApiError(404, f"QueuedOperation {op_id} not found for this worker")
        if op["Status"] in TERMINAL:
            return
        stamp = now()
        message = str(result.get("Message") or "")
        op["Status"] = status
        op["Version"] = int(op.get("Version", 1)) + 1
        if status == "Failed":
            messages = [str(m) for m in result.get("ErrorMessages") or []] or [message]
            op["ErrorDetails"] = [{"Item": op["UnitID"], "Description": m} for m in messages]
        st.store.replace("QueuedOperation", op_id, op)
        events = st.store.select(
            "UnitEvent",
            parent_id=op["UnitID"],
            where_sql="json_extract(e.doc, '$.QueuedOperationID') = ?",
            params=[op_id],
        )
        event_result = str(result.get("Result") or "None")
        for ev in events:
            ev.update(
                Status=status,
                Result=event_result,
                UpdatedAt=stamp,
                Message=message or ev["Message"],
                ResourceStatuses=result.get("ResourceStatuses") or ev.get("ResourceStatuses") or {},
                Version=int(ev["Version"]) + 1,
            )
            if status in TERMINAL:
                ev["TerminatedAt"] = stamp
            st.store.replace("UnitEvent", ev["UnitEventID"], ev)
        unit = st.store.get("Unit", op["UnitID"])
        if unit is None or status != "Completed":
            return
        info = st.store.get("LiveInfo", live_key(unit["UnitID"]))
        fresh = info is None
        info = info or {"UnitID": unit["UnitID"], "Drift": "None"}
        if result.get("LiveState") is not None:
            info["LiveState"] = result["LiveState"]
        # the SDK's worker reports the unit data patched with the live values as `Data` (on a
        # refresh that found drift); older clients sent `LiveData`
        live_data = result.get("LiveData")
        if live_data is None and op["Action"] == "Refresh":
            live_data = result.get("Data")
        if live_data is not None:
            info["LiveData"] = live_data
        if op["Action"] == "Apply":
            unit["PreviousLiveRevisionNum"] = int(unit.get("LiveRevisionNum", 0))
            unit["LiveRevisionNum"] = op["RevisionNum"]
            unit["LastAppliedRevisionNum"] = op["RevisionNum"]
            info["Drift"] = "None"
        elif op["Action"] == "Destroy":
            unit["PreviousLiveRevisionNum"] = int(unit.get("LiveRevisionNum", 0))
            unit["LiveRevisionNum"] = 0
            info.update(Drift="None", LiveState="", LiveData="")
        elif op["Action"] == "Refresh":
            info["Drift"] = "Drifted" if event_result == "RefreshAndDrifted" else "None"
        unit["UpdatedAt"] = stamp
        st.store.replace("Unit", unit["UnitID"], unit)
        if fresh:
            st.store.insert(
                "LiveInfo",
                live_key(unit["UnitID"]),
                info,
                space_id=unit["SpaceID"],
                parent_id=unit["UnitID"],
            )
        else:
            st.store.replace("LiveInfo", live_key(unit["UnitID"]), info)
