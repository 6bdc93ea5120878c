"""Hostile `where` expressions and `contains` (issue 12): no stall, no 500, PostgreSQL's answers.

Each item of the issue's list has a test here that fails on the code before the fix; a
hypothesis run throws generated expressions at the server under the shared harness.
"""

from __future__ import annotations

import threading
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.server.helpers import b64, new_space, new_unit, ok, slug
from tests.server.hostile import (
    Hostile,
    examples,
    health_probe,
    http_request,
    raw_exchange,
)
from tests.support.server import ServerProcess


@pytest.fixture(scope="module")
def space(client: httpx.Client) -> dict[str, Any]:
    return new_space(client, "where")


def _slugs(resp: httpx.Response) -> set[str]:
    return {row["Unit"]["Slug"] for row in ok(resp)}


# -- the list ---------------------------------------------------------------------------


def test_regex_stall_is_bounded_and_health_answers(
    hostile: Hostile, client: httpx.Client, space: dict[str, Any], server: ServerProcess
) -> None:
    new_unit(client, space["SpaceID"], prefix="redos", DisplayName="a" * 26 + "!")
    with health_probe(server.url):
        for _ in range(5):
            resp = hostile.send(
                "GET",
                f"/space/{space['SpaceID']}/unit",
                params={"where": "DisplayName ~ '(a+)+$'"},
                expect=(200,),
            )
            assert not any(r["Unit"].get("DisplayName", "").endswith("!") for r in resp.json())


def test_where_data_regex_stall_is_bounded_and_bad_patterns_are_400(
    hostile: Hostile, client: httpx.Client, space: dict[str, Any], server: ServerProcess
) -> None:
    """`where_data` runs on unit data with the same bounded engine as `where`."""
    data = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + "a" * 30 + "!\n"
    new_unit(client, space["SpaceID"], data=data, prefix="redos-data")
    with health_probe(server.url):
        for _ in range(3):
            resp = hostile.send(
                "GET",
                f"/space/{space['SpaceID']}/unit",
                params={"where_data": "metadata.name ~ '(a+)+$'"},
                expect=(200,),
            )
            assert resp.json() == []
    for pattern in ("metadata.name ~ '(a)\\1'", "metadata.name LIKE 'a\\'"):
        resp = hostile.send(
            "GET", f"/space/{space['SpaceID']}/unit", params={"where_data": pattern}, expect=(400,)
        )
        assert "where_data" in resp.json()["Message"]


def test_integer_beyond_64_bits_is_400_and_keeps_the_connection(
    hostile: Hostile, server: ServerProcess
) -> None:
    resp = hostile.send(
        "GET", "/unit", params={"where": "HeadRevisionNum = 99999999999999999999999"}
    )
    assert resp.status_code == 400 and "64-bit" in resp.json()["Message"]
    ok(hostile.client.get("/unit", params={"where": f"HeadRevisionNum = {2**63 - 1}"}))
    query = "/api/unit?where=HeadRevisionNum%20%3D%2099999999999999999999999"
    first, second = raw_exchange(
        server.port,
        [http_request("GET", query, server.token), http_request("GET", "/healthz", server.token)],
    )
    assert first.startswith(b"HTTP/1.1 400") and second.startswith(b"HTTP/1.1 200")


def test_more_than_a_thousand_and_clauses_is_400(hostile: Hostile) -> None:
    where = " AND ".join(["HeadRevisionNum > 0"] * 1001)
    resp = hostile.send("GET", "/unit", params={"where": where}, expect=(400,))
    assert "too many clauses" in resp.json()["Message"]


def test_attribute_regex_over_a_stored_invalid_pattern_is_no_500(
    hostile: Hostile, client: httpx.Client, space: dict[str, Any]
) -> None:
    good = new_unit(client, space["SpaceID"], prefix="abc", DisplayName="^abc")
    new_unit(client, space["SpaceID"], prefix="bad", DisplayName="(")
    resp = hostile.send(
        "GET", f"/space/{space['SpaceID']}/unit", params={"where": "Slug ~ DisplayName"}
    )
    assert _slugs(resp) == {good["Slug"]}


@pytest.mark.parametrize(
    "where",
    ["HeadRevisionNum = 99999999999999999999999", " AND ".join(["Slug = 'x'"] * 1001)],
)
def test_trigger_whose_where_cannot_run_is_refused_and_units_still_write(
    hostile: Hostile, client: httpx.Client, where: str
) -> None:
    sp = new_space(client, "trg")
    body = {
        "Slug": slug("trg"),
        "Event": "Mutation",
        "ToolchainType": "Kubernetes/YAML",
        "FunctionName": "vet-placeholders",
        "WhereUnit": where,
    }
    resp = hostile.send("POST", f"/space/{sp['SpaceID']}/trigger", json=body, expect=(400,))
    assert "Trigger.WhereUnit" in resp.json()["Message"]
    unit = new_unit(client, sp["SpaceID"], "apiVersion: v1\nkind: ConfigMap\n")
    ok(
        client.put(
            f"/space/{sp['SpaceID']}/unit/{unit['UnitID']}", json={**unit, "Data": b64("a: 1\n")}
        )
    )


def test_filter_whose_where_cannot_run_is_refused(hostile: Hostile, client: httpx.Client) -> None:
    sp = new_space(client, "flt")
    body = {"Slug": slug("f"), "From": "Unit", "Where": "HeadRevisionNum > 99999999999999999999"}
    resp = hostile.send("POST", f"/space/{sp['SpaceID']}/filter", json=body, expect=(400,))
    assert "Filter.Where" in resp.json()["Message"]


