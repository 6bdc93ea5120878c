"""Which stacks a pull request touches, for the preview matrix.

`Pulumi.<stack>.yaml` touches that stack; a change to anything the program, its policy pack or
its toolchain is built from touches every stack; docs, tests, the local server, the comment
tooling and CI files touch none. Unknown paths count as program changes (preview too much rather
than miss one).
"""

from __future__ import annotations

import re
import subprocess
from fnmatch import fnmatch
from pathlib import Path
from typing import Final

_STACK_FILE: Final = re.compile(r"^Pulumi\.([A-Za-z0-9_.-]+)\.yaml$")
#: Paths that cannot change what a stack deploys.
NEUTRAL: Final = (
    "docs/*",
    "tests/*",
    "benchmarks/*",
    "confighub_local/*",
    "preview_comment/*",
    "scripts/*",
    ".github/*",
    ".ci/*",
    "*.md",
    ".gitignore",
    "Makefile",
    "pyproject.toml",
    "requirements-dev.txt",
)
_ORDER: Final = {"dev": 0, "staging": 1, "prod": 2, "prod-eu": 3}


def stacks_in(repo: Path) -> list[str]:
    """Stacks with a `Pulumi.<stack>.yaml` in the repository root, in promotion order."""
    names = [m.group(1) for p in repo.iterdir() if (m := _STACK_FILE.match(p.name))]
    return sorted(names, key=lambda s: (_ORDER.get(s, 99), s))


def touched(changed: list[str], stacks: list[str]) -> list[str]:
    """The subset of `stacks` whose preview can differ because of `changed` paths."""
    hit: set[str] = set()
    for path in changed:
        match = _STACK_FILE.match(path)
        if match:
            if match.group(1) in stacks:
                hit.add(match.group(1))
            continue
        if any(fnmatch(path, pattern) for pattern in NEUTRAL):
            continue
        return list(stacks)  # a program, policy or toolchain change: every stack
    return [s for s in stacks if s in hit]


def changed_files(base: str, repo: Path) -> list[str]:
    """Files changed between `base` and HEAD (merge-base diff, as a PR shows them)."""
    proc = subprocess.run(
        ["git", "diff", "--name-only", f"{base}...HEAD"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise ValueError(f"git diff against {base!r} failed: {proc.stderr.strip()}")
    return [line for line in proc.stdout.splitlines() if line]
