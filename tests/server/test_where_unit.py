"""The where translator on an in-memory store: every operator family, dot paths, relations,
attribute-to-attribute, quoting, and error messages that name the token."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from confighub_local.db import Store
from confighub_local.where import WhereError, compile_where

UNITS = [
    {
        "UnitID": "00000000-0000-0000-0000-000000000001",
        "Slug": "trade-service",
        "Labels": {"tier": "backend", "app.kubernetes.io/name": "trade"},
        "HeadRevisionNum": 3,
        "LiveRevisionNum": 3,
        "ApprovedBy": ["u1"],
        "UpstreamUnitID": None,
        "CreatedAt": "2026-01-02T00:00:00.000000Z",
        "DisplayName": "Trade O'Brien",
    },
    {
        "UnitID": "00000000-0000-0000-0000-000000000002",
        "Slug": "web-front",
        "Labels": {"tier": "frontend"},
        "HeadRevisionNum": 2,
        "LiveRevisionNum": 0,
        "ApprovedBy": [],
        "UpstreamUnitID": "00000000-0000-0000-0000-000000000001",
        "UpstreamRevisionNum": 2,
        "CreatedAt": "2026-03-01T00:00:00.000000Z",
    },
]
SPACE = "10000000-0000-0000-0000-000000000000"


@pytest.fixture(scope="module")
def store() -> Store:
    db = Store(":memory:")
    db.insert(
        "Space", SPACE, {"SpaceID": SPACE, "Slug": "s", "Labels": {"project": "tx"}}, slug="s"
    )
    for unit in UNITS:
        doc = {k: v for k, v in unit.items() if v is not None}
        db.insert(
            "Unit",
            str(unit["UnitID"]),
            {**doc, "SpaceID": SPACE},
            space_id=SPACE,
            slug=str(unit["Slug"]),
        )
    return db


def slugs(store: Store, where: str) -> list[str]:
    c = compile_where(where, "Unit")
    rows = store.select("Unit", where_sql=c.sql, params=c.params, joins=c.join_sql())
    return [r["Slug"] for r in rows]


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("Slug = 'trade-service'", ["trade-service"]),
        ("Slug <> 'trade-service'", ["web-front"]),
        ("Slug >= 'u'", ["web-front"]),
        ("Slug NOT LIKE 'trade%'", ["web-front"]),
        ("Slug ~~ 'web-_ront'", ["web-front"]),
        ("Slug !~~ 'web%'", ["trade-service"]),
        ("Slug NOT ILIKE 'WEB%'", ["trade-service"]),
        ("Slug ~* '^TRADE'", ["trade-service"]),
        ("Slug !~ 'front$'", ["trade-service"]),
        ("HeadRevisionNum IN (2, 9)", ["web-front"]),
        ("HeadRevisionNum NOT IN (2)", ["trade-service"]),
        ("HeadRevisionNum = LiveRevisionNum", ["trade-service"]),
        ("LiveRevisionNum = 0", ["web-front"]),
        ("ApprovedBy ? 'u1'", ["trade-service"]),
        ("LEN(ApprovedBy) = 0", ["web-front"]),
        ("Labels.app.kubernetes.io/name = 'trade'", ["trade-service"]),
        ("Labels.tier IS NOT NULL AND Labels.app.kubernetes.io/name IS NULL", ["web-front"]),
        # spec: `X = v IS NOT FALSE` matches X = v or X NULL
        (
            "UpstreamUnitID = '00000000-0000-0000-0000-000000000001' IS NOT FALSE",
            ["trade-service", "web-front"],
        ),
        ("UpstreamUnitID = '00000000-0000-0000-0000-000000000001' IS TRUE", ["web-front"]),
        ("UpstreamUnitID IS NULL", ["trade-service"]),
        ("CreatedAt > '2026-02-01'", ["web-front"]),
        ("DisplayName = 'Trade O''Brien'", ["trade-service"]),
        ("Space.Labels.project = 'tx' AND Unit.Slug = 'web-front'", ["web-front"]),
        ("UpstreamRevisionNum < UpstreamUnit.HeadRevisionNum", ["web-front"]),
        ("Slug = 'x' and HeadRevisionNum > 0", []),
    ],
)
def test_operators(store: Store, where: str, expected: list[str]) -> None:
    assert slugs(store, where) == expected


@pytest.mark.parametrize(
    ("where", "needle"),
    [
        ("", "empty"),
        ("Slug", "end of expression"),
        ("Slug = 'a' OR Slug = 'b'", "OR is not supported"),
        ("'a' = Slug", "expected an attribute"),
        ("Labels = 'x'", "is a map"),
        ("Slug.x = 'a'", "not a map"),
        ("HeadRevisionNum LIKE 'a%'", "not allowed on integer"),
        ("UnitID ~ 'a'", "not allowed on uuid"),
        ("ApprovedBy = 'x'", "supports only '?'"),
        ("Slug ? 'x'", "needs an array"),
        ("LEN(Slug) > 1", "needs an array"),
        ("Slug IN ('a' 'b')", "',' or ')'"),
        ("Slug IN 'a'", "'(' after IN"),
        ("HeadRevisionNum = 1.5", "only integers"),
        ("Slug = 1", "expected a quoted string"),
        ("Slug = 'a' AND", "end of expression"),
        ("Slug = 'a' #", "unexpected character '#' at position 11"),
        ("Slug ~ '[a'", "invalid regular expression"),
        ("Nope.Slug = 'a'", "unknown attribute 'Nope.Slug'"),
    ],
)
def test_errors_name_the_token(where: str, needle: str) -> None:
    with pytest.raises(WhereError) as err:
        compile_where(where, "Unit")
    assert needle in str(err.value), str(err.value)


def test_values_are_parameters_not_sql(store: Store) -> None:
    hostile = "x'); DROP TABLE entities; --"
    c = compile_where(f"Slug = '{hostile.replace(chr(39), chr(39) * 2)}'", "Unit")
    assert hostile in c.params and "DROP" not in c.sql
    assert slugs(store, "Slug = 'a'' OR ''1''=''1'") == []
    assert json.loads(json.dumps(store.select("Unit")))[0]["Slug"] == "trade-service"


_TOKENS = st.sampled_from(
    [
        "Slug",
        "Labels.tier",
        "HeadRevisionNum",
        "LiveRevisionNum",
        "UnitID",
        "ApprovedBy",
        "Space.Labels.x",
        "UpstreamUnit.HeadRevisionNum",
        "LEN(",
        "(",
        ")",
        ",",
        "=",
        "!=",
        "<",
        ">=",
        "LIKE",
        "NOT",
        "ILIKE",
        "IN",
        "IS",
        "NULL",
        "TRUE",
        "FALSE",
        "AND",
        "OR",
        "~",
        "~*",
        "!~",
        "?",
        "'a'",
        "'%'",
        "''",
        "'['",
        "1",
        "-2",
        "1.5",
        "'x''y'",
        "#",
        "Bogus",
    ]
)


@settings(
    max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(_TOKENS, min_size=1, max_size=8).map(" ".join))
def test_any_expression_compiles_and_runs_or_is_a_where_error(store: Store, expr: str) -> None:
    """Fuzz: nothing but WhereError escapes the parser, and what compiles executes."""
    try:
        compiled = compile_where(expr, "Unit")
    except WhereError as exc:
        assert str(exc)
        return
    store.select("Unit", where_sql=compiled.sql, params=compiled.params, joins=compiled.join_sql())
