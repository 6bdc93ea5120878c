"""Drive the real Pulumi CLI over a throwaway copy of this project (used by e2e and benchmark).

The copy keeps the repository's Pulumi.<stack>.yaml files untouched (`stack init`, which
shares the project's passphrase salt as `traderx stacks init` does, and `config set` write into
them); the program itself is symlinked, so what runs is the repo's code.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from components.confighub.calls import CALL_LOG_ENV, CallCounts, read_call_log
from operator_cli.stacks import init_stack

ROOT = Path(__file__).resolve().parents[2]
PROJECT_FILES = (
    "Pulumi.yaml",
    "Pulumi.dev.yaml",
    "Pulumi.staging.yaml",
    "Pulumi.prod.yaml",
    "Pulumi.prod-eu.yaml",
)
LINKED = ("__main__.py", "components", ".venv", "requirements.txt")
POLICY_PACK = ROOT / "policies"
PROD_POLICY_CONFIG = POLICY_PACK / "config" / "prod.json"


class PulumiError(RuntimeError):
    """A pulumi command failed; carries its output."""


class GateRun(BaseModel):
    """A policy-gated preview: exit code, output, and the engine's policy events."""

    returncode: int
    output: str
    policy_events: list[dict[str, Any]]


def _error_part(stdout: str) -> str:
    """What a failure message keeps of a command's stdout: the engine's whole Diagnostics
    section (the errors tests assert on, however long the progress before it), else the tail."""
    at = stdout.rfind("\nDiagnostics:\n")
    return stdout[at:][:30000] if at >= 0 else stdout[-6000:]


def make_project(workdir: Path, copied: tuple[str, ...] = ()) -> Path:
    """A project directory whose program is this repository's, with its own stack files.

    `copied`: parts copied instead of linked, so a test can change the program's code (a code
    change that must wait for promotion) without touching the checkout.
    """
    project = workdir / "project"
    project.mkdir(parents=True, exist_ok=True)
    for name in PROJECT_FILES:
        shutil.copy(ROOT / name, project / name)
    for name in LINKED:
        target = project / name
        if target.exists() or target.is_symlink():
            continue
        if name in copied:
            ignore = shutil.ignore_patterns("__pycache__")
            if (ROOT / name).is_dir():
                shutil.copytree(ROOT / name, target, ignore=ignore)
            else:
                shutil.copy(ROOT / name, target)
        else:
            target.symlink_to(ROOT / name)
    return project


