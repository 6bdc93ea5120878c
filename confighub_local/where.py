"""The `where` language (NOTES.md + the spec's parameter docs) translated to SQLite SQL.

`attr op value` clauses joined by AND; dot paths into maps (`Labels.tier`) and into related
entities (`Space.Labels.x`, `UpstreamUnit.HeadRevisionNum`); attribute-to-attribute comparisons;
`IN (...)`, `LIKE`/`ILIKE`/`~~`, regexes `~ ~* !~ !~*`, array `?` and `LEN()`, `IS [NOT] NULL`,
`IS [NOT] TRUE|FALSE`. Every error names the offending token and its position.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from confighub_local.attributes import ATTRIBUTES, AttrType

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
        if op in ("LIKE", "~~"):
            return f"{lhs} LIKE {rhs}", params
        if op in ("NOT LIKE", "!~~"):
            return f"{lhs} NOT LIKE {rhs}", params
        if op == "ILIKE":
            return f"lower({lhs}) LIKE lower({rhs})", params
        if op == "NOT ILIKE":
            return f"lower({lhs}) NOT LIKE lower({rhs})", params
        if op in ("~", "~*", "!~", "!~*"):
            pattern = rhs if "*" not in op else f"'(?i)' || {rhs}"
            negate = "NOT " if op.startswith("!") else ""
            return f"{negate}regexp({pattern}, {lhs})", [*right.params, *left.params]
        sql_op = "!=" if op == "<>" else op
        return f"{lhs} {sql_op} {rhs}", params

    def in_list(self, left: Operand, op: str) -> tuple[str, list[Any]]:
        opener = self.next()
        if opener.text != "(":
            raise self.fail(opener, "'(' after IN")
        values: list[Operand] = []
        while True:
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
        if op in ("~", "~*", "!~", "!~*") and right.is_literal:
            try:
                re.compile(str(right.value))
            except re.error as exc:
                raise WhereError(
                    f"invalid regular expression {right.token.text} at position "
                    f"{right.token.pos}: {exc}"
                ) from None
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

    def operand(self) -> Operand:
        tok = self.next()
        if tok.kind == "string":
            value = tok.text[1:-1].replace("''", "'")
            return Operand("?", [value], "str", tok, is_literal=True, value=value)
        if tok.kind == "number":
            if "." in tok.text:
                raise WhereError(f"{tok.text!r} at position {tok.pos}: only integers are supported")
            return Operand("?", [int(tok.text)], "int", tok, is_literal=True, value=int(tok.text))
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


def compile_where(expr: str, kind: str) -> Compiled:
    """Translate an expression for entities of `kind` (SQL alias `e`); raises WhereError."""
    return _Parser(expr, kind).parse()


def compile_contains(text: str) -> Compiled:
    """Free-text `contains`: case-insensitive match on Slug, DisplayName and label keys/values."""
    like = f"%{text.lower()}%"
    sql = (
        "lower(e.slug) LIKE ? OR lower(json_extract(e.doc, '$.DisplayName')) LIKE ? OR EXISTS "
        "(SELECT 1 FROM json_each(e.doc, '$.Labels') "
        "WHERE lower(key) LIKE ? OR lower(value) LIKE ?)"
    )
    return Compiled(sql, [like, like, like, like])


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
