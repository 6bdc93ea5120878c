"""`traderx`: the operator CLI (Typer commands; the work lives in the modules they call).

Connection like `cub` and the providers: `--url`/`CONFIGHUB_URL`, `--token`/`CONFIGHUB_TOKEN`.
Every command takes `--json` (one JSON document on stdout; progress and messages on stderr) and
exits with the codes documented in `operator_cli.output`.
"""

import functools
import json
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from components.confighub.client import SPACE
from components.confighub.errors import ConfigHubError
from operator_cli import deploy, dr, hub, stacks
from operator_cli.backup import database, snapshot
from operator_cli.backup import restore as restoring
from operator_cli.cost import model as cost_model
from operator_cli.cost import units as cost_units
from operator_cli.drift import detect as drift_detect
from operator_cli.drift import record as drift_record
from operator_cli.drift import rules as drift_rules
from operator_cli.output import CliError, Exit, Output, table

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Operate TraderX on ConfigHub: releases, rollback, audit, rollouts, drift, DR, cost.",
)
backup_app = typer.Typer(no_args_is_help=True, help="Back up a project's ConfigHub spaces.")
dr_app = typer.Typer(no_args_is_help=True, help="The design's disaster-recovery runbook.")
app.add_typer(backup_app, name="backup")
app.add_typer(dr_app, name="dr")

F = TypeVar("F", bound=Callable[..., Any])

UrlOpt = Annotated[
    str | None, typer.Option("--url", envvar="CONFIGHUB_URL", help="ConfigHub server root")
]
TokenOpt = Annotated[
    str | None,
    typer.Option("--token", envvar="CONFIGHUB_TOKEN", help="bearer token", show_default=False),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="machine-readable output on stdout")]
PrefixOpt = Annotated[str | None, typer.Option("--prefix", help="the dev stack's traderx:prefix")]
ProjectOpt = Annotated[
    str | None, typer.Option("--project", help="project label (<prefix>-traderx)")
]


def command(fn: F) -> F:
    """Run a command body, turning every anticipated failure into its message and exit code."""

    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        out = Output(bool(kwargs.get("as_json")))
        kwargs["out"] = out
        try:
            return fn(*args, **kwargs)
        except CliError as exc:
            out.failure(exc)
            raise typer.Exit(int(exc.code)) from None
        except ConfigHubError as exc:
            error = hub.api_failure(exc, fn.__name__.replace("_", " "))
            out.failure(error)
            raise typer.Exit(int(error.code)) from None

    # Typer reads the signature: hide the injected `out` parameter.
    import inspect

    sig = inspect.signature(fn)
    run.__signature__ = sig.replace(  # type: ignore[attr-defined]
        parameters=[p for p in sig.parameters.values() if p.name != "out"]
    )
    return run  # type: ignore[return-value]


# ---------------------------------------------------------------------------------- backup

DbKubeconfigOpt = Annotated[
    str | None,
    typer.Option("--kubeconfig", envvar="KUBECONFIG", help="kubeconfig of the environments"),
]
DbContextOpt = Annotated[str | None, typer.Option("--context", help="context in the kubeconfig")]


@backup_app.command("create")
@command
def backup_create(
    dest: Annotated[Path, typer.Argument(help="directory to write (must not exist)")],
    prefix: PrefixOpt = None,
    project: ProjectOpt = None,
    force: Annotated[bool, typer.Option(help="replace an existing backup directory")] = False,
    with_database: Annotated[
        bool,
        typer.Option(
            "--database", help="also each environment's database data directory (kubectl exec)"
        ),
    ] = False,
    kubeconfig: DbKubeconfigOpt = None,
    context: DbContextOpt = None,
    url: UrlOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
    *,
    out: Output,
) -> None:
    """Back up every space of the project: units with their full revision history, tags,
    change sets, filters, links, targets, workers, triggers; SHA-256 checksums and a manifest.
    With --database, also each deployed environment's H2 data directory (tar through exec)."""
    name = hub.project_name(prefix, project)
    client = hub.connect(url, token)
    kube = database.api(kubeconfig, context) if with_database else None
    with out.progress(f"backup {name}") as step:
        manifest = snapshot.create_backup(client, name, dest, step, force=force, kube=kube)
    counts = manifest["counts"]
    out.info(f"backup of {name} written to {dest}")
    out.result(
        {"path": str(dest), **{k: manifest[k] for k in ("project", "spaces", "counts")}},
        table(f"backup {dest}", ["what", "count"], [[k, v] for k, v in sorted(counts.items())]),
    )


