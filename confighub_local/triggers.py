"""Validating triggers: on every new revision, run the space's enabled validating Mutation
triggers; failures become ApplyGates on the unit, and apply refuses a gated unit."""

from __future__ import annotations

from confighub_local.context import ServerState
from confighub_local.db.store import Doc
from confighub_local.functions.k8s import FunctionError
from confighub_local.functions.registry import REGISTRY
from confighub_local.merge import MergeConflict, load_docs
from confighub_local.where import WhereError, compile_where


def _applies(st: ServerState, trigger: Doc, unit: Doc) -> bool:
    if trigger.get("Disabled") or trigger.get("Event") not in ("Mutation", "PostClone"):
        return False
    if trigger.get("ToolchainType") not in (None, "", unit.get("ToolchainType")):
        return False
    where = trigger.get("WhereUnit")
    if not where:
        return True
    try:
        clause = compile_where(where, "Unit")
    except WhereError:
        return False
    rows = st.store.select(
        "Unit",
        where_sql=f"e.id = ? AND ({clause.sql})",
        params=[unit["UnitID"], *clause.params],
        joins=clause.join_sql(),
    )
    return bool(rows)


def evaluate(st: ServerState, unit: Doc, data: bytes) -> dict[str, bool]:
    """ApplyGates for this data: '<trigger slug>/<function>' -> True for each failing trigger."""
    gates: dict[str, bool] = {}
    triggers = st.store.select("Trigger", space_id=unit["SpaceID"])
    for trigger in triggers:
        fn = REGISTRY.get(trigger.get("FunctionName", ""))
        if fn is None or not _applies(st, trigger, unit):
            continue
        args = [a.get("Value") for a in trigger.get("Arguments") or [] if isinstance(a, dict)]
        key = f"{trigger['Slug']}/{trigger['FunctionName']}"
        try:
            result = fn.impl(load_docs(data), args)
        except (FunctionError, MergeConflict):
            gates[key] = True
            continue
        if fn.signature.get("Validating") and not result.passed:
            gates[key] = True
    return gates
