"""Validating triggers: on every new revision, run the space's enabled validating Mutation
triggers; failures become ApplyGates on the unit, and apply refuses a gated unit.

Unit data is parsed with the bounded YAML loader, so a trigger walks bounded data. Anything that
keeps a trigger from deciding (data it cannot read, a WhereUnit stored before write-time checks
existed, an error inside the function, the write's time budget used up) gates the unit: the
write succeeds, apply is refused until the data is fixed, and no write fails because of a
trigger.
"""

from __future__ import annotations

import logging
import time

from confighub_local.context import ServerState
from confighub_local.db.store import Doc
from confighub_local.functions.registry import REGISTRY
from confighub_local.merge import MergeConflict, load_docs
from confighub_local.where import WhereError, compile_where

log = logging.getLogger("confighub_local")

TIME_BUDGET_S = 2.0  # all triggers of one write; triggers not reached in time gate the unit


def _applies(st: ServerState, trigger: Doc, unit: Doc) -> bool | None:
    """Whether the trigger selects this unit; None when its WhereUnit cannot be evaluated."""
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
        return None
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
    deadline = time.monotonic() + TIME_BUDGET_S
    for trigger in triggers:
        fn = REGISTRY.get(trigger.get("FunctionName", ""))
        if fn is None:
            continue
        key = f"{trigger['Slug']}/{trigger['FunctionName']}"
        if time.monotonic() > deadline:
            gates[key] = True  # not evaluated within the budget: refuse apply, not the write
            continue
        applies = _applies(st, trigger, unit)
        if applies is None:
            gates[key] = True
            continue
        if not applies:
            continue
        args = [a.get("Value") for a in trigger.get("Arguments") or [] if isinstance(a, dict)]
        try:
            result = fn.impl(load_docs(data), args)
        except MergeConflict:
            gates[key] = True
            continue
        except Exception:  # a function failing on odd data gates the unit; it never fails the write
            log.warning("trigger %s failed on unit %s", key, unit.get("Slug"), exc_info=True)
            gates[key] = True
            continue
        if fn.signature.get("Validating") and not result.passed:
            gates[key] = True
    return gates