@backup_app.command("verify")
@command
def backup_verify(
    path: Annotated[Path, typer.Argument(help="backup directory")],
    as_json: JsonOpt = False,
    *,
    out: Output,
) -> None:
    """Check a backup without a server: manifest, format version, every file's checksum, and
    every unit's revision history."""
    loaded = restoring.load(path)
    m = loaded.manifest
    out.result(
        {"ok": True, "project": m.project, "createdAt": m.created_at, "counts": m.counts},
        f"backup {path} is intact: project {m.project}, taken {m.created_at}, "
        f"{len(m.files)} files, {m.counts.get('unit', 0)} units, "
        f"{m.counts.get('revision', 0)} revisions",
    )


# ---------------------------------------------------------------------------------- restore


def _restore_table(report: dict[str, Any]) -> Any:
    kinds = sorted(set(report["created"]) | set(report["kept"]))
    rows = [[k, report["created"].get(k, 0), report["kept"].get(k, 0)] for k in kinds]
    return table("restored", ["what", "created", "kept (already there)"], rows)


@app.command("restore")
@command
def restore(
    path: Annotated[Path, typer.Argument(help="backup directory")],
    space: Annotated[
        list[str] | None,
        typer.Option(help="restore only this space (slug or suffix: dev); repeatable"),
    ] = None,
    force: Annotated[
        bool, typer.Option(help="the server holds some spaces already: keep them, add the rest")
    ] = False,
    url: UrlOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
    *,
    out: Output,
) -> None:
    """Restore a backup into ConfigHub with new IDs (history, tags, change sets re-created).
    Then redeploy the normal way: `pulumi up --refresh -s <stack>` (or `traderx dr rebuild`)."""
    # a bad backup is refused before connecting, let alone writing
    report = dr.run_restore(restoring.load(path), space, force, url, token, out)
    for warning in report["warnings"]:
        out.info(f"[yellow]warning:[/] {warning}")
    out.result(report, _restore_table(report))
    out.info("next: pulumi up --refresh -s <stack> for each restored environment, in order")


# ---------------------------------------------------------------------------------- cost