class Stacks:
    """`pulumi` on one project dir with a given environment; timings and call counts recorded."""

    def __init__(self, project: Path, env: dict[str, str], call_log: Path) -> None:
        self.project = project
        self.env = {**env, CALL_LOG_ENV: str(call_log)}
        self.call_log = call_log
        self.timings: dict[str, float] = {}

    def run(self, *args: str, stack: str | None = None, timeout: float = 1800) -> str:
        cmd = ["pulumi", *args, "--non-interactive"]
        if stack:
            cmd += ["--stack", stack]
        started = time.monotonic()
        proc = subprocess.run(
            cmd,
            cwd=self.project,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        self.timings[" ".join(args[:1] + ((stack,) if stack else ()))] = time.monotonic() - started
        if proc.returncode != 0:
            raise PulumiError(
                f"`{' '.join(cmd)}` exited {proc.returncode}\n"
                f"--- stdout\n{_error_part(proc.stdout)}\n--- stderr\n{proc.stderr[-4000:]}"
            )
        return proc.stdout

    def init(
        self,
        stack: str,
        config: dict[str, Any],
        secrets: dict[str, str],
        *,
        salt_from: tuple[Path, ...] = (),
    ) -> None:
        """Create the stack as the project does (operator_cli.stacks.init_stack: it shares the
        project's passphrase salt, or that of `salt_from`), then set its config and secrets."""
        started = time.monotonic()
        init_stack(self.project, stack, self.env, salt_from=salt_from)
        self.timings[f"init {stack}"] = time.monotonic() - started
        for key, value in config.items():
            self.set(stack, key, value)
        for key, value in secrets.items():
            self.run("config", "set", "--secret", key, value, stack=stack)

    def set(self, stack: str, key: str, value: Any) -> None:
        """`config set --path`, one leaf at a time (segments quoted: service names have '-')."""
        if isinstance(value, dict):
            for sub, item in value.items():
                self.set(stack, f'{key}["{sub}"]', item)
            return
        text = str(value).lower() if isinstance(value, bool) else str(value)
        self.run("config", "set", "--path", key, text, stack=stack)

    def up(self, stack: str, *extra: str) -> str:
        return self.run("up", "--yes", "--skip-preview", *extra, stack=stack)

    def preview(self, stack: str, *extra: str) -> str:
        return self.run("preview", "--diff", *extra, stack=stack)

    def outputs(self, stack: str) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.run("stack", "output", "--json", stack=stack))
        return data

    def destroy(self, stack: str) -> str:
        return self.run("destroy", "--yes", "--skip-preview", stack=stack)

    def gated_preview(self, stack: str, policy_config: Path, name: str) -> GateRun:
        """`pulumi preview --policy-pack policies --policy-pack-config <file>` (may fail)."""
        events = self.project / f"{name}.events.jsonl"
        cmd = [
            "pulumi", "preview", "--non-interactive", "--stack", stack,
            "--policy-pack", str(POLICY_PACK), "--policy-pack-config", str(policy_config),
            "--event-log", str(events),
        ]  # fmt: skip
        started = time.monotonic()
        proc = subprocess.run(
            cmd,
            cwd=self.project,
            env={**self.env, "PULUMI_DEBUG_COMMANDS": "true"},  # enables --event-log
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        self.timings[f"gated preview {name}"] = time.monotonic() - started
        policy_events = [
            json.loads(line)["policyEvent"]
            for line in (events.read_text().splitlines() if events.exists() else [])
            if '"policyEvent"' in line
        ]
        return GateRun(
            returncode=proc.returncode,
            output=proc.stdout + proc.stderr,
            policy_events=policy_events,
        )

    def config_file(self, stack: str) -> Path:
        return self.project / f"Pulumi.{stack}.yaml"

    def unprotect(self, stack: str) -> str:
        """Take a protected stack down the documented way (docs/program.md): declare
        `traderx:protect=false` and `up` (state-only change); `pulumi state unprotect --all`
        only when that `up` fails (the break-glass path). Returns which path was taken."""
        try:
            self.set(stack, "traderx:protect", False)
            self.up(stack)
            return "config"
        except PulumiError:
            self.run("state", "unprotect", "--all", "--yes", stack=stack)
            return "state unprotect"

    def protected_urns(self, stack: str) -> list[str]:
        state = json.loads(self.run("stack", "export", stack=stack))
        resources = state.get("deployment", {}).get("resources") or []
        return [r["urn"] for r in resources if r.get("protect")]

    def calls_since(self, mark: int) -> CallCounts:
        """ConfigHub calls logged by provider processes after `mark` (a line count)."""
        if not self.call_log.exists():
            return CallCounts()
        lines = self.call_log.read_text().splitlines()[mark:]
        tail = self.call_log.with_suffix(".tail")
        tail.write_text("\n".join(lines) + "\n")
        return read_call_log(tail)

    def call_mark(self) -> int:
        return len(self.call_log.read_text().splitlines()) if self.call_log.exists() else 0


def base_env(
    toolchain_env: dict[str, str], backend: str, url: str, token: str, kubeconfig: str
) -> dict[str, str]:
    """Environment of every pulumi command: toolchain, backend, ConfigHub, cluster."""
    env = {**os.environ, **toolchain_env}
    env.update(
        PULUMI_BACKEND_URL=backend,
        CONFIGHUB_URL=url,
        CONFIGHUB_TOKEN=token,
        KUBECONFIG=kubeconfig,
        PULUMI_SKIP_UPDATE_CHECK="true",
        PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION="true",
    )
    if "PULUMI_CONFIG_PASSPHRASE" not in env and "PULUMI_CONFIG_PASSPHRASE_FILE" not in env:
        env["PULUMI_CONFIG_PASSPHRASE"] = "e2e-local-passphrase"
    return env
