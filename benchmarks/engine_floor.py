"""The engine floor for a stack's resource graph: the same nodes and edges as trivial dynamic
resources (benchmarks/floor_program), timed from empty and as a no-op `up`.

Two floors, both with the stack's own nodes, parents and dependencies:

- `floor` (the `noop ÷ floor` ratio): every custom resource is a trivial dynamic resource with
  no API calls, including the engine's builtin `pulumi:pulumi:StackReference`; components stay
  components. No kubernetes provider, no ConfigHub, no program logic beyond declaring the graph.
- `floor_stack_reference` (staging and prod only; an additional figure): the same, except that
  each StackReference stays a real StackReference, to the floor stack of the upstream
  environment (`organization/floor-<env>/<env>`, whose checkpoint is about as large as the
  real upstream's). Reading another stack is the engine's work (it reads the upstream's
  checkpoint and decrypts it), so this floor includes it. Every floor stack shares the
  program's passphrase salt, as the program's stacks do (one key derivation per `up`).

What the real program costs beyond these floors is its own overhead: rendering, the providers'
API calls and waits, pulumi-kubernetes (its plugin start), start-up imports.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from tests.e2e.driver import Stacks

FLOOR_DIR = Path(__file__).resolve().parent / "floor_program"
ROOT = FLOOR_DIR.parents[1]
STACK_REFERENCE = "pulumi:pulumi:StackReference"


def graph_of(state: dict[str, Any], stack_reference: str | None = None) -> list[dict[str, Any]]:
    """Nodes of a `pulumi stack export`: everything but the stack itself and providers.

    `stack_reference`: the stack that StackReference nodes read (kept as real references);
    None turns them into trivial resources like every other custom resource.
    """
    resources = state.get("deployment", {}).get("resources") or []
    keep = [
        r
        for r in resources
        if r["type"] != "pulumi:pulumi:Stack" and not r["type"].startswith("pulumi:providers:")
    ]
    kept = {r["urn"] for r in keep}
    nodes: list[dict[str, Any]] = []
    for r in keep:
        node = {
            "urn": r["urn"],
            "custom": bool(r.get("custom")),
            "parent": r.get("parent") if r.get("parent") in kept else None,
            "deps": [d for d in r.get("dependencies") or [] if d in kept],
        }
        if stack_reference and r["type"] == STACK_REFERENCE:
            node["stack_reference"] = stack_reference
        nodes.append(node)
    return nodes


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


def floor_stack_name(env: str) -> str:
    """The fully qualified name of an environment's (plain) floor stack, for StackReferences."""
    return f"organization/floor-{env}/{env}"


def floor_stacks(
    workdir: Path,
    env: dict[str, str],
    name: str,
    state: dict[str, Any],
    *,
    upstream: str | None = None,
    salt_from: tuple[Path, ...] = (),
) -> Stacks:
    """The floor of stack `name` (project `floor-<name>`, stack `<name>`). With `upstream` (an
    environment), the variant whose StackReferences read that environment's floor stack
    (project `floor-ref-<name>`). `salt_from`: the program's project, whose passphrase salt
    every floor stack shares, as the program's stacks share it among themselves
    (operator_cli.stacks.init_stack), so a StackReference costs both one key derivation."""
    reference = floor_stack_name(upstream) if upstream else None
    project_name = f"ref-{name}" if upstream else name
    project = floor_project(workdir, project_name, graph_of(state, reference))
    stacks = Stacks(project, env, workdir / f"floor-{project_name}.calls.jsonl")
    stacks.init(name, {}, {}, salt_from=salt_from)
    return stacks
