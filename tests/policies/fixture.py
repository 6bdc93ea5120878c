"""Drive the fixture program (fixture_program/) with the real Pulumi CLI: one work dir per test,
a file backend, config via `pulumi config set`, previews with the policy pack and event log."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

from pydantic import BaseModel

REPO_ROOT = Path(__file__).resolve().parents[2]
PROGRAM = Path(__file__).resolve().parent / "fixture_program"
POLICY_PACK = REPO_ROOT / "policies"
PROJECT = "traderx-fixture"


class Run(BaseModel):
    """One CLI run: exit code, output, and (for previews) the JSON and event-log paths."""

    returncode: int
    stdout: str
    stderr: str
    preview_json: Path | None = None
    events: Path | None = None

    def policy_events(self) -> list[dict[str, Any]]:
        assert self.events is not None
        return [
            json.loads(line)["policyEvent"]
            for line in self.events.read_text().splitlines()
            if '"policyEvent"' in line
        ]


class FixtureStack:
    """A stack of the fixture program in `workdir`, state in `backend`."""

    def __init__(self, env: dict[str, str], backend: str, workdir: Path, stack: str) -> None:
        self.workdir = workdir
        self.stack = stack
        self.env = {
            **env,
            "PULUMI_BACKEND_URL": backend,
            "PULUMI_DEBUG_COMMANDS": "true",  # enables --event-log
            "PULUMI_CONFIG_PASSPHRASE": "fixture-passphrase",
        }
        self.env.pop("PULUMI_CONFIG_PASSPHRASE_FILE", None)
        workdir.mkdir(parents=True, exist_ok=True)
        shutil.copy(PROGRAM / "__main__.py", workdir / "__main__.py")
        (workdir / "Pulumi.yaml").write_text(
            f"name: {PROJECT}\nruntime:\n  name: python\n  options:\n"
            f"    toolchain: pip\n    virtualenv: {REPO_ROOT / '.venv'}\n"
        )
        self._run("stack", "init", check=True)

    def _run(self, *args: str, check: bool = False, timeout: int = 300) -> Run:
        proc = subprocess.run(
            ["pulumi", *args, "--non-interactive", "--stack", self.stack],
            cwd=self.workdir,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"pulumi {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
        return Run(returncode=proc.returncode, stdout=proc.stdout, stderr=proc.stderr)

    def configure(self, spec: dict[str, Any], token: str | None = None) -> None:
        self._run("config", "set", "fixture:spec", json.dumps(spec), check=True)
        if token is not None:
            self._run("config", "set", "--secret", "fixture:token", token, check=True)

    def set_config(self, key: str, value: str) -> None:
        self._run("config", "set", key, value, check=True)

    def preview(self, name: str, policy_config: dict[str, Any] | None = None) -> Run:
        """`pulumi preview --json --event-log` with the policy pack; files named after `name`."""
        out = self.workdir / f"{name}.preview.json"
        events = self.workdir / f"{name}.events.jsonl"
        args = ["preview", "--json", "--event-log", str(events), "--policy-pack", str(POLICY_PACK)]
        if policy_config is not None:
            cfg = self.workdir / f"{name}.policy-config.json"
            cfg.write_text(json.dumps(policy_config))
            args += ["--policy-pack-config", str(cfg)]
        run = self._run(*args)
        out.write_text(run.stdout)
        return run.model_copy(update={"preview_json": out, "events": events})

    def export(self) -> dict[str, Any]:
        """`pulumi stack export` (secrets stay encrypted)."""
        exported: dict[str, Any] = json.loads(self._run("stack", "export", check=True).stdout)
        return exported

    def up(self) -> Run:
        return self._run("up", "--yes", "--skip-preview", check=True)


def service(image_tag: str = "1.4.2", replicas: int = 1, **extra: Any) -> dict[str, Any]:
    return {
        "image": f"ghcr.io/finos/traderx/trade-service:{image_tag}",
        "replicas": replicas,
        **extra,
    }


def good_prod_spec() -> dict[str, Any]:
    """Prod cloned from staging, protected, pinned images, bounded replicas, default deny."""
    return {
        "environment": "prod",
        "protect": True,
        "staging": True,
        "services": {
            "trade-service": service(replicas=3),
            "trade-processor": service(replicas=1)
            | {"image": "ghcr.io/finos/traderx/trade-processor:1.4.2"},
        },
    }