@app.command("cost")
@command
def cost(
    prefix: PrefixOpt = None,
    project: ProjectOpt = None,
    environment: Annotated[
        list[str] | None, typer.Option("--env", help="only this environment; repeatable")
    ] = None,
    prices: Annotated[
        Path | None, typer.Option(help="price file (YAML/JSON, see docs/operations.md)")
    ] = None,
    url: UrlOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
    *,
    out: Output,
) -> None:
    """Monthly cost per environment and unit (requested CPU and memory x replicas, from the
    units' data in ConfigHub) and rule-based recommendations."""
    try:
        price_list = cost_model.load_prices(prices)
    except ValueError as exc:
        raise CliError(
            Exit.BAD_INPUT,
            f"price file refused: {exc}",
            "fix the file (keys: docs/operations.md#cost), or omit --prices for the defaults",
        ) from exc
    name = hub.project_name(prefix, project)
    client = hub.connect(url, token)
    envs = tuple(environment or cost_units.ENVIRONMENTS)
    unknown = [e for e in envs if e not in cost_units.ENVIRONMENTS]
    if unknown:
        raise CliError(
            Exit.USAGE,
            f"unknown environment(s) {unknown}",
            f"use --env with one of {list(cost_units.ENVIRONMENTS)}",
        )
    units = cost_units.read_units(client, name, envs)
    if not units:
        raise CliError(
            Exit.NOT_FOUND,
            f"project {name!r} has no units in {list(envs)}",
            "deploy first (pulumi up -s dev), or check --prefix/--project and --url",
        )
    try:
        result = cost_model.report(
            units, price_list, cost_model.catalog_defaults(), datetime.now(UTC)
        )
    except ValueError as exc:
        raise CliError(
            Exit.BAD_INPUT,
            f"a unit's data cannot be costed: {exc}",
            "fix the unit's resources in the stack config and run pulumi up",
        ) from exc
    cur = result.currency
    rows = [
        [
            u.environment,
            u.unit,
            f"{u.cpu.normalize():f}",
            f"{round(u.memory_gib, 2)}",
            f"{u.monthly:.2f}",
        ]
        for u in result.units
    ]
    rows += [[env, "(total)", "", "", f"{v:.2f}"] for env, v in result.environments.items()]
    rows.append(["all", "(total)", "", "", f"{result.total:.2f}"])
    render = table(f"monthly cost ({cur})", ["env", "unit", "cpu", "memory GiB", f"{cur} $"], rows)
    out.result(result.as_json(), render)
    if not out.as_json:
        recs = [
            [r.rule, r.environment, r.unit, r.detail, f"{r.monthly_saving:.2f}"]
            for r in result.recommendations
        ]
        if recs:
            out.out.print(
                table("recommendations", ["rule", "env", "unit", "detail", f"saving {cur} $"], recs)
            )


# ---------------------------------------------------------------------------------- DR runbook

EnvArg = Annotated[str, typer.Argument(help="environment: dev, staging, prod or prod-eu")]
StackOpt = Annotated[
    str | None, typer.Option("--stack", help="Pulumi stack (default: the environment's name)")
]
ProjectDirOpt = Annotated[
    Path, typer.Option("--project-dir", help="directory holding Pulumi.yaml and the stack files")
]
TimeoutOpt = Annotated[float, typer.Option(help="per-unit apply + availability wait, seconds")]

# ---------------------------------------------------------------------------------- stacks

stacks_app = typer.Typer(no_args_is_help=True, help="The project's Pulumi stacks.")
app.add_typer(stacks_app, name="stacks")


@stacks_app.command("init")
@command
def stacks_init(
    envs: Annotated[
        list[str], typer.Argument(metavar="ENV...", help="stacks to create or select: dev ...")
    ],
    project_dir: ProjectDirOpt = Path("."),
    as_json: JsonOpt = False,
    *,
    out: Output,
) -> None:
    """Create each stack that does not exist yet, sharing the project's passphrase salt (one
    key derivation per `up`, StackReference included); select the ones that exist. Uses the
    backend and passphrase of the environment (source toolchain/env.sh)."""
    done = [stacks.init_stack(project_dir, env) for env in envs]
    rows = [[d.stack, "created" if d.created else "selected", d.salt_from] for d in done]
    out.result(
        [d.model_dump(by_alias=True) for d in done],
        table("stacks", ["stack", "action", "salt shared with"], rows),
    )


@dr_app.command("apply-all")
@command
def dr_apply_all(
    env: EnvArg,
    prefix: PrefixOpt = None,
    project: ProjectOpt = None,
    timeout: TimeoutOpt = 300.0,
    url: UrlOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
    *,
    out: Output,
) -> None:
    """Apply every unit of the environment in start order, tier by tier, each gated on its
    workloads being available (the design's bin/apply-all)."""
    space = f"{hub.project_name(prefix, project)}-{dr.check_env(env)}"
    client = hub.connect(url, token)
    with out.progress(f"apply {env}") as step:
        report = deploy.apply_all(client, space, step, timeout=timeout)
    out.result(
        report,
        f"applied {len(report['applied'])} units of {report['space']}"
        + (f"; skipped (no target): {report['skipped']}" if report["skipped"] else ""),
    )


