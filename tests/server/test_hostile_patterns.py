"""PostgreSQL pattern semantics on the bounded engine (pgpattern.py), as pure units: LIKE against
a reference implementation of PostgreSQL's rules, regexes against Python's `re` where the two
syntaxes agree, PostgreSQL-only syntax translated, unsupported syntax refused, and time linear
in the input for the classic catastrophic patterns."""

from __future__ import annotations

import re
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from confighub_local.pgpattern import PatternError, compile_like, compile_regex
from tests.server.hostile import examples

# -- PostgreSQL's LIKE, checked against a reference --------------------------------------------


def _reference_like(value: str, pattern: str, ci: bool) -> bool:
    """PostgreSQL's LIKE by the book: backslash escapes, % any run, _ one character."""
    if ci:
        value, pattern = value.lower(), pattern.lower()
    out, i = "", 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            out += re.escape(pattern[i + 1])
            i += 2
            continue
        out += ".*" if ch == "%" else "." if ch == "_" else re.escape(ch)
        i += 1
    return re.fullmatch(out, value, re.S) is not None


_ALPHABET = st.sampled_from(list("ab%_\\Ää\nß.*"))


@settings(max_examples=examples(300), deadline=None)
@given(
    value=st.text(_ALPHABET, max_size=8), pattern=st.text(_ALPHABET, max_size=6), ci=st.booleans()
)
def test_like_agrees_with_postgresql_semantics(value: str, pattern: str, ci: bool) -> None:
    if pattern.endswith("\\") and (len(pattern) - len(pattern.rstrip("\\"))) % 2:
        return  # PostgreSQL refuses it; the parser does too (test above)
    got = compile_like(pattern, ci).search(value) is not None
    assert got == _reference_like(value, pattern, ci), (value, pattern, ci)


_RE_COMMON = st.lists(
    st.sampled_from(["a", "b", "a*", "b+", "(a|b)", "[ab]", "[^a]", ".", "a?", "(ab)+", "^", "$"]),
    max_size=6,
).map("".join)


@settings(max_examples=examples(300), deadline=None)
@given(pattern=_RE_COMMON, value=st.text(st.sampled_from(list("ab\nc")), max_size=10))
def test_regex_agrees_with_backtracking_engine_where_syntax_is_shared(
    pattern: str, value: str
) -> None:
    expected = re.search(pattern, value, re.S) is not None
    if "$" in pattern:  # Python's $ also matches before a final newline; PostgreSQL's does not
        expected = re.search(pattern.replace("$", r"\Z"), value, re.S) is not None
    assert (compile_regex(pattern, False).search(value) is not None) == expected


@pytest.mark.parametrize(
    ("pattern", "value", "ci", "matches"),
    [
        (r"\yfoo\y", "a foo b", False, True),
        (r"\yfoo\y", "afoob", False, False),
        (r"\Yoo\Y", "afoob", False, True),
        (r"abc\Z", "xabc", False, True),
        ("[[:alpha:]]+ü", "Grüü", False, True),
        (r"^\w+$", "größe_1", False, True),
        (r"^\d$", "٣", False, True),  # Unicode digits, as in a UTF-8 database
        ("(?i)ABC", "xabc", False, True),
        ("(?c)ABC", "abc", True, False),
        ("***=a.b", "axb", False, False),
        ("***=a.b", "a.b", False, True),
        (r"\x41\u00e4", "Aä", False, True),
        ("Ä", "ä", True, True),
        ("a.b", "a\nb", False, True),  # . matches newline unless (?n)
        ("(?n)a.b", "a\nb", False, False),
        ("(?n)^b", "a\nb", False, True),
        ("(?x) a b # comment", "ab", False, True),
    ],
)
def test_postgresql_regex_syntax(pattern: str, value: str, ci: bool, matches: bool) -> None:
    assert (compile_regex(pattern, ci).search(value) is not None) == matches


@pytest.mark.parametrize(
    ("pattern", "needle"),
    [
        (r"(a)\1", "back reference"),
        ("(?=a)", "lookaround"),
        ("(?<!a)b", "lookaround"),
        (r"\mfoo", "word-edge"),
        ("[[:<:]]foo", "not supported"),
        ("[[.a.]]", "collating"),
        ("(a", "missing )"),
        ("[a", "not balanced"),
        (r"\q", "invalid escape"),
        ("(?b)a", "flavours"),
        ("a" * 5000, "longer than"),
        ("^*", "quantifier operand invalid"),
        (r"a\y+", "quantifier operand invalid"),
        ("${2}", "quantifier operand invalid"),
    ],
)
def test_unsupported_or_invalid_patterns_are_refused(pattern: str, needle: str) -> None:
    with pytest.raises(PatternError) as err:
        compile_regex(pattern, False)
    assert needle in str(err.value)


@pytest.mark.parametrize("pattern", ["(a+)+$", "(a|a)*b", "(a*)*$", "^(a|aa)+$", "(.*a){12}"])
def test_catastrophic_patterns_run_in_linear_time(pattern: str) -> None:
    prog = compile_regex(pattern, False)
    start = time.perf_counter()
    for size in (26, 1000, 100_000):
        prog.search("a" * size + "!")
    assert time.perf_counter() - start < 0.5
