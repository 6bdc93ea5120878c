"""`traderx rollout bluegreen|canary|status|abort|unlock|clean`: progressive delivery of
trade-service in prod.

Everything the operator gives is checked before anything changes (exit 4, saying what is
allowed): the slot, the canary steps, the check command; a second rollout while one runs is
refused (exit 3). A rollout that ran and rolled back exits 1 with its record; success exits 0.
"""

import time
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from components.confighub.client import TARGET
from components.model import rollout as r
from components.model import rollout_manifests as m
from operator_cli import hub
from operator_cli.app import JsonOpt, PrefixOpt, TokenOpt, UrlOpt, command
from operator_cli.output import CliError, Exit, Output, table
from operator_cli.rollout.health import Cluster, check_problem
from operator_cli.rollout.hub_io import RECORD, ROLLOUT_TARGET, ProdHub, now
from operator_cli.rollout.lock import identity, staleness
from operator_cli.rollout.runner import Plan, Runner, is_stable

rollout_app: typer.Typer = typer.Typer(
    no_args_is_help=True, help="Blue-green and canary delivery of trade-service in prod."
)

StagingOpt = Annotated[
    int | None,
    typer.Option("--staging-revision", help="staging's trade-service revision to roll out"),
]
ImageOpt = Annotated[str, typer.Option("--image", help="image to roll out (tag or digest)")]
CheckCmdOpt = Annotated[
    str, typer.Option("--check-command", help="smoke/analysis command (exit 0 passes)")
]
CheckHttpOpt = Annotated[str, typer.Option("--check-http", help="HTTP probe URL (2xx passes)")]
ReadyOpt = Annotated[
    float, typer.Option("--ready-timeout", help="seconds the new pods have to become available")
]
IntervalOpt = Annotated[float, typer.Option("--interval", help="health poll interval, seconds")]
KubeOpt = Annotated[
    str | None, typer.Option("--kubeconfig", envvar="KUBECONFIG", help="cluster's kubeconfig")
]
ContextOpt = Annotated[str | None, typer.Option("--context", help="context in the kubeconfig")]
EnvOpt = Annotated[str, typer.Option("--env", help="environment space (prod)")]


def _prefix(prefix: str | None) -> str:
    if not prefix:
        raise CliError(
            Exit.USAGE,
            "which project? give --prefix (the dev stack's traderx:prefix)",
            "pulumi stack output prefix -s dev",
        )
    return prefix


def _check(command_text: str, http: str) -> r.Check:
    try:
        check = r.Check(command=tuple(command_text.split()) if command_text else (), http=http)
    except (ValidationError, r.RolloutError) as exc:
        raise CliError(Exit.BAD_INPUT, _reason(exc)) from exc
    problem = check_problem(check)
    if problem:
        raise CliError(Exit.BAD_INPUT, problem)
    return check


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(str(e.get("msg", "")).removeprefix("Value error, ") for e in exc.errors())
    return str(exc)


def _refuse_running(prod: ProdHub) -> None:
    record = prod.record()
    if record and r.Rollout.model_validate(record["state"]).running:
        state = record["state"]
        raise CliError(
            Exit.REFUSED,
            f"a {state['strategy']} rollout of trade-service is running ({state['phase']}, "
            f"{record.get('revision')}, started {record.get('startedAt')}); only one rollout "
            "runs at a time, nothing was changed",
            "traderx rollout abort --prefix <p>   # or, if its runner crashed: "
            "traderx rollout unlock --prefix <p> --reason ...",
        )


def _source(prod: ProdHub, staging_revision: int | None, image: str) -> tuple[Any, str, str]:
    """The promoted revision's Deployment (or None), the image, and a description."""
    if staging_revision is None and not image:
        raise CliError(
            Exit.USAGE,
            "what to roll out? give --staging-revision N (promoted from staging) or --image",
        )
    source = None
    if staging_revision is not None:
        docs = prod.revision_docs("staging", r.SERVICE, staging_revision)
        source = m.find(docs, "Deployment", r.SERVICE)
    rolled = image or m.image_of(source) if source is not None else image
    if not m.pinned(rolled):
        raise CliError(
            Exit.BAD_INPUT,
            f"image {rolled!r} is not pinned: prod's slots and canary run a tag other than "
            "`latest` or a digest",
            "pin it in dev and promote (docs/program.md, Pinning images), or pass --image",
        )
    what = f"staging revision {staging_revision} ({rolled})" if source is not None else rolled
    return source, image, what


