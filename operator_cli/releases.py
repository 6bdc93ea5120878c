"""`traderx release|rollback|audit` (issue #13): list releases, roll an environment back to one
(or one unit to a revision), and show the audit timeline. Registered on the root app in app.py.
"""

import time
from datetime import UTC
from pathlib import Path
from typing import Annotated, Any

import typer
from pulumi import automation as auto

from components.confighub.releases import list_releases
from operator_cli import audit as auditing
from operator_cli import hub, stacks
from operator_cli import rollback as rb
from operator_cli.app import JsonOpt, PrefixOpt, TokenOpt, UrlOpt, command
from operator_cli.output import CliError, Exit, Output, table

release_app = typer.Typer(no_args_is_help=True, help="Releases: every promotion into an env.")
rollback_app = typer.Typer(no_args_is_help=True, help="Roll an environment or a unit back.")
audit_app = typer.Typer(no_args_is_help=True, help="Audit timeline of a unit or environment.")

StackOpt = Annotated[str | None, typer.Option("--stack", help="Pulumi stack (default: ENV)")]
DirOpt = Annotated[Path, typer.Option("--project-dir", help="the Pulumi project directory")]
EnvArg = Annotated[str, typer.Argument(help="environment: staging, prod or prod-eu")]
HistoryDirOpt = Annotated[
    Path | None,
    typer.Option("--project-dir", help="Pulumi project directory: join the stack's updates"),
]
TimeoutOpt = Annotated[float, typer.Option("--timeout", help="per-unit apply wait, seconds")]
SurgeOpt = Annotated[
    bool,
    typer.Option(
        "--surge/--no-surge",
        help="start all new replicas at once (an extra revision, then the exact restore)",
    ),
]


def _prefix(prefix: str | None) -> str:
    if not prefix:
        raise CliError(
            Exit.USAGE,
            "which project? give --prefix (the dev stack's traderx:prefix)",
            "pulumi stack output prefix -s dev   # then: traderx ... --prefix <that>",
        )
    return prefix


def updates_of(stack_name: str, project_dir: Path | None) -> list[auditing.Update]:
    """The stack's Pulumi updates (empty without --project-dir or when the stack is not there)."""
    if project_dir is None or not (project_dir / "Pulumi.yaml").is_file():
        return []
    try:
        stack = auto.select_stack(stack_name=stack_name, work_dir=str(project_dir))
        history = stack.history()
    except (auto.StackNotFoundError, auto.CommandError, OSError):
        return []
    out = []
    # history is newest first; a file backend may leave `version` unset: number by position
    for i, h in enumerate(history):
        start = h.start_time if h.start_time.tzinfo else h.start_time.replace(tzinfo=UTC)
        end = h.end_time
        if end is not None and end.tzinfo is None:
            end = end.replace(tzinfo=UTC)
        number = int(h.version or len(history) - i)
        out.append(auditing.Update(stack_name, number, h.kind, h.result, start, end))
    return out


# ------------------------------------------------------------------------------- release


@release_app.command("list")
@command
def release_list(
    env: EnvArg,
    prefix: PrefixOpt = None,
    stack: StackOpt = None,
    project_dir: HistoryDirOpt = None,
    url: UrlOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
    *,
    out: Output,
) -> None:
    """The environment's releases, oldest first: name, when, who, units and revisions, and the
    Pulumi update that made it."""
    client = hub.connect(url, token)
    environment = rb.environment(client, _prefix(prefix), env)
    updates = updates_of(stack or env, project_dir)
    rows, data = [], []
    for r in list_releases(client, environment.space_id):
        upd = auditing.update_at(updates, r.created_at)
        item = {**r.as_json(), "pulumiUpdate": upd.version if upd else None}
        data.append(item)
        promoted = ", ".join(f"{c}@{r.units.get(c, '?')}" for c in r.promoted)
        rows.append(
            [r.name, r.created_at, r.who, r.kind, r.source, promoted, upd.version if upd else ""]
        )
    out.result(
        {"environment": env, "releases": data},
        table(
            f"releases of {env}",
            ["release", "when", "who", "kind", "source", "units@revision", "pulumi update"],
            rows,
        ),
    )


# ------------------------------------------------------------------------------- rollback


