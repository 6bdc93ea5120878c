"""A unit rollback onto a still-running previous version: blue-green's warm slot (issue #13).

A rollback that has to start pods is bound by their readiness (a JVM pod takes 20-40 s in the
TraderX readiness model). Under blue-green (prod's trade-service, docs/progressive-delivery.md)
the previous version keeps running for the rollout's warm delay, so rolling back inside that
window is the rollout's own switch-back: the Service selects the old slot again and no pod
starts. The running rollout owns the slots while it watches (when its delay ends it scales the
old slot to 0), so the rollback never writes the Service behind its back: it asks the runner to
switch back (the record's abort request, as `traderx rollout abort` does) and waits until the
record says it did. It then restores the exact revision asked for if the switched-back data
differs from it in any byte, so the head is always equal to that revision.

While any other rollout of trade-service runs, a unit rollback of it is refused: it would race
the runner.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from components.confighub.client import ConfigHubClient
from components.confighub.yamldata import DataError, documents
from components.model import rollout as r
from components.model import rollout_manifests as m
from operator_cli.output import CliError, Exit, Step
from operator_cli.rollout.hub_io import ProdHub
from operator_cli.rollout.lock import staleness

POLL_SECONDS = 0.2


@dataclass(frozen=True)
class WarmSlot:
    """The running blue-green whose previous slot (`slot`, "" for the stable Deployment) serves
    the revision a rollback asks for."""

    hub: ProdHub
    unit_id: str
    slot: str
    serving: str
    record: dict[str, Any]


def _doc(text: str, kind: str, name: str) -> dict[str, Any] | None:
    """The unit data's document of that kind and name (None: a unit of other content)."""
    try:
        return m.find([d for d in documents(text) if isinstance(d, dict)], kind, name)
    except (r.RolloutError, DataError):
        return None


def _routed(text: str) -> str:
    """The slot a `trade-service` revision's Service selects ("" for the stable track, or no
    Service at all)."""
    service = _doc(text, "Service", r.SERVICE)
    return (m.routed_slot(service) or "") if service else ""


def _replicas(text: str, name: str) -> int:
    """The replicas the named Deployment of `text` declares (0: no such Deployment)."""
    dep = _doc(text, "Deployment", name)
    return m.serving_count(dep) if dep else 0


def find(
    client: ConfigHubClient, space_id: str, env: str, unit: dict[str, Any], num: int, wanted: str
) -> WarmSlot | None:
    """The warm slot holding revision `num` of `unit` (its data: `wanted`), or None when no
    rollout concerns this rollback. Refuses (nothing written) while a rollout runs and the
    target is not its warm previous slot, or while the runner is gone (its lock is stale)."""
    if unit.get("Slug") != r.SERVICE:
        return None
    hub = ProdHub(client, "", space_id, env)
    record = hub.record()
    state = r.Rollout.model_validate(record["state"]) if record else None
    if record is None or state is None or not state.running:
        _refuse_unserved(hub, env, unit, num, wanted)
        return None
    running = f"a {state.strategy} rollout of {r.SERVICE} is running in {env} (phase {state.phase})"
    stale, why = staleness(record)
    if stale:
        raise CliError(
            Exit.REFUSED,
            f"{running}, but its runner is gone: {why}",
            "traderx rollout unlock --reason '...'   # then roll back",
        )
    if state.strategy == "blueGreen" and state.phase == r.Phase.WARM:
        routed = _routed(wanted)
        if routed == state.target:
            return WarmSlot(hub, unit["UnitID"], state.target, state.active, record)
        raise CliError(
            Exit.REFUSED,
            f"{running}: revision {num} routes to {routed or 'the stable Deployment'}, not to "
            f"the warm previous slot ({state.target or 'the stable Deployment'})",
            "roll back to the revision before the switch (--to -1), or traderx rollout abort",
        )
    raise CliError(
        Exit.REFUSED,
        f"{running}: a unit rollback would race it",
        "traderx rollout abort --reason '...'   # it rolls back itself; or wait for it",
    )


def _refuse_unserved(hub: ProdHub, env: str, unit: dict[str, Any], num: int, wanted: str) -> None:
    """Refuses a restore whose Service would select pods that do not run: a slot at 0 (or
    removed), or the stable Deployment while it is at 0 because a slot serves. Traffic would
    reach no ready pod until new ones start."""
    target = _routed(wanted)
    current = hub.client.get_unit(hub.space_id, unit["UnitID"]).text
    if target:
        name = m.slot_name(target)
        slot = hub.unit(name)
        pods = _replicas(slot.text, name) if slot else 0
        hint = "traderx rollout bluegreen --image <its image>   # starts it warm, then switches"
    elif _routed(current):
        pods, name = _replicas(current, r.SERVICE), "the stable Deployment"
        hint = "traderx rollout clean   # scales the stable up before the Service selects it"
    else:
        return
    if pods == 0:
        raise CliError(
            Exit.REFUSED,
            f"revision {num} of {env}/{r.SERVICE} routes traffic to {name}, which runs no pods "
            "now: no ready pod would serve until new ones start",
            hint,
        )


def _finished(record: dict[str, Any]) -> bool:
    """The runner saved its end state, performed that state's actions (the route back, the
    new slot to 0) and wrote "finished"."""
    history = record.get("history") or [{}]
    return bool(history[-1].get("event") == "finished")


def _moved(warm: WarmSlot, record: dict[str, Any]) -> bool:
    """Traffic is back: the runner saves `SwitchedBack` before it routes back, so the state
    alone says too little; the Service revision selecting the warm slot must be live (the
    worker applied it). The new slot's scale-down after it is the runner's, and does not
    hold up the rollback (it waits for the worker's readiness poll)."""
    if _finished(record):
        return True
    unit = warm.hub.client.get_unit(warm.hub.space_id, warm.unit_id)
    return _routed(unit.text) == warm.slot and unit.live_revision_num == unit.head_revision_num


def switch_back(warm: WarmSlot, num: int, step: Step, *, timeout: float) -> dict[str, Any]:
    """Ask the runner to switch back to the warm slot and wait until its record says it did."""
    old = warm.slot or "stable"
    reason = f"rollback unit to revision {num} (the warm previous slot, {old})"
    record = warm.record
    asked_at = time.monotonic()
    deadline = asked_at + timeout
    while True:
        if record.get("abortRequested") is None:  # a heartbeat written meanwhile drops it
            warm.hub.request_abort(record, reason)
            step.advance(f"asked the running blue-green to switch back to {old}")
        time.sleep(POLL_SECONDS)
        record = warm.hub.record() or {}
        state = r.Rollout.model_validate(record["state"])
        if not state.running and (state.phase != r.Phase.SWITCHED_BACK or _moved(warm, record)):
            break
        if time.monotonic() > deadline:
            raise CliError(
                Exit.FAILED,
                f"the blue-green of {r.SERVICE} did not switch back within {timeout:.0f} s "
                f"(phase {state.phase})",
                "traderx rollout status   # then traderx rollout abort, or unlock",
            )
    if state.phase != r.Phase.SWITCHED_BACK:
        raise CliError(
            Exit.FAILED,
            f"the blue-green of {r.SERVICE} ended {state.phase}, not switched back "
            f"({state.reason or 'its warm delay ended first'})",
            "traderx rollout status; roll back again (the previous slot is no longer warm)",
        )
    step.advance(f"traffic back on {old}; slot {warm.serving} scaled to 0")
    return {
        "warmSlot": old,
        "switchedBackSeconds": round(time.monotonic() - asked_at, 2),
    }