def test_like_honours_backslash_escapes(
    hostile: Hostile, client: httpx.Client, space: dict[str, Any]
) -> None:
    tag = slug("esc")
    exact = new_unit(client, space["SpaceID"], prefix=f"{tag}-a_b")
    new_unit(client, space["SpaceID"], prefix=f"{tag}-axb")
    resp = hostile.send(
        "GET", f"/space/{space['SpaceID']}/unit", params={"where": rf"Slug LIKE '{tag}-a\_b%'"}
    )
    assert _slugs(resp) == {exact["Slug"]}
    resp = hostile.send("GET", "/unit", params={"where": r"Slug LIKE 'x\'"}, expect=(400,))
    assert "escape" in resp.json()["Message"]


def test_ilike_folds_unicode(hostile: Hostile, client: httpx.Client, space: dict[str, Any]) -> None:
    unit = new_unit(client, space["SpaceID"], prefix="uml", DisplayName="Größe ÄÖÜ")
    resp = hostile.send(
        "GET", f"/space/{space['SpaceID']}/unit", params={"where": "DisplayName ILIKE '%äöü%'"}
    )
    assert _slugs(resp) == {unit["Slug"]}
    resp = hostile.send(
        "GET", f"/space/{space['SpaceID']}/unit", params={"where": "DisplayName ~* 'GRÖSSE|größe'"}
    )
    assert _slugs(resp) == {unit["Slug"]}


def test_upper_case_uuids_match_in_where_and_path(
    hostile: Hostile, client: httpx.Client, space: dict[str, Any]
) -> None:
    unit = new_unit(client, space["SpaceID"], prefix="uuid")
    upper = unit["UnitID"].upper()
    resp = hostile.send("GET", "/unit", params={"where": f"UnitID = '{upper}'"}, expect=(200,))
    assert [row["Unit"]["UnitID"] for row in resp.json()] == [unit["UnitID"]]
    resp = hostile.send("GET", f"/space/{space['SpaceID'].upper()}/unit/{upper}", expect=(200,))
    assert resp.json()["Unit"]["UnitID"] == unit["UnitID"]
    resp = hostile.send("GET", "/unit", params={"where": "UnitID = 'not-a-uuid'"}, expect=(400,))
    assert "UUID" in resp.json()["Message"]


@pytest.mark.parametrize("text", ["_", "%", "\\"])
def test_contains_matches_wildcards_literally(
    hostile: Hostile, client: httpx.Client, text: str
) -> None:
    sp = new_space(client, "cnt")
    plain = new_unit(client, sp["SpaceID"], prefix="plain")
    special = new_unit(client, sp["SpaceID"], prefix="spc", DisplayName=f"has {text} inside")
    resp = hostile.send("GET", f"/space/{sp['SpaceID']}/unit", params={"contains": text})
    assert _slugs(resp) == {special["Slug"]}, plain["Slug"]


# -- generated expressions ----------------------------------------------------------------------

_ATTRS = st.sampled_from(
    [
        "Slug",
        "DisplayName",
        "HeadRevisionNum",
        "UnitID",
        "SpaceID",
        "Labels.tier",
        "CreatedAt",
        "Space.Slug",
        "UpstreamUnit.HeadRevisionNum",
        "ApplyGates",
        "Bogus",
        "LEN(ApprovedBy)",
    ]
)
_OPS = st.sampled_from(
    ["=", "!=", "<", ">=", "LIKE", "NOT ILIKE", "~", "~*", "!~", "IN", "?", "IS", "~~", "<>"]
)
_REGEXY = st.text(st.sampled_from(list("a(+)*?[]{}|^$\\.1,:=!<>yYmMZAbBdwsx#-")), max_size=24)
_LITERALS = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.text(max_size=20).map(lambda s: "'" + s.replace("'", "''") + "'"),
    _REGEXY.map(lambda s: "'" + s.replace("'", "''") + "'"),
    st.sampled_from(["TRUE", "NULL", "NOT NULL", "(1, 2)", "('a','b')", "DisplayName", "''"]),
    st.uuids().map(lambda u: f"'{str(u).upper()}'"),
)
_CLAUSE = st.tuples(_ATTRS, _OPS, _LITERALS).map(" ".join)
_EXPRESSIONS = st.one_of(
    st.lists(_CLAUSE, min_size=1, max_size=4).map(" AND ".join),
    st.text(max_size=60),
)


@settings(
    max_examples=examples(120),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(where=_EXPRESSIONS, kind=st.sampled_from(["unit", "space", "filter", "trigger"]))
def test_generated_where_expressions(hostile: Hostile, where: str, kind: str) -> None:
    resp = hostile.send("GET", f"/{kind}", params={"where": where})
    if resp.status_code == 400:
        assert resp.json()["Code"] == "BadRequest"


def test_health_answers_during_a_stream_of_hostile_lists(
    server: ServerProcess, space: dict[str, Any], client: httpx.Client
) -> None:
    new_unit(client, space["SpaceID"], prefix="long", DisplayName="a" * 5000 + "!")
    errors: list[str] = []

    def attack() -> None:
        with server.client(timeout=20.0) as c:
            for pattern in ["(a+)+$", "(a|a)*b", "(a*)*$", "^(a|aa)+$", "(.*a){20}"]:
                resp = c.get("/unit", params={"where": f"DisplayName ~ '{pattern}'"})
                if resp.status_code != 200:
                    errors.append(resp.text)

    with health_probe(server.url) as latencies:
        thread = threading.Thread(target=attack)
        thread.start()
        thread.join(30)
    assert not errors and len(latencies) >= 1