def _open(prefix: str | None, env: str, url: str | None, token: str | None) -> ProdHub:
    return ProdHub.open(hub.connect(url, token), _prefix(prefix), env)


def _cluster(prod: ProdHub, kubeconfig: str | None, context: str | None) -> Cluster:
    stable = m.find(prod.docs(r.SERVICE), "Deployment", r.SERVICE)
    try:
        return Cluster(kubeconfig, context, str(stable["metadata"]["namespace"]))
    except r.RolloutError as exc:
        raise CliError(Exit.BAD_INPUT, str(exc)) from exc


def _run(
    out: Output,
    prod: ProdHub,
    config: r.BlueGreenConfig | r.CanaryConfig,
    state: r.Rollout,
    staging_revision: int | None,
    image: str,
    kubeconfig: str | None,
    context: str | None,
) -> None:
    """What both strategies share once their own checks passed: the revision to roll out,
    the cluster, the run, the result."""
    source, img, what = _source(prod, staging_revision, image)
    cluster = _cluster(prod, kubeconfig, context)
    plan = Plan(config, what, source, img, state.model_copy(update={"revision": what}))
    _finish(out, Runner(prod, cluster, plan, notify=out.info).run())


def _hands_over_stable(prod: ProdHub) -> bool:
    """Whether prod's stack handed the stable Deployment's replicas to the rollout."""
    annotations = prod.need(r.SERVICE).annotations or {}
    return annotations.get(r.DELIVERY_ANNOTATION) == "bluegreen"


def _finish(out: Output, result: dict[str, Any]) -> None:
    s = result["state"]
    rows = [[h.get("phase", ""), h["event"], h.get("weight", ""), h.get("detail", "")]
            for h in result["history"]]  # fmt: skip
    out.result(result, table(f"rollout {s['phase']}", ["phase", "event", "weight", "detail"], rows))
    if not result["ok"]:
        out.info(f"[bold red]rolled back:[/] {s['reason']}")
        raise typer.Exit(int(Exit.FAILED))


@rollout_app.command("bluegreen")
@command
def bluegreen(
    prefix: PrefixOpt = None,
    staging_revision: StagingOpt = None,
    image: ImageOpt = "",
    slot: Annotated[str, typer.Option("--slot", help="the idle slot (checked)")] = "",
    delay: Annotated[float, typer.Option("--delay", help="seconds the old slot stays warm")] = 30.0,
    ready_timeout: ReadyOpt = 120.0,
    interval: IntervalOpt = 1.0,
    check_command: CheckCmdOpt = "",
    check_http: CheckHttpOpt = "",
    kubeconfig: KubeOpt = None,
    context: ContextOpt = None,
    env: EnvOpt = "prod",
    url: UrlOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
    *,
    out: Output,
) -> None:
    """Roll a new revision into the idle slot, validate it, switch the Service to it, keep the
    old slot warm for --delay, then scale it to zero; switch back on any failure."""
    if slot:
        try:
            r.check_slot(slot)
        except r.RolloutError as exc:
            raise CliError(Exit.BAD_INPUT, str(exc)) from exc
    check = _check(check_command, check_http)
    try:
        config = r.BlueGreenConfig(
            scale_down_delay_seconds=delay,
            ready_timeout_seconds=ready_timeout,
            health_interval_seconds=interval,
            check=check,
        )
    except ValidationError as exc:
        raise CliError(Exit.BAD_INPUT, _reason(exc)) from exc
    prod = _open(prefix, env, url, token)
    _refuse_running(prod)
    config = config.model_copy(update={"scale_stable": _hands_over_stable(prod)})
    if not config.scale_stable:
        out.info(
            "the stack declares the stable Deployment's replicas: it keeps running (without "
            "traffic) while a slot serves; hand them over with stack config "
            "services.trade-service.delivery: bluegreen (docs/progressive-delivery.md)"
        )
    service = m.find(prod.docs(r.SERVICE), "Service", r.SERVICE)
    try:
        state = r.begin_blue_green(m.routed_slot(service) or "", "", target=slot)
    except r.RolloutError as exc:
        raise CliError(Exit.BAD_INPUT, str(exc)) from exc
    _run(out, prod, config, state, staging_revision, image, kubeconfig, context)


