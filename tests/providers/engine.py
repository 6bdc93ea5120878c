"""Running a real `pulumi up/refresh/destroy` (Automation API, file backend) for provider tests.

The program is an inline Python function; the dynamic providers run in the engine's separate
`pulumi-resource-pulumi-python` process, which imports `components.confighub` via PYTHONPATH and
appends every API call to the call log (`CONFIGHUB_CALL_LOG`), so tests count reads/writes.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pulumi import automation as auto

from components.confighub.calls import CallCounts, read_call_log

ROOT = Path(__file__).resolve().parents[2]


class EngineStack:
    def __init__(
        self,
        name: str,
        program: Callable[[], None],
        *,
        toolchain: Any,
        backend: str,
        url: str,
        token: str,
        workdir: Path,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.call_log = workdir / "calls.jsonl"
        self.engine_log = workdir / "engine.log"
        env = {
            **toolchain.env,
            "PULUMI_BACKEND_URL": backend,
            "PULUMI_CONFIG_PASSPHRASE": "engine-test-passphrase",
            "PYTHONPATH": str(ROOT),
            "CONFIGHUB_CALL_LOG": str(self.call_log),
            **(extra_env or {}),
        }
        env.pop("PULUMI_CONFIG_PASSPHRASE_FILE", None)
        env.pop("CONFIGHUB_TOKEN", None)
        env.pop("CONFIGHUB_URL", None)
        self.env = env
        work = self.work = workdir / "work"
        work.mkdir(parents=True, exist_ok=True)
        self.pulumi = toolchain.pulumi
        opts = auto.LocalWorkspaceOptions(
            work_dir=str(work),
            env_vars=env,
            project_settings=auto.ProjectSettings(name="chtest", runtime="python"),
            pulumi_command=auto.PulumiCommand(
                root=str(toolchain.pulumi_root), skip_version_check=True
            ),
        )
        self.stack = auto.create_or_select_stack(
            stack_name=name, project_name="chtest", program=program, opts=opts
        )
        self.stack.set_config("confighub:url", auto.ConfigValue(url))
        self.stack.set_config("confighub:token", auto.ConfigValue(token, secret=True))

    def _log(self, text: str) -> None:
        with self.engine_log.open("a") as fh:
            fh.write(text + "\n")

    def reset_calls(self) -> None:
        if self.call_log.exists():
            self.call_log.unlink()

    def calls(self) -> CallCounts:
        return read_call_log(self.call_log)

    def up(self, **kw: Any) -> auto.UpResult:
        return self.stack.up(on_output=self._log, **kw)

    def refresh(self) -> auto.RefreshResult:
        return self.stack.refresh(on_output=self._log)

    def destroy(self) -> auto.DestroyResult:
        return self.stack.destroy(on_output=self._log)

    def export(self) -> str:
        """`pulumi stack export` as a user runs it (no --show-secrets)."""
        proc = subprocess.run(
            [str(self.pulumi), "stack", "export", "--stack", self.stack.name],
            cwd=self.work,
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        return proc.stdout


def changes(result: Any) -> dict[str, int]:
    """Resource change counts of an up/refresh/destroy, without the stack itself."""
    summary = dict(result.summary.resource_changes or {})
    return {k: v for k, v in summary.items() if v}


def env_without(keys: tuple[str, ...]) -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in keys}
