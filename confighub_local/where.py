"""The `where` language (NOTES.md + the spec's parameter docs) translated to SQLite SQL.

`attr op value` clauses joined by AND; dot paths into maps (`Labels.tier`) and into related
entities (`Space.Labels.x`, `UpstreamUnit.HeadRevisionNum`); attribute-to-attribute comparisons;
`IN (...)`, `LIKE`/`ILIKE`/`~~`, regexes `~ ~* !~ !~*`, array `?` and `LEN()`, `IS [NOT] NULL`,
`IS [NOT] TRUE|FALSE`. Every error names the offending token and its position.

Everything that could fail when the SQL runs is checked here instead, so a stored expression
(Filter.Where, Trigger.WhereUnit) that parsed once can never fail later: integer literals fit
64 bits, UUID and time literals parse (and are normalised: UUIDs compare case-insensitively),
literal patterns compile, and the expression stays within the size limits below (SQLite's own
limits, such as its expression depth of 1000, would otherwise surface as errors at run time).
Patterns follow PostgreSQL (see pgpattern.py) and run on a linear-time engine.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from confighub_local.attributes import ATTRIBUTES, AttrType
from confighub_local.pgpattern import PatternError, compile_like, compile_regex

ALIAS = "e"

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<string>'(?:[^']|'')*')
  | (?P<number>-?\d+(?:\.\d+)?(?![A-Za-z_]))
  | (?P<op>!~~|!~\*|!~|~~|~\*|~|<=|>=|<>|!=|=|<|>|\?)
  | (?P<punct>[(),])
  | (?P<ident>[A-Za-z_][A-Za-z0-9_.\-/]*)
    """,
    re.VERBOSE,
)
MAX_LENGTH = 65536  # characters in one expression
MAX_CLAUSES = 200  # AND-joined clauses
MAX_IN_VALUES = 1000  # literals in one IN (...)
INT64 = (-(2**63), 2**63 - 1)

_KEYWORDS = {"AND", "IN", "NOT", "LIKE", "ILIKE", "IS", "NULL", "TRUE", "FALSE", "LEN", "OR"}


class WhereError(ValueError):
    """A malformed or unsupported expression; the message names the token."""


@dataclass(frozen=True)
class Token:
    kind: str  # string | number | op | punct | ident | kw | end
    text: str
    pos: int

    @property
    def upper(self) -> str:
        return self.text.upper()


