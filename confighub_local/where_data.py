"""`where_data` and `resource_type`: select units by what their configuration data says.

`where_data` is `path op literal [AND ...]` over each YAML document of a unit: paths are
dot-separated map keys and array indices, `*` matches any array element or map value and
`?key=value` the array element whose `key` is `value` (e.g.
`spec.template.spec.containers.?name=web.image`). Operators: `= != < > <= >= LIKE ILIKE
NOT LIKE ~~ !~~ ~ ~* !~ !~* IN NOT IN`, with whitespace around them. A document matches when
every clause holds for some value at its path; a unit matches when one of its documents (of
`resource_type`, `<apiVersion>/<kind>`, when given) matches. Bad expressions are a 400 naming the
clause.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from confighub_local import pgpattern
from confighub_local.errors import ApiError
from confighub_local.unit_yaml import YamlLimitError, load_docs

_OPS = (
    "NOT IN",
    "NOT LIKE",
    "IN",
    "LIKE",
    "ILIKE",
    "!~~",
    "~~",
    "!~*",
    "~*",
    "!~",
    "~",
    "<=",
    ">=",
    "!=",
    "=",
    "<",
    ">",
)
_CLAUSE = re.compile(
    r"^\s*(?P<path>\S+)\s+(?P<op>" + "|".join(re.escape(o) for o in _OPS) + r")\s+(?P<lit>.+?)\s*$"
)


@dataclass(frozen=True)
class Clause:
    path: tuple[str, ...]
    op: str
    value: Any


def _split_and(expr: str) -> list[str]:
    """Split on AND outside single-quoted strings."""
    parts: list[str] = []
    buf: list[str] = []
    quoted, i = False, 0
    while i < len(expr):
        ch = expr[i]
        if ch == "'":
            quoted = not quoted
        if not quoted and expr[i : i + 5].upper() == " AND ":
            parts.append("".join(buf))
            buf, i = [], i + 5
            continue
        buf.append(ch)
        i += 1
    if quoted:
        raise ApiError(400, f"where_data: unterminated string literal in {expr!r}")
    parts.append("".join(buf))
    return parts


def _literal(text: str, clause: str) -> Any:
    text = text.strip()
    if len(text) >= 2 and text[0] == "'" and text[-1] == "'":
        return text[1:-1].replace("''", "'")
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        raise ApiError(
            400,
            f"where_data: {text!r} in {clause!r} is not a literal (quote strings with '...')",
        ) from None


def parse(expr: str) -> list[Clause]:
    clauses = []
    for raw in _split_and(expr):
        m = _CLAUSE.match(raw)
        if not m:
            raise ApiError(
                400,
                f"where_data: cannot parse {raw.strip()!r}; expected 'path operator literal' "
                "with spaces around the operator",
            )
        op, lit = m.group("op"), m.group("lit")
        value: Any
        if op in ("IN", "NOT IN"):
            inner = lit.strip()
            if not (inner.startswith("(") and inner.endswith(")")):
                raise ApiError(400, f"where_data: {op} needs a parenthesised list in {raw!r}")
            value = [_literal(v, raw) for v in inner[1:-1].split(",") if v.strip()]
        else:
            value = _literal(lit, raw)
            if op in _PATTERN_OPS:
                _program(op, str(value))  # a bad pattern is a 400 now, not while matching
        clauses.append(Clause(tuple(m.group("path").split(".")), op, value))
    return clauses


def _values(node: Any, path: tuple[str, ...]) -> Iterator[Any]:
    if not path:
        yield node
        return
    seg, rest = path[0], path[1:]
    if seg == "*":
        children = node.values() if isinstance(node, dict) else node
        if not isinstance(children, list) and not isinstance(node, dict):
            return
        for child in children:
            yield from _values(child, rest)
    elif seg.startswith("?") and "=" in seg and isinstance(node, list):
        key, _, want = seg[1:].partition("=")
        for child in node:
            if isinstance(child, dict) and str(child.get(key)) == want:
                yield from _values(child, rest)
    elif isinstance(node, dict) and seg in node:
        yield from _values(node[seg], rest)
    elif isinstance(node, list) and seg.isdigit() and int(seg) < len(node):
        yield from _values(node[int(seg)], rest)


_PATTERN_OPS = ("LIKE", "~~", "NOT LIKE", "!~~", "ILIKE", "~", "~*", "!~", "!~*")


def _program(op: str, pattern: str) -> Any:
    """The RE2 program of a pattern operator (linear time, PostgreSQL's semantics, as `where`)."""
    try:
        if op in ("LIKE", "~~", "NOT LIKE", "!~~", "ILIKE"):
            return pgpattern.compile_like(pattern, op == "ILIKE")
        return pgpattern.compile_regex(pattern, op.endswith("*"))
    except pgpattern.PatternError as exc:
        raise ApiError(400, f"where_data: {exc} in {pattern!r}") from None


def _holds(actual: Any, op: str, want: Any) -> bool:
    if op in ("=", "!="):
        same = actual == want or (isinstance(want, str) and str(actual) == want)
        return same if op == "=" else not same
    if op in ("IN", "NOT IN"):
        inside = actual in want or str(actual) in [str(w) for w in want]
        return inside if op == "IN" else not inside
    if op in ("<", ">", "<=", ">="):
        try:
            a, w = (float(actual), float(want)) if not isinstance(want, str) else (actual, want)
            return bool(
                {"<": a < w, ">": a > w, "<=": a <= w, ">=": a >= w}[op]  # type: ignore[operator]
            )
        except (TypeError, ValueError):
            return False
    hit = _program(op, str(want)).search(str(actual)) is not None
    return hit if op in ("LIKE", "~~", "ILIKE", "~", "~*") else not hit


def _doc_type(doc: dict[str, Any]) -> str:
    return f"{doc.get('apiVersion', '')}/{doc.get('kind', '')}"


def predicate(where_data: str | None, resource_type: str | None) -> Callable[[bytes], bool] | None:
    """A test on a unit's data, or None when neither parameter is given."""
    if not where_data and not resource_type:
        return None
    clauses = parse(where_data) if where_data else []

    def matches(data: bytes) -> bool:
        try:
            # bounded like every other read of unit data: a unit beyond the limits matches nothing
            docs = [d for d in load_docs(data) if isinstance(d, dict)]
        except YamlLimitError:
            return False
        for doc in docs:
            if resource_type and _doc_type(doc) != resource_type:
                continue
            negated = ("!=", "NOT IN", "NOT LIKE", "!~~", "!~", "!~*")
            if all(
                any(_holds(v, c.op, c.value) for v in _values(doc, c.path))
                if c.op not in negated
                else all(_holds(v, c.op, c.value) for v in _values(doc, c.path))
                and any(True for _ in _values(doc, c.path))
                for c in clauses
            ):
                return True
        return False

    return matches
