"""PostgreSQL pattern matching (`~ ~* !~ !~*`, LIKE, ILIKE) evaluated by RE2.

The hosted service runs on PostgreSQL, so patterns follow PostgreSQL's syntax and case rules.
They run inside SQLite user functions, which hold the GIL and the store lock: a backtracking
engine there freezes the whole server on a pattern like `(a+)+$`. RE2 matches in time linear in
the input, so no pattern or stored value can stall a request. Translation (below) maps
PostgreSQL's ARE syntax onto RE2's; what RE2 cannot do (back references, lookaround, `\\m`,
`\\M`, collating elements) is refused with a message saying so. Both sides of ILIKE and `~*`
fold case by Unicode rules, as PostgreSQL does in a UTF-8 database.
"""

from __future__ import annotations

import sqlite3
from functools import lru_cache
from typing import Any

import re2

MAX_PATTERN = 4096  # characters; RE2's own memory budget bounds the compiled program too


class PatternError(ValueError):
    """A pattern PostgreSQL would refuse, or one the linear-time engine cannot run."""


def _options(case_insensitive: bool, newline_sensitive: bool = False) -> re2.Options:
    opts = re2.Options()
    opts.log_errors = False
    opts.never_capture = True
    opts.case_sensitive = not case_insensitive
    opts.dot_nl = not newline_sensitive
    opts.max_mem = 8 << 20
    return opts


def _literal(ch: str) -> str:
    """One character matched literally."""
    if ch.isalnum() or ord(ch) > 127:
        return ch
    if 32 < ord(ch) < 127:
        return "\\" + ch
    return f"\\x{{{ord(ch):x}}}"


# -- LIKE -------------------------------------------------------------------------------------


