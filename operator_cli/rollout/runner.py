"""Drives one rollout: feeds what it observes to the pure state machine
(components/model/rollout.py) and performs the actions it answers, through ConfigHub (every
change a revision applied by the worker) and read-only looks at the cluster.

Each transition is saved in the record unit with a wall-clock timestamp (the audit, and the
figures the benchmark reads: switch, switch-back and abort times).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from components.model import rollout as r
from components.model import rollout_manifests as m
from components.model import rollout_rules as rollout_policy
from operator_cli.output import CliError, Exit
from operator_cli.rollout.health import Cluster, run_check
from operator_cli.rollout.hub_io import ApplyFailed, Docs, ProdHub, now
from operator_cli.rollout.lock import HEARTBEAT_SECONDS, identity, lock_fields

Config = r.BlueGreenConfig | r.CanaryConfig
STABLE_APPLY_TIMEOUT = 300.0


@dataclass
class Plan:
    """What the operator asked for, validated before anything changes."""

    config: Config
    revision: str  # human description: "staging revision 7 (image ...)" or the image
    source: dict[str, Any] | None  # the promoted revision's Deployment (its pod template)
    image: str = ""
    state: r.Rollout = field(default_factory=lambda: r.begin_canary(""))


class Runner:
    def __init__(
        self,
        hub: ProdHub,
        cluster: Cluster,
        plan: Plan,
        *,
        notify: Callable[[str], None] = lambda _m: None,
    ) -> None:
        self.hub = hub
        self.cluster = cluster
        self.plan = plan
        self.config = plan.config
        self.notify = notify
        self.history: list[dict[str, Any]] = []
        self.stable_docs = hub.docs(r.SERVICE)
        self.stable = m.find(self.stable_docs, "Deployment", r.SERVICE)
        self.service = m.find(self.stable_docs, "Service", r.SERVICE)
        self.new = m.new_revision(self.stable, plan.source, plan.image)
        self.rollout_target = ""
        self.canary: Docs = []
        self.started = now()
        self.holder = identity()
        self.beat = 0.0  # monotonic time of the last record write (the heartbeat)

    # ------------------------------------------------------------------ loop

    def run(self) -> dict[str, Any]:
        self.rollout_target = self.hub.rollout_target(self.config.ready_timeout_seconds)
        state = self.plan.state
        t = r.advance(state, r.Start(), self.config)
        while True:
            self._save(t.state, "")
            event: r.Event | None = None
            for action in t.actions:
                outcome = self._perform(action, t.state)
                if outcome is not None:
                    event = outcome
                    if isinstance(outcome, r.Unhealthy):
                        self.notify(f"unhealthy: {outcome.reason}")
                        self._mark("failure detected", outcome.reason)
                        break
            if not t.state.running:
                self._save(t.state, "finished")
                return {
                    "state": t.state.model_dump(mode="json"),
                    "history": self.history,
                    "ok": t.state.phase == r.Phase.DONE,
                }
            if event is None:  # pragma: no cover - every running state's actions answer
                raise RuntimeError(f"no event after {t.actions}")
            t = r.advance(t.state, event, self.config)

    def _mark(self, what: str, detail: str = "") -> None:
        self.history.append({"at": time.time(), "event": what, "detail": detail})

    def _save(self, state: r.Rollout, note: str) -> None:
        entry = {
            "at": time.time(),
            "event": note or f"phase {state.phase}",
            "phase": str(state.phase),
            "active": state.active,
            "weight": state.weight,
            "reason": state.reason,
        }
        self.history.append(entry)
        self.notify(f"{state.strategy}: {state.phase} {self._where(state)}")
        self._write(state, f"{entry['event']}, {self._where(state)}")

    def _write(self, state: r.Rollout, what: str) -> None:
        """One record revision: the state, the history and the lock's heartbeat."""
        extra = {
            "startedAt": self.started,
            "revision": self.plan.revision,
            "updatedAt": now(),
            **lock_fields(self.config.ready_timeout_seconds, self.holder),
        }
        who = f"{self.holder['user']}@{self.holder['host']}"
        self.hub.save(
            state, self.history, extra, description=f"rollout {state.strategy}: {what} ({who})"
        )
        self.beat = time.monotonic()

    @staticmethod
    def _where(s: r.Rollout) -> str:
        if s.strategy == "canary":
            return f"weight {s.weight}"
        return f"active {s.active or 'stable'}, target {s.target or 'stable'}"

    # --------------------------------------------------------------- actions

    def _perform(self, action: r.Action, state: r.Rollout) -> r.Event | None:
        c = self.config
        match action:
            case r.DeploySlot(slot=slot):
                replicas = self._serving_replicas(state.active)
                dep = m.slot_deployment(self.new, slot, replicas)
                return self._apply_ready(m.slot_name(slot), [dep], slot_selector(slot))
            case r.ScaleSlot(slot=slot, replicas=n):
                found = self.hub.unit(m.slot_name(slot))
                if found is not None:
                    docs = self.hub.docs(m.slot_name(slot))
                    dep = m.scaled(m.find(docs, "Deployment", m.slot_name(slot)), n)
                    self._apply(m.slot_name(slot), [dep], self.rollout_target)
                    self._mark(f"slot {slot} scaled to {n}")
                return None
            case r.ScaleStable(replicas=n):
                docs = self.hub.docs(r.SERVICE)
                docs = [m.stable_scaled(d, n) if is_stable(d) else d for d in docs]
                self._apply(r.SERVICE, docs, None)
                self._mark(f"stable scaled to {n}")
                return None
            case r.RouteTo(slot=slot):
                self._route(slot)
                return None
            case r.RunCheck():
                return self._check(state)
            case r.WatchHealth(seconds=seconds):
                return self._watch(state, seconds)
            case r.DeployCanary():
                assert isinstance(c, r.CanaryConfig)
                failed = self._track_stable()
                if failed is not None:
                    return failed
                api = m.find(self.hub.docs("ingress"), "Ingress", m.API_INGRESS)
                self.canary = m.canary_docs(
                    self.new, self.service, api, replicas=c.replicas, weight=0
                )
                return self._apply_ready(m.CANARY, self.canary, canary_selector())
            case r.SetWeight(weight=w):
                self.canary = m.with_weight(self.canary, w)
                return self._apply_or_unhealthy(m.CANARY, self.canary, self.rollout_target)
            case r.AbortCanary():
                if self.canary:
                    self.canary = m.with_weight(self.canary, 0, replicas=0)
                    self._apply(m.CANARY, self.canary, self.rollout_target)
                self._mark("canary at weight 0, scaled to 0")
                return None
            case r.PromoteStable():
                docs = [self.new if is_stable(d) else d for d in self.stable_docs]
                return self._apply_or_unhealthy(
                    r.SERVICE, docs, None, timeout=c.ready_timeout_seconds
                ) or self._ready_now(stable_selector(), "stable")
            case r.RestoreStable():
                self._apply(r.SERVICE, self.stable_docs, None)
                self._mark("stable restored")
                return None
            case r.RemoveCanary():
                self.hub.remove(m.CANARY, STABLE_APPLY_TIMEOUT)
                self._mark("canary removed")
                return None
        raise AssertionError(f"unhandled action {action}")  # pragma: no cover

    def _apply(
        self, slug: str, docs: Docs, target: str | None, timeout: float = STABLE_APPLY_TIMEOUT
    ) -> None:
        refused = rollout_policy.problems(docs, self._steps())
        if refused:  # the prod gate's rollout rules, on every revision before it is written
            raise CliError(Exit.REFUSED, f"prod gate refuses {slug}: " + "; ".join(refused))
        unit = self.hub.write(slug, docs, target_id=target)
        self.hub.apply(unit, timeout)

    def _steps(self) -> tuple[int, ...]:
        return self.config.steps if isinstance(self.config, r.CanaryConfig) else r.DEFAULT_STEPS

    def _apply_or_unhealthy(
        self, slug: str, docs: Docs, target: str | None, timeout: float = STABLE_APPLY_TIMEOUT
    ) -> r.Unhealthy | None:
        try:
            self._apply(slug, docs, target, timeout)
        except ApplyFailed as exc:
            return r.Unhealthy(reason=str(exc))
        return None

    def _apply_ready(self, slug: str, docs: Docs, selector: dict[str, str]) -> r.Event:
        # the worker reports the apply Completed only once the Deployment is available
        failed = self._apply_or_unhealthy(
            slug, docs, self.rollout_target, timeout=self.config.ready_timeout_seconds + 30
        )
        return failed or self._ready_now(selector, slug)

    def _ready_now(self, selector: dict[str, str], what: str) -> r.Event:
        h = self.cluster.health(selector)
        if h.problems or h.ready == 0:
            return r.Unhealthy(reason=f"{what}: " + ("; ".join(h.problems) or "no pods"))
        return r.Ready()

    def _serving_replicas(self, active: str) -> int:
        """What the serving workload runs: the active slot, else the stable Deployment (a new
        slot takes over that count; the stable may be at 0 while a slot serves)."""
        if active and self.hub.unit(m.slot_name(active)) is not None:
            docs = self.hub.docs(m.slot_name(active))
            count = m.serving_count(m.find(docs, "Deployment", m.slot_name(active)))
            if count > 0:
                return count
        return max(1, m.serving_count(self.stable))

    def _track_stable(self) -> r.Unhealthy | None:
        """Before a canary: the stable pods and Service carry the stable track (data promoted
        before the label existed gets it in one revision), so the Service never reaches the
        canary's pods and its weight is exact."""
        docs = m.tracked(self.stable_docs)
        if docs is None:
            return None
        failed = self._apply_or_unhealthy(r.SERVICE, docs, None)
        if failed is None:
            self.stable_docs = docs
            self.stable = m.find(docs, "Deployment", r.SERVICE)
            self.service = m.find(docs, "Service", r.SERVICE)
            self.new = m.new_revision(self.stable, self.plan.source, self.plan.image)
            self._mark("stable pods and Service given the stable track")
        return failed

    def _route(self, slot: str) -> None:
        docs = self.hub.docs(r.SERVICE)
        stable = m.find(docs, "Deployment", r.SERVICE)
        docs = [m.routed(d, slot or None, stable) if _is_service(d) else d for d in docs]
        self._apply(r.SERVICE, docs, None)
        self._mark(f"traffic on {slot or 'stable'}")

    def _selector(self, state: r.Rollout) -> dict[str, str]:
        if state.strategy == "canary":
            return stable_selector() if state.phase == r.Phase.PROMOTING else canary_selector()
        slot = state.active if state.phase == r.Phase.WARM else state.target
        return slot_selector(slot)

    def _check(self, state: r.Rollout) -> r.Event:
        selector = self._selector(state)
        h = self.cluster.health(selector)
        if h.problems or h.ready == 0:
            return r.Unhealthy(reason="; ".join(h.problems) or "no ready pods")
        env = {
            "TRADERX_NAMESPACE": self.cluster.namespace,
            "TRADERX_SELECTOR": ",".join(f"{k}={v}" for k, v in sorted(selector.items())),
            "TRADERX_SLOT": state.target if state.strategy == "blueGreen" else "canary",
            "TRADERX_WEIGHT": str(state.weight),
            "TRADERX_REVISION": self.plan.revision,
        }
        failed = run_check(self.config.check, env)
        return r.Unhealthy(reason=failed) if failed else r.Passed()

    def _watch(self, state: r.Rollout, seconds: float) -> r.Event:
        """Poll the new revision's pods (and the record, for an operator's abort)."""
        selector = self._selector(state)
        deadline = time.monotonic() + seconds
        while True:
            h = self.cluster.health(selector)
            if h.problems:
                return r.Unhealthy(reason="; ".join(h.problems))
            record = self.hub.record() or {}
            if record.get("abortRequested"):
                return r.Unhealthy(reason=f"aborted by operator: {record['abortRequested']}")
            if time.monotonic() - self.beat >= HEARTBEAT_SECONDS:
                self._write(state, "heartbeat")  # the lock's holder is alive
            left = deadline - time.monotonic()
            if left <= 0:
                return r.DelayElapsed()
            time.sleep(min(self.config.health_interval_seconds, left))


def slot_selector(slot: str) -> dict[str, str]:
    if not slot:
        return stable_selector()
    return {"app.kubernetes.io/name": r.SERVICE, r.SLOT_LABEL: slot}


def canary_selector() -> dict[str, str]:
    return {"app.kubernetes.io/name": r.SERVICE, r.TRACK_LABEL: "canary"}


def stable_selector() -> dict[str, str]:
    """The stable Deployment's pods: trade-service pods of no slot and not the canary's
    (`!key`: without the label; a value `!=v`: the label is not v, or absent)."""
    return {"app.kubernetes.io/name": r.SERVICE, "!" + r.SLOT_LABEL: "", r.TRACK_LABEL: "!=canary"}


def is_stable(doc: dict[str, Any]) -> bool:
    return doc.get("kind") == "Deployment" and doc["metadata"]["name"] == r.SERVICE


def _is_service(doc: dict[str, Any]) -> bool:
    return doc.get("kind") == "Service" and doc["metadata"]["name"] == r.SERVICE