@rollout_app.command("canary")
@command
def canary(
    prefix: PrefixOpt = None,
    staging_revision: StagingOpt = None,
    image: ImageOpt = "",
    steps: Annotated[
        str, typer.Option("--steps", help="weights, a subset of the configured 10,25,50,100")
    ] = ",".join(str(s) for s in r.DEFAULT_STEPS),
    pause: Annotated[float, typer.Option("--pause", help="seconds each step holds")] = 30.0,
    replicas: Annotated[int, typer.Option("--replicas", help="canary pods")] = 1,
    ready_timeout: ReadyOpt = 120.0,
    interval: IntervalOpt = 1.0,
    check_command: CheckCmdOpt = "",
    check_http: CheckHttpOpt = "",
    kubeconfig: KubeOpt = None,
    context: ContextOpt = None,
    env: EnvOpt = "prod",
    url: UrlOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
    *,
    out: Output,
) -> None:
    """Canary Deployment + weighted canary Ingress stepping through --steps; each step holds
    for --pause while the canary pods stay ready, never restart and the check passes; at 100
    the stable Deployment takes the revision and the canary goes; any failure aborts to 0."""
    try:
        weights = tuple(int(w) for w in steps.split(",") if w.strip())
        for w in weights:
            r.check_weight(w, r.DEFAULT_STEPS)
        config = r.CanaryConfig(
            steps=weights,
            pause_seconds=pause,
            replicas=replicas,
            ready_timeout_seconds=ready_timeout,
            health_interval_seconds=interval,
            check=_check(check_command, check_http),
        )
    except ValueError as exc:  # RolloutError, ValidationError, int()
        raise CliError(Exit.BAD_INPUT, _reason(exc)) from exc
    prod = _open(prefix, env, url, token)
    _refuse_running(prod)
    active = m.routed_slot(m.find(prod.docs(r.SERVICE), "Service", r.SERVICE))
    if active:
        raise CliError(
            Exit.REFUSED,
            f"trade-service serves from blue-green slot {active!r}: a canary steps traffic from "
            "the stable Deployment, which gets none now; nothing was changed",
            "roll out with: traderx rollout bluegreen --prefix <p> ...",
        )
    _run(out, prod, config, r.begin_canary(""), staging_revision, image, kubeconfig, context)


@rollout_app.command("status")
@command
def status(
    prefix: PrefixOpt = None,
    env: EnvOpt = "prod",
    url: UrlOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
    *,
    out: Output,
) -> None:
    """The last rollout's record (ConfigHub unit trade-service-rollout) and the active slot."""
    prod = _open(prefix, env, url, token)
    record = prod.record() or {}
    service = m.find(prod.docs(r.SERVICE), "Service", r.SERVICE)
    result: dict[str, Any] = {"record": record, "activeSlot": m.routed_slot(service) or ""}
    state = record.get("state") or {}
    lock = ""
    if state and r.Rollout.model_validate(state).running:
        stale, why = staleness(record)
        result["lock"] = {"stale": stale, "holder": why}
        lock = f"; lock {'STALE (traderx rollout unlock)' if stale else 'held'}: {why}"
    out.result(
        result,
        f"active slot: {result['activeSlot'] or 'none (stable)'}; last rollout: "
        f"{state.get('strategy', '-')} {state.get('phase', '-')} {record.get('revision', '')}"
        + lock,
    )


@rollout_app.command("abort")
@command
def abort(
    prefix: PrefixOpt = None,
    reason: Annotated[str, typer.Option("--reason", help="why (kept in the record)")] = "manual",
    env: EnvOpt = "prod",
    url: UrlOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
    *,
    out: Output,
) -> None:
    """Ask the running rollout to roll back now (it polls its record while it watches)."""
    prod = _open(prefix, env, url, token)
    record = prod.record()
    if not record or not r.Rollout.model_validate(record["state"]).running:
        raise CliError(Exit.REFUSED, "no rollout of trade-service is running; nothing to abort")
    out.result({"abortRequested": prod.request_abort(record, reason)}, "abort requested")