def like_to_re2(pattern: str) -> str:
    r"""LIKE with PostgreSQL's default escape `\`: `%` any run, `_` one character."""
    out = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            if i + 1 == len(pattern):
                raise PatternError("LIKE pattern must not end with escape character")
            out.append(_literal(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if ch == "%" else "." if ch == "_" else _literal(ch))
        i += 1
    return "\\A(?:" + "".join(out) + ")\\z"


# -- regular expressions (ARE) ----------------------------------------------------------------

# Unicode-aware classes, as PostgreSQL's are in a UTF-8 database (RE2's are ASCII).
_SHORT = {"d": r"\p{Nd}", "s": r"\s\p{Z}", "w": r"\p{L}\p{N}_"}
_CLASSES = {
    "alpha": r"\p{L}",
    "digit": r"\p{Nd}",
    "alnum": r"\p{L}\p{N}",
    "upper": r"\p{Lu}",
    "lower": r"\p{Ll}",
    "space": r"\s\p{Z}",
    "word": r"\p{L}\p{N}_",
}
_POSIX = {"punct", "xdigit", "cntrl", "print", "graph", "blank", "ascii"}
_ENTRY = {"a": r"\x07", "b": r"\x08", "B": r"\\", "e": r"\x1b", "f": r"\f", "n": r"\n"}
_ENTRY |= {"r": r"\r", "t": r"\t", "v": r"\v"}
_CONSTRAINT = {"A": r"\A", "Z": r"\z", "y": r"\b", "Y": r"\B"}


def _hex_escape(pattern: str, i: int, kind: str) -> tuple[str, int]:
    """`\\x` (any number of hex digits), `\\u` (4) or `\\U` (8) at pattern[i] == kind."""
    want = {"x": 0, "u": 4, "U": 8}[kind]
    j = i + 1
    while (
        j < len(pattern) and pattern[j] in "0123456789abcdefABCDEF" and (not want or j - i <= want)
    ):
        j += 1
    digits = pattern[i + 1 : j]
    if not digits or (want and len(digits) != want) or int(digits, 16) > 0x10FFFF:
        raise PatternError(f"invalid escape \\{kind}{digits}")
    return f"\\x{{{int(digits, 16):x}}}", j


def _escape(pattern: str, i: int, in_bracket: bool) -> tuple[str, int]:
    """Translate the escape whose letter is at pattern[i]; return RE2 text and the next index."""
    if i >= len(pattern):
        raise PatternError("invalid escape \\ sequence at end of pattern")
    ch = pattern[i]
    if ch in _SHORT:
        return (_SHORT[ch] if in_bracket else f"[{_SHORT[ch]}]"), i + 1
    if ch in "DSW":
        if in_bracket:
            raise PatternError(f"invalid escape \\{ch} inside a bracket expression")
        return f"[^{_SHORT[ch.lower()]}]", i + 1
    if ch in _ENTRY:
        return _ENTRY[ch], i + 1
    if ch in "xuU":
        return _hex_escape(pattern, i, ch)
    if ch == "c":
        if i + 1 >= len(pattern):
            raise PatternError("invalid escape \\c at end of pattern")
        return f"\\x{{{ord(pattern[i + 1]) & 0x1F:x}}}", i + 2
    if ch == "0" and not (i + 1 < len(pattern) and pattern[i + 1].isdigit()):
        return r"\x00", i + 1
    if ch.isdigit():
        raise PatternError(
            f"back reference or octal escape \\{ch} is not supported (linear-time engine)"
        )
    if ch in _CONSTRAINT and not in_bracket:
        return _CONSTRAINT[ch], i + 1
    if ch in "mM" and not in_bracket:
        raise PatternError(f"word-edge constraint \\{ch} is not supported (use \\y)")
    if ch.isalnum():
        raise PatternError(f"invalid escape \\{ch}")
    return _literal(ch), i + 1


def _bracket(pattern: str, i: int, newline_sensitive: bool) -> tuple[str, int]:
    """A bracket expression starting at pattern[i] == '['."""
    out = ["["]
    j = i + 1
    if j < len(pattern) and pattern[j] == "^":
        out.append("^")
        if newline_sensitive:
            out.append(r"\n")
        j += 1
    if j < len(pattern) and pattern[j] == "]":
        out.append(r"\]")
        j += 1
    while j < len(pattern) and pattern[j] != "]":
        ch = pattern[j]
        if ch == "[" and j + 1 < len(pattern) and pattern[j + 1] in ":.=":
            close = pattern.find(pattern[j + 1] + "]", j + 2)
            if close < 0:
                raise PatternError("unterminated bracket expression")
            name = pattern[j + 2 : close]
            if pattern[j + 1] != ":":
                raise PatternError("collating elements and equivalence classes are not supported")
            if name in _CLASSES:
                out.append(_CLASSES[name])
            elif name in _POSIX:
                out.append(f"[:{name}:]")
            elif name in ("<", ">"):
                raise PatternError(f"[[:{name}:]] is not supported (use \\y)")
            else:
                raise PatternError(f"invalid character class [:{name}:]")
            j = close + 2
            continue
        if ch == "\\":
            text, j = _escape(pattern, j + 1, True)
            out.append(text)
            continue
        out.append(ch if ch not in "[&~" else "\\" + ch)
        j += 1
    if j >= len(pattern):
        raise PatternError("brackets [] not balanced")
    out.append("]")
    return "".join(out), j + 1


_FLAGS = set("bcehimnpqstwx")


def _embedded(pattern: str) -> tuple[str, dict[str, bool]]:
    """PostgreSQL's `***=` / `***:` directors and a leading `(?flags)`."""
    flags: dict[str, bool] = {}
    if pattern.startswith("***="):
        return pattern[4:], {"q": True}
    if pattern.startswith("***:"):
        pattern = pattern[4:]
    if pattern.startswith("(?") and len(pattern) > 2 and pattern[2] in _FLAGS:
        close = pattern.find(")")
        letters = pattern[2:close] if close > 0 else ""
        if close < 0 or not set(letters) <= _FLAGS:
            raise PatternError(f"invalid embedded options in {pattern[: close + 1]!r}")
        for letter in letters:
            if letter in "be":
                raise PatternError("basic/extended regex flavours (?b)/(?e) are not supported")
            flags[letter] = True
            if letter == "c":
                flags.pop("i", None)
            if letter == "i":
                flags.pop("c", None)
        pattern = pattern[close + 1 :]
    return pattern, flags


def regex_to_re2(pattern: str) -> tuple[str, dict[str, bool]]:
    """Translate a PostgreSQL ARE; return RE2 syntax and the embedded flags it set."""
    if len(pattern) > MAX_PATTERN:
        raise PatternError(f"pattern is longer than {MAX_PATTERN} characters")
    pattern, flags = _embedded(pattern)
    if flags.get("q"):
        return "".join(_literal(c) for c in pattern), flags
    dot_nl_sensitive = bool(flags.get("n") or flags.get("m") or flags.get("p"))
    anchors_multiline = bool(flags.get("n") or flags.get("m") or flags.get("w"))
    expanded = bool(flags.get("x"))
    out = ["(?m)" if anchors_multiline else ""]
    i = 0
    after_constraint = False  # PostgreSQL refuses a quantifier on ^ $ \A \Z \y \Y
    while i < len(pattern):
        ch = pattern[i]
        if expanded and ch in " \t\n\r\f\v":
            i += 1
            continue
        if expanded and ch == "#":
            end = pattern.find("\n", i)
            i = len(pattern) if end < 0 else end + 1
            continue
        if ch in "*+?{" and after_constraint:
            raise PatternError(f"quantifier operand invalid at position {i}")
        after_constraint = ch in "^$"
        if ch == "\\":
            text, i = _escape(pattern, i + 1, False)
            after_constraint = text in _CONSTRAINT.values()
            out.append(text)
            continue
        if ch == "[":
            text, i = _bracket(pattern, i, dot_nl_sensitive)
            out.append(text)
            continue
        if ch == "(" and pattern.startswith("(?", i):
            if not pattern.startswith("(?:", i):
                raise PatternError(
                    f"{pattern[i : i + 4]!r}: lookaround and other (? groups are not "
                    "supported (linear-time engine); only (?: is"
                )
            out.append("(?:")
            i += 3
            continue
        if ch == "." and dot_nl_sensitive:
            out.append(r"[^\n]")
            i += 1
            continue
        out.append(ch)
        i += 1
    return "".join(out), flags


# -- compiled, cached matchers ----------------------------------------------------------------

_INVALID = object()


@lru_cache(maxsize=1024)
def compile_regex(pattern: str, case_insensitive: bool) -> Any:
    """RE2 program for a PostgreSQL regex; raises PatternError naming what is wrong."""
    text, flags = regex_to_re2(pattern)
    if flags.get("i"):
        case_insensitive = True
    if flags.get("c"):
        case_insensitive = False
    try:
        return re2.compile(text, _options(case_insensitive))
    except re2.error as exc:
        detail = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else exc
        raise PatternError(f"invalid regular expression: {detail}") from None


@lru_cache(maxsize=256)
def compile_perl(pattern: str) -> Any:
    """A plain RE2 (Perl-like, as Python's `re`) pattern, for the server's own configuration
    (fault-injection routes): linear time too."""
    opts = _options(False)
    opts.dot_nl = False
    try:
        return re2.compile(pattern, opts)
    except re2.error as exc:
        detail = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else exc
        raise PatternError(f"invalid regular expression: {detail}") from None


@lru_cache(maxsize=1024)
def compile_like(pattern: str, case_insensitive: bool) -> Any:
    if len(pattern) > MAX_PATTERN:
        raise PatternError(f"LIKE pattern is longer than {MAX_PATTERN} characters")
    try:
        return re2.compile(like_to_re2(pattern), _options(case_insensitive))
    except re2.error as exc:  # pragma: no cover - the translation only emits valid syntax
        raise PatternError(f"invalid LIKE pattern: {exc}") from None


def _cached(fn: Any, pattern: str, ci: bool) -> Any:
    try:
        return fn(pattern, ci)
    except PatternError:
        return _INVALID


def _text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


# SQLite user functions. They never raise: a pattern that only fails at run time (taken from a
# stored attribute) makes the comparison unknown (NULL, so the row does not match) rather than
# failing the request; literal patterns are checked when the expression is parsed.


def _sql_regex(value: Any, pattern: Any, ci: Any) -> int | None:
    if value is None or pattern is None:
        return None
    prog = _cached(compile_regex, _text(pattern), bool(ci))
    if prog is _INVALID:
        return None
    return 1 if prog.search(_text(value)) is not None else 0


def _sql_like(value: Any, pattern: Any, ci: Any) -> int | None:
    if value is None or pattern is None:
        return None
    prog = _cached(compile_like, _text(pattern), bool(ci))
    if prog is _INVALID:
        return None
    return 1 if prog.search(_text(value)) is not None else 0


def _sql_icontains(value: Any, needle: Any) -> int | None:
    """`contains=`: a plain case-insensitive substring test, no wildcards."""
    if value is None or needle is None:
        return None
    return 1 if _text(needle).casefold() in _text(value).casefold() else 0


def install(conn: sqlite3.Connection) -> None:
    """Register pg_regex(value, pattern, ci), pg_like(value, pattern, ci), icontains(v, s)."""
    conn.create_function("pg_regex", 3, _sql_regex, deterministic=True)
    conn.create_function("pg_like", 3, _sql_like, deterministic=True)
    conn.create_function("icontains", 2, _sql_icontains, deterministic=True)
