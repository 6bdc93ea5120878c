"""Bounded YAML parsing of unit data.

PyYAML shares the object behind an alias, so a few hundred bytes with nested aliases (a
"billion laughs" document) load instantly but expand without bound when a function walks them,
a response serialises them or the data is dumped again. Here every document is composed first,
with its nesting depth and node count checked while it is read (so no recursion limit is ever
reached), then measured as if every alias were expanded, and only then constructed, as a plain
tree without shared objects. Every limit is a `YamlLimitError` naming the limit and the figure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.resolver import Resolver

try:  # libyaml's event parser when available (much faster), PyYAML's own otherwise
    from yaml.cyaml import CParser as _Parser  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml.parser import Parser as _Parser  # type: ignore[assignment]
    from yaml.reader import Reader as _Reader
    from yaml.scanner import Scanner as _Scanner
else:
    _Reader = _Scanner = None  # type: ignore[assignment,misc]


@dataclass(frozen=True)
class Limits:
    max_bytes: int = 2 * 1024 * 1024  # the data as stored
    max_depth: int = 100  # nesting of collections, also after expanding aliases
    max_nodes: int = 100_000  # nodes as written
    max_expanded_nodes: int = 100_000  # nodes once every alias is expanded
    max_expanded_bytes: int = 8 * 1024 * 1024  # scalar text once every alias is expanded


LIMITS = Limits()


class YamlLimitError(ValueError):
    """Data that is not YAML, or YAML beyond one of the limits; the message names which."""


class _Loader(Composer, _Parser, SafeConstructor, Resolver):
    """Composer with depth and node counting on top of the (C) event parser."""

    def __init__(self, text: str, limits: Limits) -> None:
        if _Reader is not None:  # pure-Python parser stack
            _Reader.__init__(self, text)  # type: ignore[arg-type]
            _Scanner.__init__(self)  # type: ignore[arg-type]
        _Parser.__init__(self, text)
        Composer.__init__(self)
        SafeConstructor.__init__(self)
        Resolver.__init__(self)
        self.limits = limits
        self.depth = 0
        self.nodes = 0
        self.aliases = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        if self.check_event(yaml.AliasEvent):
            self.aliases += 1
        else:
            self.nodes += 1
            if self.nodes > self.limits.max_nodes:
                raise YamlLimitError(
                    f"exceeds the YAML node-count limit ({self.limits.max_nodes} nodes)"
                )
        self.depth += 1
        try:
            if self.depth > self.limits.max_depth:
                raise YamlLimitError(
                    f"exceeds the YAML depth limit ({self.limits.max_depth} levels of nesting)"
                )
            node: Node | None = super().compose_node(parent, index)
            assert node is not None
            return node
        finally:
            self.depth -= 1


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _measure(root: Node, limits: Limits) -> tuple[int, int, int]:
    """(nodes, scalar bytes, depth) of the document with every alias expanded; iterative, with
    memoised shared nodes, so measuring costs the size of the document as written."""
    cap = max(limits.max_expanded_nodes, limits.max_expanded_bytes) + 1
    memo: dict[int, tuple[int, int, int]] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            nodes, size, depth = 1, len(node.value) if isinstance(node, ScalarNode) else 0, 0
            for child in _children(node):
                c_nodes, c_size, c_depth = memo[id(child)]
                nodes, size, depth = nodes + c_nodes, size + c_size, max(depth, c_depth)
            memo[key] = (min(nodes, cap), min(size, cap), depth + 1)
            open_nodes.discard(key)
            continue
        if key in memo:
            continue
        if key in open_nodes:
            raise YamlLimitError("exceeds the YAML alias-expansion limit (a recursive alias)")
        open_nodes.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node) if id(child) not in memo)
    return memo[id(root)]


def _tree(value: Any) -> Any:
    """A copy without shared containers: functions then edit one place, as in the text."""
    if isinstance(value, dict):
        return {k: _tree(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_tree(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_tree(v) for v in value)
    return value


def load_docs(data: bytes, limits: Limits = LIMITS) -> list[Any]:
    """The non-empty documents of multi-document YAML, within `limits`."""
    if len(data) > limits.max_bytes:
        raise YamlLimitError(
            f"exceeds the YAML size limit ({len(data)} bytes; at most {limits.max_bytes})"
        )
    try:
        text = data.decode()
    except UnicodeDecodeError as exc:
        raise YamlLimitError(f"config data is not valid YAML: not UTF-8 ({exc})") from None
    loader = _Loader(text, limits)
    docs: list[Any] = []
    extra_nodes = extra_bytes = 0
    try:
        while loader.check_node():
            before, written = loader.aliases, loader.nodes
            node = loader.get_node()
            if node is None or loader.aliases == before:
                # no alias: the composer's own counts (checked as it read) are the whole story
                doc = loader.construct_document(node) if node is not None else None
                if doc is not None:
                    docs.append(doc)
                continue
            n, b, depth = _measure(node, limits)
            extra_nodes += n - (loader.nodes - written)  # what aliases add to the document
            nodes, size = loader.nodes + extra_nodes, len(data) + extra_bytes + b
            extra_bytes += b
            if depth > limits.max_depth:
                raise YamlLimitError(
                    f"exceeds the YAML depth limit ({limits.max_depth} levels of nesting, "
                    "counting expanded aliases)"
                )
            if nodes > limits.max_expanded_nodes:
                raise YamlLimitError(
                    "exceeds the YAML alias-expansion limit "
                    f"({limits.max_expanded_nodes} nodes once aliases are expanded)"
                )
            if size > limits.max_expanded_bytes:
                raise YamlLimitError(
                    "exceeds the YAML alias-expansion limit "
                    f"({limits.max_expanded_bytes} bytes of text once aliases are expanded)"
                )
            doc = _tree(loader.construct_document(node))
            if doc is not None:
                docs.append(doc)
    except YamlLimitError:
        raise
    except yaml.YAMLError as exc:
        raise YamlLimitError(f"config data is not valid YAML: {exc}") from None
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:
        # e.g. an integer of more digits than Python converts, an unhashable mapping key
        raise YamlLimitError(
            f"config data is not valid YAML: {type(exc).__name__}: {exc}"
        ) from None
    finally:
        loader.dispose()
    return docs