@dr_app.command("rebuild")
@command
def dr_rebuild(
    envs: Annotated[
        list[str],
        typer.Argument(
            metavar="ENV...", help="environments: dev, staging, prod, prod-eu (one or several)"
        ),
    ],
    backup: Annotated[Path, typer.Option("--backup", help="backup directory")],
    prefix: PrefixOpt = None,
    project: ProjectOpt = None,
    stack: StackOpt = None,
    project_dir: ProjectDirOpt = Path("."),
    force: Annotated[bool, typer.Option(help="keep spaces that still exist")] = False,
    with_database: Annotated[
        bool,
        typer.Option(
            "--database/--no-database",
            help="restore the database's data directory too, when the backup holds it",
        ),
    ] = True,
    kubeconfig: DbKubeconfigOpt = None,
    context: DbContextOpt = None,
    url: UrlOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
    *,
    out: Output,
) -> None:
    """Rebuild environments from a backup: restore their spaces (dev: base, filters and dev),
    then `pulumi up --refresh` of their stacks, which adopts the restored objects and applies
    the units in start order; then each database's data directory, when the backup holds it.
    Several environments deploy side by side (see operator_cli/dr.py)."""
    run = dr.Rebuild(
        backup, envs, project_dir=project_dir, stack=stack, force=force,
        with_database=with_database, kubeconfig=kubeconfig, context=context, url=url,
        token=token, out=out,
    )  # fmt: skip
    run.check_project(hub.project_name(prefix, project) if prefix or project else None)
    result = run.run()
    changes = "; ".join(f"{env} {up['changes']}" for env, up in result["up"].items())
    out.result(
        result,
        f"{', '.join(run.envs)} rebuilt from {backup} in {result['seconds']['total']}s "
        f"(restore {result['seconds']['restore']}s); {changes}",
    )


@dr_app.command("restore-database")
@command
def dr_restore_database(
    env: EnvArg,
    backup: Annotated[Path, typer.Option("--backup", help="backup directory")],
    kubeconfig: DbKubeconfigOpt = None,
    context: DbContextOpt = None,
    url: UrlOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
    *,
    out: Output,
) -> None:
    """Restore the environment's database data directory from a backup (`tar -xf` through
    exec), then restart the database pod so H2 opens the restored files."""
    dr.check_env(env)
    loaded = restoring.load(backup)
    space = f"{loaded.manifest.project}-{env}"
    result = dr.restore_database(loaded, space, kubeconfig, context, url, token, out)
    out.result(result, f"database of {space} restored into {result['namespace']}/{result['pod']}")


@dr_app.command("switch-cluster")
@command
def dr_switch_cluster(
    env: EnvArg,
    kubeconfig: Annotated[Path, typer.Option(help="kubeconfig of the cluster to switch to")],
    context: Annotated[str | None, typer.Option(help="context in that kubeconfig")] = None,
    prefix: PrefixOpt = None,
    project: ProjectOpt = None,
    stack: StackOpt = None,
    project_dir: ProjectDirOpt = Path("."),
    apply: Annotated[
        bool, typer.Option(help="afterwards apply every unit to the new cluster, in order")
    ] = True,
    timeout: TimeoutOpt = 300.0,
    url: UrlOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
    *,
    out: Output,
) -> None:
    """Move an environment to another cluster: set traderx:kubeconfig/kubeContext in the stack,
    `pulumi up` (platform objects and the Target follow), then apply every unit there."""
    dr.check_env(env)
    stacks.check_kubeconfig(kubeconfig, context)
    name = hub.project_name(prefix, project)
    client = hub.connect(url, token) if apply else None
    selected = stacks.select(stack or env, project_dir)
    previous = stacks.set_cluster(selected, kubeconfig, context)
    out.info(
        f"stack {selected.name}: traderx:kubeconfig={kubeconfig} "
        f"traderx:kubeContext={context or '(current-context)'} (was {previous or 'unset'})"
    )
    with out.progress(f"pulumi up -s {selected.name}") as step:
        up = stacks.up(selected, step, refresh=False)
    applied: dict[str, Any] = {}
    if client is not None:
        with out.progress(f"apply {env} on the new cluster") as step:
            applied = deploy.apply_all(client, f"{name}-{env}", step, timeout=timeout)
    out.result(
        {"environment": env, "previous": previous, "up": up, "apply": applied},
        f"{env} now runs on {kubeconfig} ({context or 'current-context'})",
    )


