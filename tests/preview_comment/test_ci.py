"""The CI step end to end with the real engine: preview the fixture program's prod stack with
the policy pack, post to a local recording GitHub, and fail exactly when the gate says so."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.policies.fixture import POLICY_PACK, FixtureStack, good_prod_spec, service
from tests.preview_comment.fake_github import serve
from tests.support.toolchain import Toolchain

pytestmark = pytest.mark.engine
REPO = "finos/traderx-confighub"


def test_ci_step_blocks_then_passes_updating_one_comment(
    toolchain: Toolchain, pulumi_backend: str, tmp_path: Path
) -> None:
    prod = FixtureStack(toolchain.env, pulumi_backend, tmp_path / "prod", "prod")
    bad = good_prod_spec()
    bad["services"]["trade-service"] = service("latest", replicas=3)
    prod.configure(bad)
    out = tmp_path / "previews"
    with serve() as github:
        args = [
            sys.executable, "-m", "preview_comment", "ci", "--stack", "prod",
            "--cwd", str(prod.workdir), "--policy-pack", str(POLICY_PACK),
            "--out-dir", str(out), "--repo", REPO, "--pr", "4", "--api-url", github.url,
            "--log-url", "https://ci.example/run/1",
        ]  # fmt: skip
        env = {**prod.env, "GITHUB_TOKEN": "ghs_test"}
        blocked = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
        assert blocked.returncode != 0, blocked.stderr[-2000:]
        [comment] = github.comments[(REPO, 4)]
        assert "❌ **blocked**: mandatory policy violations" in comment["body"]
        assert "**MANDATORY** `images-pinned` on ConfigHub unit `trade-service`" in comment["body"]
        assert (out / "prod.comment.md").read_text() == comment["body"]

        prod.configure(good_prod_spec())
        passed = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
        assert passed.returncode == 0, passed.stderr[-3000:]
        [comment] = github.comments[(REPO, 4)]  # updated in place, not duplicated
        assert "✅" in comment["body"].splitlines()[1]
        assert "#### Policy violations" not in comment["body"]
        assert [c.method for c in github.calls].count("POST") == 1


def test_ci_step_reports_a_failing_program_as_failed(
    toolchain: Toolchain, pulumi_backend: str, tmp_path: Path
) -> None:
    dev = FixtureStack(toolchain.env, pulumi_backend, tmp_path / "dev", "dev")
    dev.set_config("fixture:spec", "{not json")
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "preview_comment", "ci", "--stack", "dev",
         "--cwd", str(dev.workdir), "--out-dir", str(out), "--policy-pack", "policies"],
        env=dev.env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode != 0
    comment = (out / "dev.comment.md").read_text()
    assert "❌ **the preview failed** (exit code" in comment
    assert "JSONDecodeError" in comment and "no changes" not in comment
