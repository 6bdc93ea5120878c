"""Per-kind validation and defaults run inside create/update transactions."""

from __future__ import annotations

from confighub_local.context import ServerState
from confighub_local.db.store import Doc
from confighub_local.errors import ApiError
from confighub_local.service import hook
from confighub_local.where import WhereError, compile_where
from confighub_local.where_data import parse as parse_where_data

_FILTERABLE = {
    "Unit",
    "Space",
    "Link",
    "Target",
    "BridgeWorker",
    "Tag",
    "ChangeSet",
    "Trigger",
    "Filter",
    "Revision",
    "View",
    "Invocation",
    "UnitEvent",
    "QueuedOperation",
}


@hook("Filter")
def _filter(st: ServerState, space: Doc | None, doc: Doc, old: Doc | None) -> None:
    if doc["From"] not in _FILTERABLE:
        raise ApiError(400, f"Filter.From {doc['From']!r} is not a filterable entity type")
    if doc.get("Where"):
        try:
            compile_where(doc["Where"], doc["From"])
        except WhereError as exc:
            raise ApiError(400, f"Filter.Where is invalid: {exc}") from None
    if doc.get("WhereData") or doc.get("ResourceType"):
        if doc["From"] != "Unit":
            raise ApiError(400, "Filter.WhereData and Filter.ResourceType apply only to From Unit")
        if doc.get("WhereData"):
            parse_where_data(doc["WhereData"])


@hook("BridgeWorker")
def _worker(st: ServerState, space: Doc | None, doc: Doc, old: Doc | None) -> None:
    doc.pop("Secret", None)  # only a hash is stored (see worker_secret.py)
    doc.setdefault("Condition", "Disconnected")


@hook("Target")
def _target(st: ServerState, space: Doc | None, doc: Doc, old: Doc | None) -> None:
    worker = st.store.get("BridgeWorker", doc["BridgeWorkerID"])
    if worker is None or (space is not None and worker["SpaceID"] != space["SpaceID"]):
        raise ApiError(
            400, f"Target.BridgeWorkerID {doc['BridgeWorkerID']} is not a worker in this space"
        )
    doc.setdefault("Parameters", "")


@hook("Link")
def _link(st: ServerState, space: Doc | None, doc: Doc, old: Doc | None) -> None:
    from_unit = st.store.get("Unit", doc["FromUnitID"])
    if from_unit is None or (space is not None and from_unit["SpaceID"] != space["SpaceID"]):
        raise ApiError(400, f"Link.FromUnitID {doc['FromUnitID']} is not a unit in this space")
    to_unit = st.store.get("Unit", doc["ToUnitID"])
    if to_unit is None:
        raise ApiError(400, f"Link.ToUnitID {doc['ToUnitID']} does not name an existing Unit")
    doc["ToSpaceID"] = to_unit["SpaceID"]


@hook("Trigger")
def _trigger(st: ServerState, space: Doc | None, doc: Doc, old: Doc | None) -> None:
    from confighub_local.functions import REGISTRY

    name = doc.get("FunctionName") or ""
    if name not in REGISTRY:
        raise ApiError(400, f"Trigger.FunctionName {name!r} is not a known function")
    doc.setdefault("Validating", REGISTRY[name].signature.get("Validating", False))
    doc.setdefault("Disabled", False)
    if doc.get("WhereUnit"):
        # checked now so that a stored expression can never fail the space's unit writes later
        try:
            compile_where(doc["WhereUnit"], "Unit")
        except WhereError as exc:
            raise ApiError(400, f"Trigger.WhereUnit is invalid: {exc}") from None
