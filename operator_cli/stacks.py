"""The Pulumi side of the CLI (Automation API): select a stack, change its config, run `up`.

Actions that are declarative go through the stack (config, then `up`), so Pulumi and ConfigHub
agree afterwards and the next `up` changes nothing. Uses the `pulumi` CLI on PATH and the
backend/passphrase from the environment (`source toolchain/env.sh`), like `pulumi` itself.

`init_stack` is the one way this project creates stacks (CLI, demo, e2e driver, benchmarks):
new stacks share the project's passphrase salt (see its docstring).
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from pulumi import automation as auto
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from operator_cli.output import CliError, Exit, Step

SALT_KEY = "encryptionsalt"
UNPARSABLE = "\0unparsable"  # _mapping's key for text that is not YAML
NO_STACK = re.compile(r"no stack named.*found")  # what `pulumi stack select` says (as auto does)


def select(stack: str, project_dir: Path) -> auto.Stack:
    _check_project(project_dir)
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


def _check_project(project_dir: Path) -> None:
    if not (project_dir / "Pulumi.yaml").is_file():
        raise CliError(
            Exit.NOT_FOUND,
            f"{project_dir} is not a Pulumi project (no Pulumi.yaml)",
            "pass --project-dir with the checkout (or demo copy) that holds the stacks",
        )


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


# ------------------------------------------------------------------------- creating stacks


class StackInit(BaseModel):
    """What `init_stack` did: created or selected the stack, and whose salt it took."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)

    stack: str
    created: bool
    salt_from: str | None = None  # the stack whose passphrase salt the new stack shares
    salt_file: str | None = None  # that stack's Pulumi.<stack>.yaml


def init_stack(
    project_dir: Path,
    stack: str,
    env: Mapping[str, str] | None = None,
    *,
    salt_from: Sequence[Path] = (),
) -> StackInit:
    """Select `stack`, or create it (`pulumi stack init`) sharing the project's passphrase salt.

    Why: the passphrase secrets manager derives its key with PBKDF2 (slow on purpose) and
    caches it by salt; `stack init` gives every stack a random salt, so each StackReference
    to an upstream stack costs a second derivation (~0.1 s per `up`). Sharing weakens nothing
    real: with the file backend every stack of a project is read with the one
    PULUMI_CONFIG_PASSPHRASE anyway (a StackReference must decrypt its upstream).

    Before `stack init`, when the stack's own Pulumi.<stack>.yaml has no `encryptionsalt` and
    no secrets provider other than passphrase, the salt most of the project's other stack
    files share (then those of the `salt_from` project directories, in order; the benchmark's
    floor projects take the program's) is written into it, one inserted line, keeping its
    comments and settings. The engine checks that the salt decrypts with the current
    passphrase; if not, the file is restored, nothing is created, and the error says whose
    salt it was. An existing stack is only selected (its file untouched): idempotent.
    """
    _check_project(project_dir)
    env = dict(os.environ if env is None else env)
    selected = pulumi_cli(project_dir, env, "stack", "select", stack)
    if selected.returncode == 0:
        return StackInit(stack=stack, created=False)
    if not NO_STACK.search(selected.stderr):
        raise CliError(Exit.FAILED, f"selecting stack {stack!r} failed: {_last(selected)}")
    own = stack_file(project_dir, stack)
    before = own.read_bytes() if own.is_file() else None
    source = _shared_salt(own, [project_dir, *salt_from]) if _wants_salt(own) else None
    if source is not None:
        own.write_text(with_salt(before.decode() if before else "", source[1]))
    done = pulumi_cli(project_dir, env, "stack", "init", stack)
    if done.returncode == 0:
        if source is None:
            return StackInit(stack=stack, created=True)
        return StackInit(
            stack=stack, created=True, salt_from=stack_of(source[0]), salt_file=str(source[0])
        )
    if source is not None and before is not None:  # leave the file as it was
        own.write_bytes(before)
    elif source is not None:
        own.unlink(missing_ok=True)
    if source is not None and "incorrect passphrase" in done.stderr:
        owner = stack_of(source[0])
        raise CliError(
            Exit.REFUSED,
            f"stack {stack!r} was not created: it would share the passphrase salt of stack "
            f"{owner!r} ({source[0]}), and the current passphrase does not decrypt that salt "
            f"(stack {owner!r} was created with another passphrase); {own} is unchanged",
            f"set PULUMI_CONFIG_PASSPHRASE (or PULUMI_CONFIG_PASSPHRASE_FILE) to the passphrase "
            f"of stack {owner!r} and run again: a project's stacks share one passphrase "
            f"(a StackReference decrypts its upstream with it); or, to keep a passphrase of "
            f"its own, create it with its own salt: pulumi stack init {stack}",
        )
    raise CliError(Exit.FAILED, f"pulumi stack init {stack} failed: {_last(done)}")