@rollout_app.command("unlock")
@command
def unlock(
    prefix: PrefixOpt = None,
    reason: Annotated[str, typer.Option("--reason", help="why (kept in the record)")] = "",
    force: Annotated[
        bool, typer.Option("--force", help="clear it even though its holder looks alive")
    ] = False,
    env: EnvOpt = "prod",
    url: UrlOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
    *,
    out: Output,
) -> None:
    """Clear the lock a crashed rollout left (its record still says running): one revision of
    the record saying who cleared it, when and why. Refused while the holder is alive (its
    process runs on this host, or its heartbeat is recent) unless --force. Nothing in the
    cluster changes: `traderx rollout status` and `clean` deal with what it left."""
    if not reason.strip():
        raise CliError(Exit.USAGE, "why? give --reason (kept in the record, for the audit)")
    prod = _open(prefix, env, url, token)
    record = prod.record()
    if not record or not r.Rollout.model_validate(record["state"]).running:
        raise CliError(Exit.REFUSED, "no rollout of trade-service holds the lock; nothing to do")
    stale, why = staleness(record)
    if not stale and not force:
        raise CliError(
            Exit.REFUSED,
            f"the lock is not stale: {why}; clearing it would let a second rollout run beside "
            "this one, nothing was changed",
            "traderx rollout abort --prefix <p>   # asks it to roll back; or unlock --force",
        )
    state = r.Rollout.model_validate(record["state"])
    me = identity()
    cleared = {
        "by": f"{me['user']}@{me['host']}",
        "at": now(),
        "reason": reason,
        "forced": not stale,
        "holder": why,
        "phase": str(state.phase),
    }
    history = [*(record.get("history") or []),
               {"at": time.time(), "event": "lock cleared", "phase": str(r.Phase.UNLOCKED),
                "detail": f"{reason} (by {cleared['by']}; {why})"}]  # fmt: skip
    extra = {k: v for k, v in record.items() if k not in ("state", "history")}
    extra["lockCleared"] = cleared
    done = state.model_copy(update={"phase": r.Phase.UNLOCKED, "reason": f"lock cleared: {reason}"})
    prod.save(
        done,
        history,
        extra,
        description=f"rollout lock cleared by {cleared['by']}"
        + (" (forced)" if cleared["forced"] else "")
        + f": {reason}; was {state.phase}",
    )
    left = [s for s in (*(m.slot_name(x) for x in r.SLOTS), m.CANARY) if prod.unit(s)]
    out.result(
        {"lockCleared": cleared, "leftUnits": left},
        f"lock cleared ({'forced; ' if cleared['forced'] else ''}{why}); rollout units left: "
        + (", ".join(left) or "none")
        + ("; the canary still takes traffic: traderx rollout clean" if m.CANARY in left else ""),
    )


@rollout_app.command("clean")
@command
def clean(
    prefix: PrefixOpt = None,
    env: EnvOpt = "prod",
    url: UrlOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
    *,
    out: Output,
) -> None:
    """Back to plain prod: the Service selects the stable Deployment again, then the slot and
    canary units (and their objects), the record and the rollout Target go. Run it before
    `pulumi destroy -s prod` (the stack does not own these units)."""
    prod = _open(prefix, env, url, token)
    _refuse_running(prod)
    docs = prod.docs(r.SERVICE)
    service = m.find(docs, "Service", r.SERVICE)
    stable = m.find(docs, "Deployment", r.SERVICE)
    slot = m.routed_slot(service)
    who = identity()
    by = f"{who['user']}@{who['host']}"
    if slot and m.serving_count(stable) == 0:
        # the stable was handed to the rollout and scaled to 0: it serves again first, with
        # the count the slot serves with (the apply completes once it is available)
        count = _slot_replicas(prod, slot) or 1
        stable = m.stable_scaled(stable, count)
        docs = [stable if is_stable(d) else d for d in docs]
        prod.apply(
            prod.write(r.SERVICE, docs, description=f"rollout clean: stable to {count} ({by})"),
            300.0,
        )
    if slot:
        routed = [m.routed(d, None, stable) if d is service else d for d in docs]
        prod.apply(
            prod.write(r.SERVICE, routed, description=f"rollout clean: traffic on stable ({by})"),
            300.0,
        )
    removed = [
        slug
        for slug in (*(m.slot_name(s) for s in r.SLOTS), m.CANARY, RECORD)
        if prod.remove(slug, 300.0)
    ]
    target = prod.client.find_by_slug(TARGET, prod.space_id, ROLLOUT_TARGET)
    if target is not None:
        prod.client.delete(TARGET, prod.space_id, target.id)
        removed.append(f"target {ROLLOUT_TARGET}")
    out.result({"removed": removed}, "removed: " + (", ".join(removed) or "nothing"))


def _slot_replicas(prod: ProdHub, slot: str) -> int:
    if prod.unit(m.slot_name(slot)) is None:
        return 0
    dep = m.find(prod.docs(m.slot_name(slot)), "Deployment", m.slot_name(slot))
    return m.serving_count(dep)
