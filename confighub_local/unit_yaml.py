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
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

_EventParser: Any
try:  # libyaml (C) when available: several times faster than PyYAML's own parser
    from yaml import CSafeLoader as _SafeLoader
    from yaml.cyaml import CParser  # type: ignore[attr-defined]

    _EventParser = CParser
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml import SafeLoader as _SafeLoader  # type: ignore[assignment]

    _EventParser = None


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


_OPEN = (yaml.SequenceStartEvent, yaml.MappingStartEvent)
_CLOSE = (yaml.SequenceEndEvent, yaml.MappingEndEvent)


def _events(text: str) -> Any:
    """A bare event parser (no composer, no recursion)."""
    if _EventParser is not None:
        return _EventParser(text)
    return yaml.SafeLoader(text)  # pragma: no cover - its parser part only


def _scan(text: str, limits: Limits) -> int:
    """Check depth and node count on the event stream (cheap, iterative, stops at the first
    violation, before anything is composed); return the number of aliases."""
    parser = _events(text)
    depth = nodes = aliases = 0
    try:
        while parser.check_event():
            event = parser.get_event()
            if isinstance(event, yaml.AliasEvent):
                aliases += 1
            elif isinstance(event, _OPEN):
                nodes += 1
                depth += 1
                if depth > limits.max_depth:
                    raise YamlLimitError(
                        f"exceeds the YAML depth limit ({limits.max_depth} levels of nesting)"
                    )
            elif isinstance(event, _CLOSE):
                depth -= 1
            elif isinstance(event, yaml.ScalarEvent):
                nodes += 1
            if nodes > limits.max_nodes:
                raise YamlLimitError(
                    f"exceeds the YAML node-count limit ({limits.max_nodes} nodes)"
                )
    finally:
        parser.dispose()
    return aliases


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
    try:
        if not _scan(text, limits):
            # no alias: the scan's counts are the whole story, and nothing is shared
            return [d for d in yaml.load_all(text, Loader=_SafeLoader) if d is not None]
        return _load_with_aliases(text, limits)
    except YamlLimitError:
        raise
    except yaml.YAMLError as exc:
        raise YamlLimitError(f"config data is not valid YAML: {exc}") from None
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:
        # e.g. an integer of more digits than Python converts, an unhashable mapping key
        detail = f"{type(exc).__name__}: {exc}"
        raise YamlLimitError(f"config data is not valid YAML: {detail}") from None


def _load_with_aliases(text: str, limits: Limits) -> list[Any]:
    """Compose each document (depth already checked, so the composer's recursion is bounded),
    measure it with aliases expanded, and only then construct it as a plain tree."""
    loader = _SafeLoader(text)
    docs: list[Any] = []
    nodes = size = 0
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            n, b, depth = _measure(node, limits)
            nodes, size = nodes + n, size + b
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
    finally:
        loader.dispose()
    return docs
