"""Progressive delivery of trade-service in prod: the blue-green and canary state machines.

Pure: no clocks, no API, no cluster. The runner (operator_cli/rollout/runner.py) observes the
world (a slot became available, a check passed, pods turned unready, a pause elapsed), feeds
each observation to `advance` as an Event, and performs the Actions it gets back. Every
transition is one record revision in ConfigHub, so the audit shows the rollout.

Learned from Argo Rollouts (steps of setWeight/pause/analysis, scaleDownDelaySeconds, an
abort that leaves the rollout marked until corrected) and Flagger (abort on failed checks);
written afresh: one immutable `Rollout` value, one transition function per strategy.

Blue-green: Idle → Deploying (idle slot gets the new revision) → Validating (available; the
smoke check runs) → Warm (traffic switched; the old slot stays warm for the delay) → Done (old
slot scaled to zero). Failure while Deploying/Validating → Failed (traffic never moved, new
slot scaled to zero); health failure while Warm → SwitchedBack (traffic back, new slot to zero).

Canary: Idle → Starting (canary Deployment, weight 0) → Stepping(i) (weight steps[i], pause,
health) → … → Promoting (stable Deployment gets the new revision) → Done (canary removed).
Any failure → Aborted (weight 0, canary scaled down, then its objects removed; stable as it
was before the canary).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from components.model.manifests import TRACK_LABEL as TRACK_LABEL  # stable/canary pods

SERVICE = "trade-service"
SLOTS: tuple[str, ...] = ("blue", "green")
DEFAULT_STEPS: tuple[int, ...] = (10, 25, 50, 100)
SLOT_LABEL = "traderx.finos.org/slot"
#: Stack config `services.trade-service.delivery: bluegreen` puts this annotation on prod's
#: trade-service unit (value "bluegreen"): the stack sets the stable Deployment's replicas only
#: when it creates the unit, and blue-green scales the stable to 0 once a slot serves.
DELIVERY_ANNOTATION = "traderx/delivery"
#: On the stable Deployment while the rollout, not the stack, owns its replicas (a slot serves).
REPLICAS_OWNER = "traderx.finos.org/replicas-owner"
ROLLOUT_LABEL = "traderx.finos.org/rollout"

Strategy = Literal["blueGreen", "canary"]


class RolloutError(ValueError):
    """Bad input to a rollout: says what is allowed."""


def other_slot(slot: str) -> str:
    """The slot that is not `slot`; refuses an unknown one naming the allowed ones."""
    check_slot(slot)
    return SLOTS[1 - SLOTS.index(slot)]


def check_slot(slot: str) -> str:
    if slot not in SLOTS:
        raise RolloutError(f"unknown slot {slot!r}: allowed slots are {', '.join(SLOTS)}")
    return slot


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Check(_Frozen):
    """A pluggable check: a command (argv; exit 0 passes) or an HTTP probe (2xx passes)."""

    command: tuple[str, ...] = ()
    http: str = ""
    timeout_seconds: float = Field(default=10.0, gt=0, le=600)

    @model_validator(mode="after")
    def _one(self) -> Check:
        if self.command and self.http:
            raise RolloutError("a check is either a command or an HTTP probe, not both")
        if self.http and not self.http.startswith(("http://", "https://")):
            raise RolloutError(f"HTTP check {self.http!r} must start with http:// or https://")
        return self

    @property
    def empty(self) -> bool:
        return not self.command and not self.http


class BlueGreenConfig(_Frozen):
    """How a blue-green rollout runs (Argo's scaleDownDelaySeconds defaults to 30 s too)."""

    scale_down_delay_seconds: float = Field(default=30.0, ge=0, le=3600)
    ready_timeout_seconds: float = Field(default=120.0, gt=0, le=3600)
    health_interval_seconds: float = Field(default=1.0, gt=0, le=60)
    check: Check = Check()
    # prod's stack hands the stable Deployment's replicas to the rollout (stack config
    # `services.trade-service.delivery: bluegreen`): once a slot serves, the stable goes to 0
    scale_stable: bool = False


class CanaryConfig(_Frozen):
    """How a canary runs: the weight steps (ending at 100) and the pause per step."""

    steps: tuple[int, ...] = DEFAULT_STEPS
    pause_seconds: float = Field(default=30.0, ge=0, le=3600)
    ready_timeout_seconds: float = Field(default=120.0, gt=0, le=3600)
    health_interval_seconds: float = Field(default=1.0, gt=0, le=60)
    replicas: int = Field(default=1, ge=1, le=50)
    check: Check = Check()

    @field_validator("steps")
    @classmethod
    def _steps(cls, steps: tuple[int, ...]) -> tuple[int, ...]:
        if not steps or any(not 0 < w <= 100 for w in steps):
            raise RolloutError(f"canary steps {list(steps)}: each weight must be 1-100")
        if list(steps) != sorted(set(steps)) or steps[-1] != 100:
            raise RolloutError(
                f"canary steps {list(steps)} must rise strictly and end at 100 "
                f"(default {list(DEFAULT_STEPS)})"
            )
        return steps


def check_weight(weight: int, steps: tuple[int, ...]) -> int:
    """A canary weight must be 0 (aborted) or one of the configured steps."""
    if weight != 0 and weight not in steps:
        allowed = ", ".join(str(s) for s in (0, *steps))
        raise RolloutError(f"canary weight {weight} is not a configured step: allowed {allowed}")
    return weight


class Phase(StrEnum):
    IDLE = "Idle"
    DEPLOYING = "Deploying"
    VALIDATING = "Validating"
    WARM = "Warm"
    STARTING = "Starting"
    STEPPING = "Stepping"
    PROMOTING = "Promoting"
    DONE = "Done"
    FAILED = "Failed"
    SWITCHED_BACK = "SwitchedBack"
    ABORTED = "Aborted"
    UNLOCKED = "Unlocked"  # its runner crashed; an operator cleared the lock (rollout unlock)


TERMINAL = frozenset(
    {Phase.IDLE, Phase.DONE, Phase.FAILED, Phase.SWITCHED_BACK, Phase.ABORTED, Phase.UNLOCKED}
)


class Rollout(_Frozen):
    """The whole state of one rollout (what the record unit in ConfigHub holds)."""

    strategy: Strategy
    phase: Phase = Phase.IDLE
    revision: str = ""  # what is rolled out: an image, or "staging revision N (image)"
    active: str = ""  # blue-green: the slot receiving traffic
    target: str = ""  # blue-green: the slot getting the new revision
    step: int = -1  # canary: index into steps, -1 before the first
    weight: int = 0  # canary: the weight the canary Ingress holds
    reason: str = ""  # why it failed, switched back or aborted

    @property
    def running(self) -> bool:
        return self.phase not in TERMINAL


# ---------------------------------------------------------------------------- events


class Start(_Frozen):
    kind: Literal["start"] = "start"


class Ready(_Frozen):
    """The new revision's workload is available (slot, canary, or promoted stable)."""

    kind: Literal["ready"] = "ready"


class Passed(_Frozen):
    """Validation passed (blue-green) or a canary step held its health for its pause."""

    kind: Literal["passed"] = "passed"


class Unhealthy(_Frozen):
    """Not available in time, a check failed, pods unready or restarting, or an operator abort."""

    kind: Literal["unhealthy"] = "unhealthy"
    reason: str


class DelayElapsed(_Frozen):
    """Blue-green: the old slot was kept warm for the whole delay with the new one healthy."""

    kind: Literal["delay"] = "delay"


Event = Start | Ready | Passed | Unhealthy | DelayElapsed


# --------------------------------------------------------------------------- actions


class DeploySlot(_Frozen):
    slot: str


class ScaleSlot(_Frozen):
    slot: str
    replicas: int


class ScaleStable(_Frozen):
    """Scale the stable Deployment (in the stack's unit; only when its replicas are handed over)."""

    replicas: int


class RouteTo(_Frozen):
    """Point the trade-service Service's selector at a slot."""

    slot: str


class RunCheck(_Frozen):
    """Run the pluggable check against the new revision's pods."""


class WatchHealth(_Frozen):
    """Watch the new revision's pods for `seconds` (readiness, restarts, the check)."""

    seconds: float


class DeployCanary(_Frozen):
    pass


class SetWeight(_Frozen):
    weight: int


class AbortCanary(_Frozen):
    """Weight 0 and the canary scaled to zero, in one revision (the audit shows the abort)."""


class PromoteStable(_Frozen):
    pass


class RestoreStable(_Frozen):
    """Put the stable Deployment back to what it ran before the canary."""


class RemoveCanary(_Frozen):
    pass


Action = (
    DeploySlot
    | ScaleSlot
    | ScaleStable
    | RouteTo
    | RunCheck
    | WatchHealth
    | DeployCanary
    | SetWeight
    | AbortCanary
    | PromoteStable
    | RestoreStable
    | RemoveCanary
)


class Transition(_Frozen):
    state: Rollout
    actions: tuple[Action, ...] = ()


class IllegalTransition(RuntimeError):
    """The runner fed an event the state does not expect (a bug in the runner, not input)."""


def begin_blue_green(active: str, revision: str, target: str = "") -> Rollout:
    """A blue-green rollout of `revision` into the slot that is not `active`.

    `active` "" means no slot serves yet (the Service selects the stable Deployment): the
    first rollout goes to blue, and switching back means selecting the stable pods again.
    `target`, if given, must be the idle slot."""
    idle = other_slot(active) if active else SLOTS[0]
    if target and check_slot(target) != idle:
        raise RolloutError(
            f"slot {target!r} is the active one; a rollout goes to the idle slot, {idle!r}"
        )
    return Rollout(strategy="blueGreen", active=active, target=idle, revision=revision)


def begin_canary(revision: str) -> Rollout:
    return Rollout(strategy="canary", revision=revision)


def advance(state: Rollout, event: Event, config: BlueGreenConfig | CanaryConfig) -> Transition:
    """The next state and what to do, for one observed event."""
    if state.strategy == "blueGreen":
        assert isinstance(config, BlueGreenConfig)
        return _blue_green(state, event, config)
    assert isinstance(config, CanaryConfig)
    return _canary(state, event, config)


def _illegal(state: Rollout, event: Event) -> IllegalTransition:
    return IllegalTransition(f"{state.strategy} in {state.phase}: unexpected event {event.kind}")


def _blue_green(s: Rollout, e: Event, c: BlueGreenConfig) -> Transition:
    p = s.phase
    if p == Phase.IDLE and isinstance(e, Start):
        return Transition(
            state=s.model_copy(update={"phase": Phase.DEPLOYING}),
            actions=(DeploySlot(slot=s.target),),
        )
    if p == Phase.DEPLOYING and isinstance(e, Ready):
        return Transition(
            state=s.model_copy(update={"phase": Phase.VALIDATING}), actions=(RunCheck(),)
        )
    if p in (Phase.DEPLOYING, Phase.VALIDATING) and isinstance(e, Unhealthy):
        # traffic never left the active slot: only take the new one down again
        return Transition(
            state=s.model_copy(update={"phase": Phase.FAILED, "reason": e.reason}),
            actions=(ScaleSlot(slot=s.target, replicas=0),),
        )
    if p == Phase.VALIDATING and isinstance(e, Passed):
        previous = s.active
        return Transition(
            state=s.model_copy(
                update={"phase": Phase.WARM, "active": s.target, "target": previous}
            ),
            actions=(RouteTo(slot=s.target), WatchHealth(seconds=c.scale_down_delay_seconds)),
        )
    # In Warm, `active` is the new slot and `target` the old one, kept warm.
    if p == Phase.WARM and isinstance(e, DelayElapsed):
        # the old one goes to 0; the stable Deployment (no slot) only if the stack handed its
        # replicas to the rollout, else it keeps what the stack declares (and gets no traffic)
        down: tuple[Action, ...] = ()
        if s.target:
            down = (ScaleSlot(slot=s.target, replicas=0),)
        elif c.scale_stable:
            down = (ScaleStable(replicas=0),)
        return Transition(state=s.model_copy(update={"phase": Phase.DONE}), actions=down)
    if p == Phase.WARM and isinstance(e, Unhealthy):
        failed = s.active
        return Transition(
            state=s.model_copy(
                update={
                    "phase": Phase.SWITCHED_BACK,
                    "active": s.target,
                    "target": failed,
                    "reason": e.reason,
                }
            ),
            actions=(RouteTo(slot=s.target), ScaleSlot(slot=failed, replicas=0)),
        )
    raise _illegal(s, e)


def _canary(s: Rollout, e: Event, c: CanaryConfig) -> Transition:
    p = s.phase
    if p == Phase.IDLE and isinstance(e, Start):
        return Transition(
            state=s.model_copy(update={"phase": Phase.STARTING}), actions=(DeployCanary(),)
        )
    if p == Phase.STARTING and isinstance(e, Ready):
        return _to_step(s, 0, c)
    if p == Phase.STEPPING and isinstance(e, Passed):
        if s.step + 1 < len(c.steps):
            return _to_step(s, s.step + 1, c)
        return Transition(
            state=s.model_copy(update={"phase": Phase.PROMOTING}), actions=(PromoteStable(),)
        )
    if p == Phase.PROMOTING and isinstance(e, Ready):
        return Transition(
            state=s.model_copy(update={"phase": Phase.DONE, "weight": 0}),
            actions=(RemoveCanary(),),
        )
    if p in (Phase.STARTING, Phase.STEPPING, Phase.PROMOTING) and isinstance(e, Unhealthy):
        restore: tuple[Action, ...] = (RestoreStable(),) if p == Phase.PROMOTING else ()
        return Transition(
            state=s.model_copy(update={"phase": Phase.ABORTED, "weight": 0, "reason": e.reason}),
            actions=(AbortCanary(), *restore, RemoveCanary()),
        )
    raise _illegal(s, e)


def _to_step(s: Rollout, index: int, c: CanaryConfig) -> Transition:
    weight = c.steps[index]
    return Transition(
        state=s.model_copy(update={"phase": Phase.STEPPING, "step": index, "weight": weight}),
        actions=(SetWeight(weight=weight), WatchHealth(seconds=c.pause_seconds), RunCheck()),
    )