@rollback_app.command("env")
@command
def rollback_env(
    env: EnvArg,
    to: Annotated[str, typer.Option("--to", help="the release to go back to")],
    prefix: PrefixOpt = None,
    stack: StackOpt = None,
    project_dir: DirOpt = Path("."),
    description: Annotated[str, typer.Option(help="description of the rollback release")] = "",
    timeout: TimeoutOpt = 300.0,
    surge: SurgeOpt = True,
    url: UrlOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
    *,
    out: Output,
) -> None:
    """Roll every unit of ENV back to release TO: restore (new head revisions), apply in start
    order (health-gated), then write the release's pins into the stack and `pulumi up`, so
    the next `up` changes nothing. With --surge (default) a Deployment whose pods change rolls
    all replicas at once (its data with maxSurge 100%, applied in start order), then the exact
    tagged revision is restored and applied (the strategy only)."""
    started = time.monotonic()
    client = hub.connect(url, token)
    environment = rb.environment(client, _prefix(prefix), env)
    release = rb.release_named(client, environment, to)
    plans = rb.plan_environment(client, environment, release)  # refuses before any write
    pulumi_stack = stacks.select(stack or env, project_dir)
    restored: dict[str, dict[str, int]] = {}
    surged: dict[str, list[str]] = {}
    with out.progress(f"rollback {env} to {to}", len(plans) * 2) as step:

        def restore(plan: rb.UnitPlan) -> None:
            """Restore one unit to its tagged revision (a new head) and record it."""
            unit = rb.safe_restore(client, environment, plan)
            head = int(unit.get("HeadRevisionNum") or 0)
            restored[plan.slug] = {"from": plan.head, "to": plan.target, "head": head}
            step.advance(f"restored {plan.slug}")

        for plan in plans:
            unit = environment.unit(plan.slug)
            names = rb.write_surge(client, environment, unit, plan.target) if surge else []
            if names:
                surged[plan.slug] = names
                step.advance(f"wrote {plan.slug}'s revision {plan.target} surging")
                continue
            restore(plan)
        fresh = rb.environment(client, _prefix(prefix), env)
        applied = rb.apply_in_order(client, fresh, [p.slug for p in plans], step, timeout=timeout)
        if surged:  # the exact tagged revisions: only the strategy changes, no pod
            step.total(len(plans) * 2 + len(surged) * 2)
            for plan in (p for p in plans if p.slug in surged):
                restore(plan)
            fresh = rb.environment(client, _prefix(prefix), env)
            rb.apply_in_order(client, fresh, list(surged), step, timeout=timeout)
    phase_restore = time.monotonic() - started
    config = pulumi_stack.get_all_config()
    for key in list(config):
        if key.startswith(("traderx:promote", "traderx:services", "traderx:release")):
            pulumi_stack.remove_config(key)
    wanted = rb.config_for(release)
    wanted["traderx:release.source"] = release.name
    wanted["traderx:release.description"] = description or f"rollback of {env} to {release.name}"
    pulumi_stack.set_all_config({k: auto.ConfigValue(v) for k, v in wanted.items()}, path=True)
    with out.progress(f"pulumi up {pulumi_stack.name}") as step:
        summary = stacks.up(pulumi_stack, step, refresh=False)
    for key in ("traderx:release.source", "traderx:release.description"):
        pulumi_stack.remove_config(key, path=True)
    outputs = pulumi_stack.outputs()
    recorded = outputs.get("release")
    seconds = {
        "restoreAndApply": round(phase_restore, 1),
        "total": round(time.monotonic() - started, 1),
    }
    report: dict[str, Any] = {
        "environment": env,
        "release": release.name,
        "restored": restored,
        "surged": surged,
        "applied": applied,
        "up": summary,
        "recordedAs": recorded.value if recorded else None,
        "seconds": seconds,
    }
    out.result(
        report,
        table(
            f"{env} rolled back to {release.name} ({seconds['total']} s)",
            ["unit", "head before", "restored revision", "new head"],
            [[s, r["from"], r["to"], r["head"]] for s, r in sorted(restored.items())],
        ),
    )


@rollback_app.command("unit")
@command
def rollback_unit(
    env: EnvArg,
    unit: Annotated[str, typer.Argument(help="unit slug, e.g. trade-service")],
    to: Annotated[str, typer.Option("--to", help="-1, a revision number, or a release name")],
    prefix: PrefixOpt = None,
    timeout: TimeoutOpt = 300.0,
    surge: SurgeOpt = True,
    url: UrlOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
    *,
    out: Output,
) -> None:
    """Roll one unit back (a new head equal to that revision), apply it and wait until it is
    available. Only ConfigHub content moves: the stack's declared fields are not touched.
    With --surge (default) a Deployment whose pods change first rolls all replicas at once
    (its data with maxSurge 100%, applied), then the exact revision is restored and applied."""
    started = time.monotonic()
    client = hub.connect(url, token)
    environment = rb.environment(client, _prefix(prefix), env)
    with out.progress(f"rollback {env}/{unit} to {to}") as step:
        report: dict[str, Any] = rb.rollback_unit(
            client, environment, unit, to, step, timeout=timeout, surge=surge
        )
    report["seconds"] = round(time.monotonic() - started, 2)
    out.result(
        report,
        f"{env}/{unit}: restored revision {report['restoredRevision']} as head "
        f"{report['head']} (live {report['live']}) in {report['seconds']} s",
    )


# ------------------------------------------------------------------------------- audit

_COLUMNS = ["when", "unit", "event", "rev", "who", "detail", "pulumi update"]


@audit_app.command("unit")
@command
def audit_unit(
    env: EnvArg,
    unit: Annotated[str, typer.Argument(help="unit slug")],
    prefix: PrefixOpt = None,
    stack: StackOpt = None,
    project_dir: HistoryDirOpt = None,
    url: UrlOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
    *,
    out: Output,
) -> None:
    """Timeline of one unit: revisions (who, when, what changed, function/merge/restore),
    releases, applies and their outcome, and the Pulumi update behind each change."""
    client = hub.connect(url, token)
    environment = rb.environment(client, _prefix(prefix), env)
    events = auditing.unit_timeline(
        client, environment, environment.unit(unit), updates_of(stack or env, project_dir)
    )
    out.result(
        {"environment": env, "unit": unit, "events": events},
        table(f"audit {env}/{unit}", _COLUMNS, [auditing.render_row(e) for e in events]),
    )


@audit_app.command("env")
@command
def audit_env(
    env: EnvArg,
    prefix: PrefixOpt = None,
    stack: StackOpt = None,
    project_dir: HistoryDirOpt = None,
    url: UrlOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
    *,
    out: Output,
) -> None:
    """Timeline of every unit of the environment and its releases."""
    client = hub.connect(url, token)
    environment = rb.environment(client, _prefix(prefix), env)
    events = auditing.environment_timeline(
        client, environment, updates_of(stack or env, project_dir)
    )
    out.result(
        {"environment": env, "events": events},
        table(f"audit {env}", _COLUMNS, [auditing.render_row(e) for e in events]),
    )