# ---------------------------------------------------------------------------------- drift

drift_app = typer.Typer(no_args_is_help=True, help="Drift between the cluster and ConfigHub.")
app.add_typer(drift_app, name="drift")
KubeconfigOpt = Annotated[
    str | None, typer.Option("--kubeconfig", envvar="KUBECONFIG", help="cluster's kubeconfig")
]
ContextOpt = Annotated[str | None, typer.Option("--context", help="context in the kubeconfig")]
RulesOpt = Annotated[
    Path | None, typer.Option("--rules", help="rule file (default operator_cli/drift/rules.yaml)")
]
AuditOpt = Annotated[
    Path, typer.Option("--audit", help="JSON-lines file every correction is appended to")
]
DEFAULT_AUDIT = Path(".state/drift-audit.jsonl")
RecordOpt = Annotated[
    bool,
    typer.Option(
        help="record the result on the environment's Space (stack output, audit timeline)"
    ),
]


def _drift_round(
    env: str,
    prefix: str | None,
    project: str | None,
    kubeconfig: str | None,
    context: str | None,
    rules_file: Path | None,
    audit: Path,
    fix: bool,
    url: str | None,
    token: str | None,
    record: bool = True,
) -> dict[str, Any]:
    try:
        rule_set = drift_rules.load_rules(rules_file)
    except ValueError as exc:
        raise CliError(
            Exit.BAD_INPUT,
            f"drift rule file refused: {exc}",
            "fix the file (fields: docs/operations.md#drift)",
        ) from exc
    space = f"{hub.project_name(prefix, project)}-{dr.check_env(env)}"
    client = hub.connect(url, token)
    cluster = drift_detect.Cluster(kubeconfig, context)
    started = time.monotonic()
    findings, units = drift_detect.detect(client, cluster, space, env, rule_set)
    if fix:
        drift_detect.correct(client, findings, units, rule_set, env, audit)
    report: dict[str, Any] = {
        "environment": env,
        "at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "seconds": round(time.monotonic() - started, 2),
        "drift": [f.model_dump(mode="json") for f in findings],
    }
    if record:
        _record(client, space, report)
    return report


def _record(client: Any, space: str, report: dict[str, Any]) -> None:
    """Keep the round's result on the Space: the stack output and `traderx audit` read it."""
    found = client.find_by_slug(SPACE, None, space)
    if found is not None:
        last = drift_record.write(client, found.id, report, drift_detect.actor())
        report["recorded"] = {k: v for k, v in last.items() if k != "events"}


def _drift_table(report: dict[str, Any]) -> Any:
    rows = [
        [
            d["unit"],
            d["object"],
            d["path"],
            str(d["live"]),
            str(d["desired"]),
            f"{d['writer']['manager']} {d['writer']['time']}",
            d["risk"],
            d["rule"],
            d["action"],
        ]
        for d in report["drift"]
    ]
    return table(
        f"drift in {report['environment']} ({report['at']})",
        ["unit", "object", "path", "live", "ConfigHub", "written by", "risk", "rule", "detail"],
        rows,
    )


def _uncorrected(report: dict[str, Any]) -> int:
    return sum(1 for d in report["drift"] if not str(d["action"]).startswith("corrected"))


