"""The Pulumi side of the CLI (Automation API): select a stack, change its config, run `up`.

Actions that are declarative go through the stack (config, then `up`), so Pulumi and ConfigHub
agree afterwards and the next `up` changes nothing. Uses the `pulumi` CLI on PATH and the
backend/passphrase from the environment (`source toolchain/env.sh`), like `pulumi` itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pulumi import automation as auto

from operator_cli.output import CliError, Exit, Step


def select(stack: str, project_dir: Path) -> auto.Stack:
    if not (project_dir / "Pulumi.yaml").is_file():
        raise CliError(
            Exit.NOT_FOUND,
            f"{project_dir} is not a Pulumi project (no Pulumi.yaml)",
            "pass --project-dir with the checkout (or demo copy) that holds the stacks",
        )
    try:
        return auto.select_stack(stack_name=stack, work_dir=str(project_dir))
    except auto.StackNotFoundError as exc:
        raise CliError(
            Exit.NOT_FOUND,
            f"stack {stack!r} does not exist in the backend of {project_dir}",
            "pulumi stack ls   # check PULUMI_BACKEND_URL (source toolchain/env.sh)",
        ) from exc
    except auto.CommandError as exc:
        raise CliError(Exit.FAILED, f"selecting stack {stack!r} failed: {_tail(exc)}") from exc


def _tail(exc: auto.CommandError, lines: int = 15) -> str:
    """The engine's error diagnostics (the lines that say why), else the output's last lines."""
    text = [line.rstrip() for line in str(exc).strip().splitlines()]
    errors = [line for line in text if "error" in line.lower() and line.strip()]
    picked = list(dict.fromkeys(errors))[:lines] or text[-lines:]
    return "\n".join(picked)


def check_kubeconfig(path: Path, context: str | None) -> None:
    """The kubeconfig exists and has the context (if given); refuse before changing anything."""
    if not path.is_file():
        raise CliError(
            Exit.BAD_INPUT,
            f"kubeconfig {path} does not exist",
            "pass --kubeconfig with the new cluster's kubeconfig file",
        )
    try:
        config = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise CliError(Exit.BAD_INPUT, f"kubeconfig {path} is not readable YAML ({exc})") from exc
    contexts = [c.get("name") for c in config.get("contexts") or [] if isinstance(c, dict)]
    if context and context not in contexts:
        raise CliError(
            Exit.BAD_INPUT,
            f"kubeconfig {path} has no context {context!r} (it has {contexts})",
            f"kubectl --kubeconfig {path} config get-contexts",
        )
    if not context and not config.get("current-context"):
        raise CliError(
            Exit.BAD_INPUT,
            f"kubeconfig {path} has no current-context",
            "pass --context with one of " + ", ".join(map(str, contexts)),
        )


def set_cluster(stack: auto.Stack, kubeconfig: Path, context: str | None) -> dict[str, Any]:
    """Point the stack at another cluster (stack config); returns the previous values."""
    before = stack.get_all_config()
    previous = {
        k: before[k].value for k in ("traderx:kubeconfig", "traderx:kubeContext") if k in before
    }
    stack.set_config("traderx:kubeconfig", auto.ConfigValue(str(kubeconfig.resolve())))
    if context:
        stack.set_config("traderx:kubeContext", auto.ConfigValue(context))
    elif "traderx:kubeContext" in before:
        stack.remove_config("traderx:kubeContext")
    return previous


def up(stack: auto.Stack, step: Step, *, refresh: bool) -> dict[str, Any]:
    """`pulumi up --yes [--refresh]`, one progress tick per resource; summary of changes."""

    def on_event(event: auto.events.EngineEvent) -> None:
        done = event.res_outputs_event
        if done is not None and done.metadata is not None:
            step.advance(done.metadata.urn.rsplit("::", 1)[-1])

    try:
        result = stack.up(refresh=refresh, on_event=on_event, color="never")
    except auto.CommandError as exc:
        raise CliError(
            Exit.FAILED,
            f"pulumi up of {stack.name} failed:\n{_tail(exc)}",
            f"pulumi up -s {stack.name}   # to see the full output; fix, then run again",
        ) from exc
    changes = result.summary.resource_changes or {}
    return {"stack": stack.name, "result": result.summary.result, "changes": dict(changes)}


def refresh_change(meta: auto.events.StepEventMetadata) -> str | None:
    """What one step of `pulumi refresh --preview-only` says about a resource: `deleted` (the
    refresh would drop it from the state: gone from the cluster), `changed` (its live properties
    differ), or None (not drift: unchanged, the stack, or a component resource, which has nothing
    live of its own - the engine lists every resource with op `refresh`)."""
    state = meta.new or meta.old
    if meta.type == "pulumi:pulumi:Stack" or (state is not None and state.custom is False):
        return None
    op = meta.op.value
    if op == "delete":  # how newer engines show a resource the refresh would delete
        return "deleted"
    if op != "refresh":
        return None  # same, read: nothing to say
    if meta.new is None or not meta.new.id:
        return "deleted"
    return "changed" if meta.diffs else None


def refresh_drift(stack: auto.Stack) -> list[dict[str, Any]]:
    """Pulumi-owned objects that differ from the stack (`pulumi refresh --preview-only`): gone
    (`deleted`) or changed (`changed`, with the properties that differ)."""
    changed: dict[str, dict[str, Any]] = {}

    def on_event(event: auto.events.EngineEvent) -> None:
        done = event.res_outputs_event
        meta = done.metadata if done is not None else None
        op = refresh_change(meta) if meta is not None else None
        if meta is None or op is None:
            return
        changed[meta.urn] = {
            "op": op,
            "type": meta.type,
            "name": meta.urn.rsplit("::", 1)[-1],
            "diffs": list(meta.diffs or []),
            "urn": meta.urn,
        }

    try:
        stack.preview_refresh(on_event=on_event, color="never")
    except auto.CommandError as exc:
        raise CliError(
            Exit.FAILED,
            f"pulumi refresh --preview-only of {stack.name} failed:\n{_tail(exc)}",
            f"pulumi refresh --preview-only -s {stack.name}",
        ) from exc
    return list(changed.values())