def tokenize(expr: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(expr):
        m = _TOKEN.match(expr, pos)
        if not m:
            if expr[pos] == "'":
                raise WhereError(f"unterminated string starting at position {pos}")
            raise WhereError(f"unexpected character {expr[pos]!r} at position {pos}")
        kind = m.lastgroup or ""
        text = m.group()
        if kind == "ident" and text.upper() in _KEYWORDS:
            kind = "kw"
        if kind != "ws":
            tokens.append(Token(kind, text, pos))
        pos = m.end()
    tokens.append(Token("end", "", len(expr)))
    return tokens


@dataclass(frozen=True)
class Relation:
    """A related entity reachable by prefix, e.g. `Space.` from a Unit."""

    kind: str
    alias: str
    join: str


# Related entities per kind: prefix -> how to join it onto alias `e`.
_SPACE = Relation(
    "Space", "sp", "LEFT JOIN entities sp ON sp.kind = 'Space' AND sp.id = e.space_id"
)
RELATIONS: dict[str, dict[str, Relation]] = {
    "Unit": {
        "Space": _SPACE,
        "UpstreamUnit": Relation(
            "Unit",
            "uu",
            "LEFT JOIN entities uu ON uu.kind = 'Unit' "
            "AND uu.id = json_extract(e.doc, '$.UpstreamUnitID')",
        ),
        "Target": Relation(
            "Target",
            "tg",
            "LEFT JOIN entities tg ON tg.kind = 'Target' "
            "AND tg.id = json_extract(e.doc, '$.TargetID')",
        ),
    },
}

_ID_FIELD = {
    "Space": "SpaceID",
    "Unit": "UnitID",
    "Filter": "FilterID",
    "Link": "LinkID",
    "Target": "TargetID",
    "BridgeWorker": "BridgeWorkerID",
    "Tag": "TagID",
    "ChangeSet": "ChangeSetID",
    "Trigger": "TriggerID",
    "Revision": "RevisionID",
    "UnitEvent": "UnitEventID",
    "QueuedOperation": "QueuedOperationID",
    "View": "ViewID",
    "Invocation": "InvocationID",
}


# maps whose values are booleans (the spec's map[string]bool), e.g. ApplyGates.<trigger> = true
_BOOL_MAPS = frozenset({"ApplyGates", "ApplyWarnings", "DeleteGates", "DestroyGates"})


@dataclass
class Operand:
    sql: str
    params: list[Any]
    type: AttrType
    token: Token
    is_literal: bool = False
    value: Any = None
    array_attr: str | None = None  # for `?`: the JSON path of the array
    alias: str = ALIAS


@dataclass
class Compiled:
    sql: str = ""
    params: list[Any] = field(default_factory=list)
    joins: list[str] = field(default_factory=list)

    def join_sql(self) -> str:
        return " ".join(self.joins)


def _json_key(key: str, token: Token) -> str:
    if '"' in key or not key:
        raise WhereError(f"invalid map key in {token.text!r} at position {token.pos}")
    return f'"{key}"'


class _Parser:
    def __init__(self, expr: str, kind: str) -> None:
        if kind not in ATTRIBUTES:
            raise WhereError(f"where is not supported on {kind}")
        self.kind = kind
        self.tokens = tokenize(expr)
        self.i = 0
        self.joins: list[str] = []

    # -- token helpers ------------------------------------------------------------------------

    def peek(self, offset: int = 0) -> Token:
        return self.tokens[min(self.i + offset, len(self.tokens) - 1)]

    def next(self) -> Token:
        tok = self.peek()
        self.i += 1
        return tok

    def fail(self, tok: Token, expected: str) -> WhereError:
        if tok.kind == "end":
            return WhereError(f"unexpected end of expression: expected {expected}")
        return WhereError(
            f"unexpected token {tok.text!r} at position {tok.pos}: expected {expected}"
        )

    def accept_kw(self, *words: str) -> bool:
        if self.peek().kind == "kw" and self.peek().upper == words[0]:
            if len(words) > 1 and not (
                self.peek(1).kind == "kw" and self.peek(1).upper == words[1]
            ):
                return False
            self.i += len(words)
            return True
        return False

    # -- grammar ------------------------------------------------------------------------------

    def parse(self) -> Compiled:
        if self.peek().kind == "end":
            raise WhereError("empty where expression")
        parts: list[str] = []
        params: list[Any] = []
        while True:
            if len(parts) == MAX_CLAUSES:
                raise WhereError(
                    f"too many clauses: more than {MAX_CLAUSES} AND-joined clauses "
                    f"(at position {self.peek().pos})"
                )
            sql, p = self.clause()
            parts.append(sql)
            params.extend(p)
            tok = self.peek()
            if tok.kind == "end":
                break
            if tok.kind == "kw" and tok.upper == "AND":
                self.i += 1
                continue
            if tok.kind == "kw" and tok.upper == "OR":
                raise WhereError(f"OR is not supported (token 'OR' at position {tok.pos}); use AND")
            raise self.fail(tok, "AND or end of expression")
        return Compiled(" AND ".join(f"({p})" for p in parts), params, self.joins)

    def clause(self) -> tuple[str, list[Any]]:
        left = self.operand()
        if left.is_literal:
            raise WhereError(
                f"expected an attribute name at position {left.token.pos}, got {left.token.text!r}"
            )
        tok = self.peek()
        if (
            tok.kind == "kw"
            and tok.upper == "IS"
            and (
                self.peek(1).upper == "NULL"
                or (self.peek(1).upper == "NOT" and self.peek(2).upper == "NULL")
            )
        ):
            self.i += 1
            negate = self.accept_kw("NOT")
            self.next()
            return (f"{left.sql} IS {'NOT ' if negate else ''}NULL", list(left.params))
        sql, params = self.comparison(left)
        if self.accept_kw("IS"):
            negate = self.accept_kw("NOT")
            truth = self.next()
            if truth.kind != "kw" or truth.upper not in ("TRUE", "FALSE"):
                raise self.fail(truth, "TRUE or FALSE")
            sql = f"({sql}) IS {'NOT ' if negate else ''}{truth.upper}"
        return sql, params

    def comparison(self, left: Operand) -> tuple[str, list[Any]]:
        tok = self.next()
        op = tok.upper if tok.kind in ("op", "kw") else ""
        if op == "NOT":
            nxt = self.next()
            if nxt.kind != "kw" or nxt.upper not in ("IN", "LIKE", "ILIKE"):
                raise self.fail(nxt, "IN, LIKE or ILIKE after NOT")
            op = "NOT " + nxt.upper
        if op in ("IN", "NOT IN"):
            return self.in_list(left, op)
        if op not in (
            "=",
            "!=",
            "<>",
            "<",
            ">",
            "<=",
            ">=",
            "LIKE",
            "NOT LIKE",
            "ILIKE",
            "NOT ILIKE",
            "~~",
            "!~~",
            "~",
            "~*",
            "!~",
            "!~*",
            "?",
        ):
            raise self.fail(tok, "a comparison operator")
        right = self.operand()
        self.check(left, op, right, tok)
        params = [*left.params, *right.params]
        lhs, rhs = left.sql, right.sql
        if op == "?":
            return (
                f"EXISTS (SELECT 1 FROM json_each({left.alias}.doc, ?) WHERE value = {rhs})",
                [left.array_attr, *right.params],
            )
        if op in ("LIKE", "~~", "NOT LIKE", "!~~", "ILIKE", "NOT ILIKE"):
            negate = "NOT " if op.startswith(("NOT", "!")) else ""
            ci = 1 if "ILIKE" in op else 0
            return f"{negate}pg_like({lhs}, {rhs}, {ci})", params
        if op in ("~", "~*", "!~", "!~*"):
            negate = "NOT " if op.startswith("!") else ""
            ci = 1 if "*" in op else 0
            return f"{negate}pg_regex({lhs}, {rhs}, {ci})", params
        sql_op = "!=" if op == "<>" else op
        if left.type == "uuid" and not right.is_literal and right.type != "uuid":
            return f"lower({lhs}) {sql_op} lower({rhs})", params
        if right.type == "uuid" and not left.is_literal and left.type != "uuid":
            return f"lower({lhs}) {sql_op} lower({rhs})", params
        return f"{lhs} {sql_op} {rhs}", params

    def in_list(self, left: Operand, op: str) -> tuple[str, list[Any]]:
        opener = self.next()
        if opener.text != "(":
            raise self.fail(opener, "'(' after IN")
        values: list[Operand] = []
        while True:
            if len(values) == MAX_IN_VALUES:
                raise WhereError(
                    f"IN list at position {opener.pos} has more than {MAX_IN_VALUES} values"
                )
            value = self.operand()
            if not value.is_literal:
                raise self.fail(value.token, "a literal inside IN (...)")
            self.check(left, "=", value, value.token)
            values.append(value)
            sep = self.next()
            if sep.text == ")":
                break
            if sep.text != ",":
                raise self.fail(sep, "',' or ')'")
        marks = ", ".join("?" for _ in values)
        params = [*left.params, *(v.params[0] for v in values)]
        return f"{left.sql} {op} ({marks})", params

    def check(self, left: Operand, op: str, right: Operand, tok: Token) -> None:
        """Operator/type rules from the spec: ints compare, UUIDs and bools only (in)equality."""
        ltype = left.type
        if ltype in ("map", "object"):
            raise WhereError(
                f"attribute {left.token.text!r} at position {left.token.pos} is a map; "
                "use a dot path such as Labels.key"
            )
        if op == "?":
            if ltype != "array":
                raise WhereError(f"operator '?' at position {tok.pos} needs an array attribute")
            if not (right.is_literal and right.type == "str"):
                raise self.fail(right.token, "a quoted string after '?'")
            return
        if ltype == "array":
            raise WhereError(
                f"array attribute {left.token.text!r} at position {left.token.pos} supports only "
                "'?' and LEN()"
            )
        if ltype in ("uuid", "bool") and op not in ("=", "!=", "<>"):
            raise WhereError(
                f"operator {tok.text!r} at position {tok.pos} is not allowed on {ltype} attribute "
                f"{left.token.text!r} (only = and !=)"
            )
        if ltype == "int" and op not in ("=", "!=", "<>", "<", ">", "<=", ">="):
            raise WhereError(
                f"operator {tok.text!r} at position {tok.pos} is not allowed on integer attribute "
                f"{left.token.text!r}"
            )
        if right.is_literal and isinstance(right.value, str):
            self.check_pattern(op, right)
        rtype = right.type
        stringy = {"str", "uuid", "time"}
        ok = (
            (ltype == "int" and rtype == "int")
            or (ltype == "bool" and rtype == "bool")
            or (ltype in stringy and rtype in stringy)
        )
        if not ok:
            what = "a quoted string" if ltype in stringy else f"an {ltype} value"
            if ltype == "bool":
                what = "true or false"
            raise WhereError(
                f"{right.token.text!r} at position {right.token.pos} does not match attribute "
                f"{left.token.text!r}: expected {what}"
            )
        if right.is_literal and op in ("=", "!=", "<>", "<", ">", "<=", ">="):
            if ltype == "uuid":
                right.params[0] = right.value = _uuid_literal(right)
            elif ltype == "time":
                right.params[0] = right.value = _time_literal(right)

    def check_pattern(self, op: str, right: Operand) -> None:
        """Literal LIKE/regex patterns must compile now, not fail when the SQL runs."""
        regex = op in ("~", "~*", "!~", "!~*")
        try:
            if regex:
                compile_regex(str(right.value), "*" in op)
            elif op in ("LIKE", "~~", "NOT LIKE", "!~~", "ILIKE", "NOT ILIKE"):
                compile_like(str(right.value), "ILIKE" in op)
        except PatternError as exc:
            what = "regular expression" if regex else "LIKE pattern"
            raise WhereError(
                f"invalid {what} {right.token.text} at position {right.token.pos}: {exc}"
            ) from None

    def operand(self) -> Operand:
        tok = self.next()
        if tok.kind == "string":
            value = tok.text[1:-1].replace("''", "'")
            return Operand("?", [value], "str", tok, is_literal=True, value=value)
        if tok.kind == "number":
            if "." in tok.text:
                raise WhereError(f"{tok.text!r} at position {tok.pos}: only integers are supported")
            number = int(tok.text) if len(tok.text) <= 20 else INT64[1] + 1
            if not INT64[0] <= number <= INT64[1]:
                raise WhereError(
                    f"integer {tok.text[:30]!r} at position {tok.pos} is out of range "
                    "for a 64-bit integer"
                )
            return Operand("?", [number], "int", tok, is_literal=True, value=number)
        if tok.kind == "kw" and tok.upper in ("TRUE", "FALSE"):
            truth = 1 if tok.upper == "TRUE" else 0
            return Operand("?", [truth], "bool", tok, is_literal=True, value=bool(truth))
        if tok.kind == "kw" and tok.upper == "LEN":
            if self.next().text != "(":
                raise self.fail(self.tokens[self.i - 1], "'(' after LEN")
            inner = self.operand()
            is_map = inner.type == "map" and "." not in inner.token.text
            if not is_map and (inner.type != "array" or inner.array_attr is None):
                raise WhereError(
                    f"LEN() at position {tok.pos} needs an array or map attribute, "
                    f"got {inner.token.text!r}"
                )
            close = self.next()
            if close.text != ")":
                raise self.fail(close, "')'")
            if is_map:  # number of keys, e.g. LEN(ApplyGates) > 0 (cub's own manual)
                return Operand(
                    f"(SELECT count(*) FROM json_each({inner.alias}.doc, ?))",
                    [f"$.{inner.token.text.rsplit('.', 1)[-1]}"],
                    "int",
                    tok,
                )
            return Operand(
                f"COALESCE(json_array_length({inner.alias}.doc, ?), 0)",
                [inner.array_attr],
                "int",
                tok,
            )
        if tok.kind == "ident":
            return self.attribute(tok)
        raise self.fail(tok, "an attribute or a literal")

    def attribute(self, tok: Token) -> Operand:
        kind, alias = self.kind, ALIAS
        path = tok.text
        head, _, rest = path.partition(".")
        relations = RELATIONS.get(self.kind, {"Space": _SPACE} if self.kind != "Space" else {})
        if head == self.kind and rest and head not in ATTRIBUTES[self.kind]:
            path = rest
        elif head in relations and rest and head not in ATTRIBUTES[self.kind]:
            rel = relations[head]
            kind, alias, path = rel.kind, rel.alias, rest
            if rel.join not in self.joins:
                self.joins.append(rel.join)
        name, _, key = path.partition(".")
        attrs = ATTRIBUTES[kind]
        if name not in attrs:
            raise WhereError(
                f"unknown attribute {tok.text!r} at position {tok.pos} for {kind}; "
                f"supported: {', '.join(sorted(attrs))}"
            )
        atype = attrs[name]
        if key:
            if atype != "map":
                raise WhereError(
                    f"attribute {name!r} in {tok.text!r} at position {tok.pos} is not a map"
                )
            return Operand(
                f"json_extract({alias}.doc, ?)",
                [f"$.{name}.{_json_key(key, tok)}"],
                "bool" if name in _BOOL_MAPS else "str",
                tok,
                alias=alias,
            )
        if name == "Slug":
            return Operand(f"{alias}.slug", [], "str", tok, alias=alias)
        if name == "SpaceID" and kind != "Space":
            return Operand(f"{alias}.space_id", [], "uuid", tok, alias=alias)
        if _ID_FIELD.get(kind) == name:
            return Operand(f"{alias}.id", [], "uuid", tok, alias=alias)
        return Operand(
            f"json_extract({alias}.doc, '$.{name}')",
            [],
            atype,
            tok,
            array_attr=f"$.{name}" if atype == "array" else None,
            alias=alias,
        )


def _uuid_literal(op: Operand) -> str:
    try:
        return str(uuid.UUID(str(op.value)))
    except ValueError:
        raise WhereError(
            f"{op.token.text[:60]} at position {op.token.pos} is not a valid UUID"
        ) from None


def _time_literal(op: Operand) -> str:
    """As stored (RFC 3339, UTC, microseconds), so string order is time order."""
    try:
        stamp = datetime.fromisoformat(str(op.value))
    except ValueError:
        raise WhereError(
            f"{op.token.text[:60]} at position {op.token.pos} is not a valid timestamp "
            "(RFC 3339, e.g. '2026-01-31T12:00:00Z')"
        ) from None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return stamp.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def compile_where(expr: str, kind: str) -> Compiled:
    """Translate an expression for entities of `kind` (SQL alias `e`); raises WhereError."""
    if len(expr) > MAX_LENGTH:
        raise WhereError(f"where expression is longer than {MAX_LENGTH} characters")
    return _Parser(expr, kind).parse()


def compile_contains(text: str) -> Compiled:
    """Free-text `contains`: case-insensitive substring of Slug, DisplayName or a label key or
    value. The text is matched literally (`%` and `_` are not wildcards)."""
    sql = (
        "icontains(e.slug, ?) OR icontains(json_extract(e.doc, '$.DisplayName'), ?) OR EXISTS "
        "(SELECT 1 FROM json_each(e.doc, '$.Labels') "
        "WHERE icontains(key, ?) OR icontains(value, ?))"
    )
    return Compiled(sql, [text, text, text, text])


def combine(*parts: Compiled) -> Compiled:
    out = Compiled()
    sqls = []
    for part in parts:
        if not part.sql:
            continue
        sqls.append(f"({part.sql})")
        out.params.extend(part.params)
        for join in part.joins:
            if join not in out.joins:
                out.joins.append(join)
    out.sql = " AND ".join(sqls)
    return out