@drift_app.command("check")
@command
def drift_check(
    env: EnvArg,
    prefix: PrefixOpt = None,
    project: ProjectOpt = None,
    kubeconfig: KubeconfigOpt = None,
    context: ContextOpt = None,
    rules: RulesOpt = None,
    audit: AuditOpt = DEFAULT_AUDIT,
    correct: Annotated[
        bool, typer.Option(help="correct low-risk drift where the rules allow it")
    ] = True,
    stack: Annotated[
        str | None, typer.Option(help="also check Pulumi-owned objects: pulumi refresh preview")
    ] = None,
    project_dir: ProjectDirOpt = Path("."),
    record: RecordOpt = True,
    url: UrlOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
    *,
    out: Output,
) -> None:
    """Compare the cluster with ConfigHub (each unit's live revision), attribute every drifted
    field to its writer, classify it, correct low risk, report high risk. Exit 7 when drift
    remains."""
    report = _drift_round(
        env, prefix, project, kubeconfig, context, rules, audit, correct, url, token, False
    )
    if stack:
        report["pulumi"] = stacks.refresh_drift(stacks.select(stack, project_dir))
    if record:
        space = f"{hub.project_name(prefix, project)}-{dr.check_env(env)}"
        _record(hub.connect(url, token), space, report)
    out.result(report, _drift_table(report))
    if stack and not out.as_json and report["pulumi"]:
        out.out.print(
            table(
                "Pulumi-owned objects that differ (pulumi refresh)",
                ["op", "type", "name"],
                [[c["op"], c["type"], c["name"]] for c in report["pulumi"]],
            )
        )
    if _uncorrected(report) or report.get("pulumi"):
        raise typer.Exit(int(Exit.DRIFT))


@drift_app.command("watch")
@command
def drift_watch(
    env: EnvArg,
    interval: Annotated[float, typer.Option(help="seconds between checks")] = 10.0,
    rounds: Annotated[int, typer.Option(help="stop after this many checks (0: forever)")] = 0,
    prefix: PrefixOpt = None,
    project: ProjectOpt = None,
    kubeconfig: KubeconfigOpt = None,
    context: ContextOpt = None,
    rules: RulesOpt = None,
    audit: AuditOpt = DEFAULT_AUDIT,
    record: RecordOpt = True,
    url: UrlOpt = None,
    token: TokenOpt = None,
    as_json: JsonOpt = False,
    *,
    out: Output,
) -> None:
    """Check and correct every --interval seconds; one line (or JSON line) per drifted field."""
    done = 0
    while rounds == 0 or done < rounds:
        report = _drift_round(
            env, prefix, project, kubeconfig, context, rules, audit, True, url, token, record
        )
        done += 1
        if out.as_json:
            sys.stdout.write(json.dumps(report, sort_keys=True, default=str) + "\n")
            sys.stdout.flush()
        else:
            for d in report["drift"]:
                out.out.print(
                    f"{report['at']} {d['risk']:4} {d['unit']} {d['path']}: "
                    f"{d['live']} (by {d['writer']['manager']}) -> {d['desired']}: "
                    f"{d['action']}",
                    highlight=False,
                )
        if rounds == 0 or done < rounds:
            time.sleep(interval)


def _register_releases() -> None:
    """Release, rollback and audit commands (issue #13) live in operator_cli/releases.py."""
    from operator_cli import releases

    app.add_typer(releases.release_app, name="release")
    app.add_typer(releases.rollback_app, name="rollback")
    app.add_typer(releases.audit_app, name="audit")


_register_releases()


def main() -> None:
    app()


# ---------------------------------------------------------------------------------- rollout
# Registered last: the rollout commands use `command` and the options defined above.
import operator_cli.rollout.commands as rollout_commands  # noqa: E402

app.add_typer(rollout_commands.rollout_app, name="rollout")