def stack_file(project_dir: Path, stack: str) -> Path:
    """Pulumi.<stack>.yaml (in the project's `stackConfigDir`, if it sets one)."""
    try:
        project = yaml.safe_load((project_dir / "Pulumi.yaml").read_text()) or {}
    except (OSError, yaml.YAMLError):
        project = {}
    folder = project.get("stackConfigDir") if isinstance(project, dict) else None
    return project_dir / str(folder or ".") / f"Pulumi.{stack.rsplit('/', 1)[-1]}.yaml"


def stack_of(path: Path) -> str:
    """The stack a Pulumi.<stack>.yaml belongs to."""
    return path.name.removeprefix("Pulumi.").removesuffix(".yaml")


def with_salt(text: str, salt: str) -> str:
    """A stack file's text with `encryptionsalt: <salt>` inserted before its first top-level
    key (where `pulumi stack init` writes it), so comments and layout stay. Text that would
    not parse back to the same settings plus the salt (flow style, odd layout) is re-dumped
    instead, losing its comments."""
    settings = _mapping(text)
    line = yaml.safe_dump({SALT_KEY: salt}, width=1 << 16)
    lines = text.splitlines(keepends=True)
    at = next(
        (
            i
            for i, raw in enumerate(lines)
            if raw[:1] not in ("", " ", "\t", "#", "\n", "%") and not raw.startswith("---")
        ),
        len(lines),
    )
    if lines and at == len(lines) and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    inserted = "".join([*lines[:at], line, *lines[at:]])
    want = {SALT_KEY: salt, **settings}
    if _mapping(inserted) == want:
        return inserted
    return yaml.safe_dump(want, sort_keys=False)


def _mapping(text: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return {UNPARSABLE: text}  # never equal to a good result
    return data if isinstance(data, dict) else {}


def _passphrase(data: dict[str, Any]) -> bool:
    """The stack file's secrets provider is the passphrase (the default when none is set)."""
    return data.get("secretsprovider") in (None, "", "passphrase")


def _passphrase_salt(data: dict[str, Any]) -> str | None:
    salt = data.get(SALT_KEY)
    return salt if _passphrase(data) and isinstance(salt, str) and salt else None


def _wants_salt(own: Path) -> bool:
    """The stack file has no salt and no other secrets provider (a missing file has none).
    A file that is not YAML is left alone: `pulumi stack init` then says what is wrong."""
    data = _mapping(own.read_text()) if own.is_file() else {}
    if UNPARSABLE in data:
        return False
    return not data.get(SALT_KEY) and _passphrase(data)


def _shared_salt(own: Path, folders: Sequence[Path]) -> tuple[Path, str] | None:
    """The salt most stack files of the first folder that has any share (ties: file name)."""
    for folder in folders:
        found: dict[str, list[Path]] = {}
        for path in sorted(stack_file(folder, "-").parent.glob("Pulumi.*.yaml")):
            salt = None if path.resolve() == own.resolve() else _file_salt(path)
            if salt:
                found.setdefault(salt, []).append(path)
        if found:
            salt = max(found, key=lambda s: len(found[s]))  # the first of the most shared
            return found[salt][0], salt
    return None


def _file_salt(path: Path) -> str | None:
    try:
        return _passphrase_salt(_mapping(path.read_text()))
    except OSError:
        return None


def pulumi_cli(
    project_dir: Path, env: Mapping[str, str], *args: str, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """`pulumi ARGS --non-interactive` in the project directory (output captured, not checked)."""
    try:
        return subprocess.run(
            ["pulumi", *args, "--non-interactive"],
            cwd=project_dir,
            env=dict(env),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError as exc:
        raise CliError(
            Exit.FAILED,
            "no `pulumi` on PATH",
            "source toolchain/env.sh   # puts the pinned Pulumi CLI on PATH",
        ) from exc


def _last(proc: subprocess.CompletedProcess[str], lines: int = 8) -> str:
    text = (proc.stderr.strip() or proc.stdout.strip()).splitlines()
    return "\n".join(text[-lines:])
