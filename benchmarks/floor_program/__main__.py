"""The engine floor: a program with the same resource graph as a real stack, where every
custom resource is a trivial dynamic resource (no API calls) and every component a component.

`graph.json` (written by benchmarks/engine_floor.py from `pulumi stack export`) lists the nodes
in the state's order, which is topological: name, custom or component, parent, dependencies.
A node with `stack_reference` (the floor variant that keeps StackReferences) is a real
StackReference reading that stack.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, Resource, ResourceProvider


class Nop(ResourceProvider):
    """Creates nothing anywhere; a changed key is an update."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(id_=str(props["key"]), outs=props)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        return DiffResult(changes=olds.get("key") != news.get("key"))


class Trivial(Resource):
    def __init__(self, name: str, key: str, opts: pulumi.ResourceOptions) -> None:
        super().__init__(Nop(), name, {"key": key}, opts)


def main() -> None:
    nodes = json.loads((Path(__file__).parent / "graph.json").read_text())
    made: dict[str, pulumi.Resource] = {}
    for i, node in enumerate(nodes):
        opts = pulumi.ResourceOptions(
            parent=made.get(node["parent"] or ""),
            depends_on=[made[d] for d in node["deps"] if d in made],
        )
        if node.get("stack_reference"):
            made[node["urn"]] = pulumi.StackReference(
                f"r{i}", stack_name=node["stack_reference"], opts=opts
            )
        elif node["custom"]:
            made[node["urn"]] = Trivial(f"r{i}", node["urn"], opts)
        else:
            component = pulumi.ComponentResource("floor:index:Component", f"c{i}", None, opts)
            made[node["urn"]] = component
    pulumi.export("count", len(made))


main()
