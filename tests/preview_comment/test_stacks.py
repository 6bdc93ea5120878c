"""Which stacks a pull request previews."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from preview_comment.stacks import stacks_in, touched

ALL = ["dev", "staging", "prod"]


@pytest.mark.parametrize(
    ("changed", "expected"),
    [
        (["Pulumi.prod.yaml"], ["prod"]),
        (["Pulumi.staging.yaml", "docs/program.md"], ["staging"]),
        (["components/manifests.py"], ALL),
        (["policies/images.py"], ALL),
        (["toolchain/versions.env"], ALL),
        (["__main__.py", "Pulumi.dev.yaml"], ALL),
        (["README.md", "tests/unit/test_x.py", "preview_comment/render.py"], []),
        (["Pulumi.qa.yaml"], []),  # not a stack of this repo
        (["something/new.py"], ALL),  # unknown paths count as program changes
    ],
)
def test_touched(changed: list[str], expected: list[str]) -> None:
    assert touched(changed, ALL) == expected


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=repo, check=True, capture_output=True, text=True
    ).stdout.strip()


def test_cli_reads_the_pr_diff_from_git(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "config", "user.email", "t@example.com")
    _git(repo, "config", "user.name", "t")
    for stack in ("prod", "dev", "staging"):
        (repo / f"Pulumi.{stack}.yaml").write_text("config: {}\n")
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "base")
    base = _git(repo, "rev-parse", "HEAD")
    assert stacks_in(repo) == ALL
    (repo / "Pulumi.staging.yaml").write_text("config: {traderx:imageTag: '1.5.0'}\n")
    _git(repo, "commit", "-qam", "bump staging")
    proc = subprocess.run(
        [sys.executable, "-m", "preview_comment", "stacks", "--base", base, "--repo", str(repo)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert json.loads(proc.stdout) == ["staging"]
    bad = subprocess.run(
        [sys.executable, "-m", "preview_comment", "stacks", "--base", "nope", "--repo", str(repo)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert bad.returncode == 2 and "git diff against 'nope' failed" in bad.stderr
