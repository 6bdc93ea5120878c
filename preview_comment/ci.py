"""The CI step for one stack: run `pulumi preview` with the policy pack and the event log, export
the stack (to name unchanged spaces), render the comment, post or update it, and hand back the
preview's exit code so a mandatory policy violation still fails the job."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import yaml
from pydantic import BaseModel

from .mask import DEFAULT_SECRET_ENV, Scrubber
from .models import load_events, load_preview, load_stack_export
from .render import CommentInput, render


class PreviewFiles(BaseModel):
    """Where one stack's preview outputs are written (kept as CI artifacts)."""

    preview: Path
    events: Path
    export: Path
    comment: Path

    @classmethod
    def under(cls, folder: Path, stack: str) -> PreviewFiles:
        folder.mkdir(parents=True, exist_ok=True)
        return cls(
            preview=folder / f"{stack}.preview.json",
            events=folder / f"{stack}.events.jsonl",
            export=folder / f"{stack}.export.json",
            comment=folder / f"{stack}.comment.md",
        )


def project_name(cwd: Path) -> str:
    """The Pulumi project name from `Pulumi.yaml` (names the comment)."""
    try:
        name = yaml.safe_load((cwd / "Pulumi.yaml").read_text()).get("name")
    except (OSError, yaml.YAMLError, AttributeError) as exc:
        raise ValueError(f"cannot read the project name from {cwd / 'Pulumi.yaml'}: {exc}") from exc
    if not isinstance(name, str) or not name:
        raise ValueError(f"{cwd / 'Pulumi.yaml'} has no `name`")
    return name


def run_preview(
    stack: str,
    cwd: Path,
    files: PreviewFiles,
    policy_packs: list[Path],
    policy_config: Path | None = None,
) -> int:
    """`pulumi preview` of `stack` with JSON output and event log; returns its exit code.
    Its stderr (progress, errors) goes to ours, i.e. the CI log the comment points to."""
    env = {**os.environ, "PULUMI_DEBUG_COMMANDS": "true"}  # enables --event-log
    args = ["pulumi", "preview", "--stack", stack, "--non-interactive", "--json"]
    args += ["--event-log", str(files.events)]
    for pack in policy_packs:  # absolute: pulumi runs in `cwd`, paths are relative to ours
        args += ["--policy-pack", str(pack.resolve())]
    if policy_config is not None:
        args += ["--policy-pack-config", str(policy_config.resolve())]
    files.events.unlink(missing_ok=True)
    with files.preview.open("w", encoding="utf-8") as out:
        proc = subprocess.run(args, cwd=cwd, env=env, stdout=out, stderr=sys.stderr, check=False)
    if not files.events.exists():
        files.events.write_text("")
    exported = subprocess.run(
        ["pulumi", "stack", "export", "--stack", stack, "--file", str(files.export)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if exported.returncode != 0:
        files.export.unlink(missing_ok=True)
        print(f"note: no stack export ({exported.stderr.strip()})", file=sys.stderr)
    return proc.returncode


def render_comment(
    project: str,
    stack: str,
    preview: Path,
    events: Path | None,
    export: Path | None,
    log_url: str | None,
    secret_env: list[str],
    exit_code: int | None = None,
) -> str:
    """The comment for one stack from preview outputs on disk (raises `InputError` on bad files);
    the values of the default and `secret_env` variables are scrubbed from it."""
    violations, errors = load_events(events)
    inp = CommentInput(
        project=project,
        stack=stack,
        digest=load_preview(preview),
        violations=violations,
        errors=errors,
        log_url=log_url,
        known=load_stack_export(export),
        exit_code=exit_code,
    )
    return render(inp, Scrubber.from_env([*DEFAULT_SECRET_ENV, *secret_env]))


def render_files(
    project: str,
    stack: str,
    files: PreviewFiles,
    log_url: str | None,
    secret_env: list[str],
    exit_code: int | None = None,
) -> str:
    """Render the comment from the files `run_preview` wrote and save it next to them."""
    export = files.export if files.export.exists() else None
    body = render_comment(
        project, stack, files.preview, files.events, export, log_url, secret_env, exit_code
    )
    files.comment.write_text(body, encoding="utf-8")
    return body
