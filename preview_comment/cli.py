"""Command line: `python -m preview_comment render|post|publish|stacks|ci`."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer

from . import ci, github, stacks
from .models import InputError
from .render import marker

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)

Project = Annotated[str, typer.Option(help="Pulumi project name (part of the comment's identity).")]
Stack = Annotated[str, typer.Option(help="Stack name (one comment per project+stack).")]


def _render(
    preview: Path, events: Path | None, project: str, stack: str, log_url: str | None,
    secret_env: list[str], stack_export: Path | None,
) -> str:  # fmt: skip
    try:
        return ci.render_comment(project, stack, preview, events, stack_export, log_url, secret_env)
    except InputError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


PreviewOpt = Annotated[Path, typer.Option("--preview", help="`pulumi preview --json` output.")]
EventsOpt = Annotated[
    Path | None, typer.Option("--events", help="`pulumi preview --event-log` file.")
]
LogUrlOpt = Annotated[str | None, typer.Option(help="CI log URL for cut comments.")]
ExportOpt = Annotated[
    Path | None,
    typer.Option("--stack-export", help="`pulumi stack export` file, to name unchanged spaces."),
]
SecretEnvOpt = Annotated[
    list[str], typer.Option("--secret-env", help="Env var whose value must never appear.")
]


@app.command("render")
def render_cmd(
    preview: PreviewOpt,
    project: Project,
    stack: Stack,
    events: EventsOpt = None,
    log_url: LogUrlOpt = None,
    secret_env: SecretEnvOpt = [],  # noqa: B006 (typer needs a literal default)
    stack_export: ExportOpt = None,
    out: Annotated[Path | None, typer.Option(help="Write here instead of stdout.")] = None,
) -> None:
    """Render the Markdown comment for one stack."""
    body = _render(preview, events, project, stack, log_url, secret_env, stack_export)
    if out:
        out.write_text(body, encoding="utf-8")
    else:
        typer.echo(body)


def _post(repo: str, pr: int, project: str, stack: str, body: str, api_url: str) -> None:
    try:
        with github.client(os.environ.get("GITHUB_TOKEN", ""), api_url) as http:
            result = github.Comments(http, repo).upsert(pr, marker(project, stack), body)
    except github.GitHubError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    extra = f" ({result.duplicates} older duplicate(s) left)" if result.duplicates else ""
    typer.echo(f"{result.action} comment {result.comment.html_url or result.comment.id}{extra}")


RepoOpt = Annotated[str, typer.Option(help="owner/name (GITHUB_REPOSITORY).")]
PrOpt = Annotated[int, typer.Option(help="Pull request number.")]
ApiOpt = Annotated[str, typer.Option(envvar="GITHUB_API_URL", help="GitHub API root.")]


@app.command("post")
def post_cmd(
    repo: RepoOpt,
    pr: PrOpt,
    project: Project,
    stack: Stack,
    body_file: Annotated[Path, typer.Option(help="Rendered comment.")],
    api_url: ApiOpt = "https://api.github.com",
) -> None:
    """Create or update this project+stack's comment (token from GITHUB_TOKEN)."""
    _post(repo, pr, project, stack, body_file.read_text(encoding="utf-8"), api_url)


@app.command("publish")
def publish_cmd(
    preview: PreviewOpt,
    repo: RepoOpt,
    pr: PrOpt,
    project: Project,
    stack: Stack,
    events: EventsOpt = None,
    log_url: LogUrlOpt = None,
    secret_env: SecretEnvOpt = [],  # noqa: B006
    stack_export: ExportOpt = None,
    api_url: ApiOpt = "https://api.github.com",
) -> None:
    """Render and post in one step."""
    body = _render(preview, events, project, stack, log_url, secret_env, stack_export)
    _post(repo, pr, project, stack, body, api_url)


@app.command("stacks")
def stacks_cmd(
    base: Annotated[str, typer.Option(help="Base commit or ref of the pull request.")],
    repo: Annotated[Path, typer.Option(help="Repository root.")] = Path("."),
) -> None:
    """Print the JSON list of stacks the change since `base` touches (for a CI matrix)."""
    try:
        changed = stacks.changed_files(base, repo)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(json.dumps(stacks.touched(changed, stacks.stacks_in(repo))))


@app.command("ci")
def ci_cmd(
    stack: Stack,
    out_dir: Annotated[Path, typer.Option(help="Where preview outputs go.")] = Path("previews"),
    cwd: Annotated[Path, typer.Option(help="Pulumi project directory.")] = Path("."),
    policy_pack: Annotated[
        list[Path], typer.Option("--policy-pack", help="Policy pack directory (repeatable).")
    ] = [],  # noqa: B006
    policy_config: Annotated[Path | None, typer.Option(help="--policy-pack-config file.")] = None,
    repo: Annotated[str | None, typer.Option(help="owner/name; omit to skip posting.")] = None,
    pr: Annotated[int | None, typer.Option(help="Pull request number.")] = None,
    log_url: LogUrlOpt = None,
    secret_env: SecretEnvOpt = [],  # noqa: B006
    api_url: ApiOpt = "https://api.github.com",
) -> None:
    """Preview one stack, render its comment, post it (with --repo/--pr); exit as the preview."""
    try:
        project = ci.project_name(cwd)
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    files = ci.PreviewFiles.under(out_dir, stack)
    code = ci.run_preview(stack, cwd, files, policy_pack, policy_config)
    try:
        body = ci.render_files(project, stack, files, log_url, secret_env, exit_code=code)
    except InputError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(code or 2) from exc
    typer.echo(f"preview of {stack} exited {code}; comment in {files.comment}", err=True)
    if repo and pr:
        _post(repo, pr, project, stack, body, api_url)
    raise typer.Exit(code)
