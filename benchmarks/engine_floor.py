"""The engine floor for a stack's resource graph: the same nodes and edges as trivial dynamic
resources (benchmarks/floor_program), timed from empty and as a no-op `up`.

What the real program costs beyond this floor is its own overhead: rendering, the providers'
API calls and waits, pulumi-kubernetes, start-up imports.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from tests.e2e.driver import Stacks

FLOOR_DIR = Path(__file__).resolve().parent / "floor_program"
ROOT = FLOOR_DIR.parents[1]


def graph_of(state: dict[str, Any]) -> list[dict[str, Any]]:
    """Nodes of a `pulumi stack export`: everything but the stack itself and providers."""
    resources = state.get("deployment", {}).get("resources") or []
    keep = [
        r
        for r in resources
        if r["type"] != "pulumi:pulumi:Stack" and not r["type"].startswith("pulumi:providers:")
    ]
    kept = {r["urn"] for r in keep}
    return [
        {
            "urn": r["urn"],
            "custom": bool(r.get("custom")),
            "parent": r.get("parent") if r.get("parent") in kept else None,
            "deps": [d for d in r.get("dependencies") or [] if d in kept],
        }
        for r in keep
    ]


def floor_project(workdir: Path, name: str, graph: list[dict[str, Any]]) -> Path:
    """A Pulumi project of the floor program for one graph."""
    project = workdir / f"floor-{name}"
    project.mkdir(parents=True, exist_ok=True)
    shutil.copy(FLOOR_DIR / "__main__.py", project / "__main__.py")
    (project / "graph.json").write_text(json.dumps(graph))
    venv = ROOT / ".venv"
    (project / "Pulumi.yaml").write_text(
        f"name: floor-{name}\nruntime:\n  name: python\n  options:\n"
        f"    toolchain: pip\n    virtualenv: {venv}\n"
    )
    return project


def floor_stacks(workdir: Path, env: dict[str, str], name: str, state: dict[str, Any]) -> Stacks:
    project = floor_project(workdir, name, graph_of(state))
    stacks = Stacks(project, env, workdir / f"floor-{name}.calls.jsonl")
    stacks.run("stack", "init", name)
    return stacks
