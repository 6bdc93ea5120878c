"""Hostile request bodies (issue 12): a configurable size limit answered with 413 (declared or
chunked, without the server growing), deep nesting, generated bodies for entity writes, and the
one 500 handler: spec error body and a keep-alive connection that stays usable."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.server.helpers import b64, new_space, ok, slug
from tests.server.hostile import (
    Hostile,
    examples,
    health_probe,
    http_request,
    own_server,
    raw_exchange,
    rss_kib,
)
from tests.support.server import ServerProcess

MIB = 1024 * 1024


@pytest.fixture(scope="module")
def space(client: httpx.Client) -> dict[str, Any]:
    return new_space(client, "body")


@pytest.mark.parametrize("size_mib", [20, 49])
def test_oversized_bodies_get_413_without_the_server_growing(
    hostile: Hostile, server: ServerProcess, space: dict[str, Any], size_mib: int
) -> None:
    assert server.proc is not None
    rss_before = rss_kib(server.proc.pid)
    body = json.dumps(
        {"Slug": slug("big"), "ToolchainType": "Kubernetes/YAML", "Data": "A" * (size_mib * MIB)}
    ).encode()
    with health_probe(server.url):
        resp = hostile.send(
            "POST",
            f"/space/{space['SpaceID']}/unit",
            content=body,
            headers={"Content-Type": "application/json"},
            expect=(413,),
        )
    assert "exceeds the limit" in resp.json()["Message"]
    grew_mib = (rss_kib(server.proc.pid) - rss_before) / 1024
    assert grew_mib < 20, f"server grew by {grew_mib:.0f} MiB"


def test_chunked_oversized_body_gets_413(hostile: Hostile, space: dict[str, Any]) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"Slug": "chunked", "Data": "'
        for _ in range(10):
            yield b"A" * MIB
        yield b'"}'

    hostile.send(
        "POST",
        f"/space/{space['SpaceID']}/unit",
        content=chunks(),
        headers={"Content-Type": "application/json"},
        expect=(413,),
    )


def test_limit_is_configurable() -> None:
    with own_server(["--max-body-bytes", "4096"]) as srv, srv.client() as c:
        sp = ok(c.post("/space", json={"Slug": slug("lim")}))
        small = {"Slug": slug("u"), "ToolchainType": "Kubernetes/YAML", "Data": b64("a: 1\n")}
        ok(c.post(f"/space/{sp['SpaceID']}/unit", json=small))
        big = {**small, "Slug": slug("u"), "DisplayName": "x" * 5000}
        assert c.post(f"/space/{sp['SpaceID']}/unit", json=big).status_code == 413


def test_deeply_nested_json_is_400(hostile: Hostile, space: dict[str, Any]) -> None:
    for depth in (70, 5000, 200_000):
        body = {
            "Slug": slug("deep"),
            "Event": "Mutation",
            "ToolchainType": "Kubernetes/YAML",
            "FunctionName": "vet-placeholders",
        }
        text = json.dumps(body)[:-1] + ', "Arguments": ' + "[" * depth + "]" * depth + "}"
        hostile.send(
            "POST",
            f"/space/{space['SpaceID']}/trigger",
            content=text.encode(),
            headers={"Content-Type": "application/json"},
            expect=(400,),
        )


def test_unexpected_errors_answer_the_spec_body_and_keep_the_connection(
    client: httpx.Client, server: ServerProcess
) -> None:
    """A stored row that no longer parses (a damaged DB) is the genuinely unexpected case."""
    sp = new_space(client, "boom")
    tag = ok(client.post(f"/space/{sp['SpaceID']}/tag", json={"Slug": slug("t")}))
    conn = sqlite3.connect(server.db_path, timeout=10)
    try:
        with conn:
            conn.execute("UPDATE entities SET doc = '{broken' WHERE id = ?", (tag["TagID"],))
        path = f"/api/space/{sp['SpaceID']}/tag/{tag['TagID']}"
        first, second = raw_exchange(
            server.port,
            [
                http_request("GET", path, server.token),
                http_request("GET", "/healthz", server.token),
            ],
        )
        head, _, body = first.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 500")
        error = json.loads(body)
        assert error["Code"] == "InternalError" and "see the server log" in error["Message"]
        assert second.startswith(b"HTTP/1.1 200")
    finally:
        with conn:
            conn.execute("DELETE FROM entities WHERE id = ?", (tag["TagID"],))
        conn.close()


# -- generated bodies for entity writes ---------------------------------------------------------

_json = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=12),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=12,
)
_FIELDS = {
    "unit": ["Slug", "ToolchainType", "Data", "Labels", "TargetID", "DisplayName", "Version"],
    "trigger": ["Slug", "Event", "ToolchainType", "FunctionName", "WhereUnit", "Arguments"],
    "filter": ["Slug", "From", "Where", "FromSpaceID", "Labels"],
    "tag": ["Slug", "Labels", "Annotations", "DisplayName"],
    "view": ["Slug", "FilterID", "Columns", "OrderBy"],
}
_VALUES = st.one_of(
    _json,
    st.sampled_from(
        [
            "Kubernetes/YAML",
            "Unit",
            "Mutation",
            "vet-placeholders",
            b64("a: 1\n"),
            b64("&a [*a]"),
            "HeadRevisionNum = 99999999999999999999",
            "Slug ~ '(a+)+$'",
            "00000000-0000-0000-0000-00000000000A",
        ]
    ),
)


@settings(
    max_examples=examples(150),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data(), kind=st.sampled_from(sorted(_FIELDS)))
def test_generated_entity_bodies(
    hostile: Hostile, space: dict[str, Any], data: st.DataObject, kind: str
) -> None:
    fields = data.draw(st.lists(st.sampled_from(_FIELDS[kind]), unique=True, max_size=6))
    body = {name: data.draw(_VALUES) for name in fields}
    if data.draw(st.booleans()):
        body["Slug"] = slug("gen")
    resp = hostile.send("POST", f"/space/{space['SpaceID']}/{kind}", json=body)
    assert resp.status_code in (200, 400, 409)


def test_fault_route_regex_cannot_stall(server: ServerProcess) -> None:
    admin = f"{server.url}/_admin/faults"
    headers = {"Authorization": f"Bearer {server.token}"}
    rules = {"rules": [{"route": "(a+)+$", "latency_ms": 1}]}
    assert httpx.put(admin, json=rules, headers=headers).status_code == 200
    try:
        with health_probe(server.url):
            start = time.perf_counter()
            resp = httpx.get(f"{server.api}/{'a' * 40}!", headers=headers, timeout=20)
            assert resp.status_code == 404 and time.perf_counter() - start < 1.0
        bad = {"rules": [{"route": "(a)\\1"}]}
        assert httpx.put(admin, json=bad, headers=headers).status_code == 400
    finally:
        httpx.delete(admin, headers=headers)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"Slug": "%s", "DisplayName": "\\ud800x"}',  # an unpaired surrogate
        b'{"Slug": "%s", "Labels": {"k": "\\udc00"}}',
        b'{"Slug": "%s", "Labels": {"\\ud800": "v"}}',
        b'{"Slug": "%s", "Annotations": {"a": "b"}, "Permissions": {"x": NaN}}',
        b'{"Slug": "%s", "Permissions": {"x": [Infinity]}}',
    ],
)
def test_values_sqlite_json_cannot_store_are_refused_and_lists_keep_working(
    hostile: Hostile, client: httpx.Client, raw: bytes
) -> None:
    """Stored, they would make every pattern/contains list over the kind fail."""
    body = raw.replace(b"%s", slug("j").encode())
    for url in ("/space", f"/space/{new_space(client, 'js')['SpaceID']}/tag"):
        hostile.send(
            "POST", url, content=body, headers={"Content-Type": "application/json"}, expect=(400,)
        )
    for kind in ("space", "tag"):
        for params in ({"where": "DisplayName ~ 'a'"}, {"contains": "x"}):
            hostile.send("GET", f"/{kind}", params=params, expect=(200,))


def test_out_of_range_numbers_and_bad_strings_in_lookups_are_no_500(
    hostile: Hostile, client: httpx.Client, space: dict[str, Any]
) -> None:
    """Found by fuzzing: lookups bound a 2**70 revision number or an unpaired surrogate
    straight into SQLite, which raised inside the driver."""
    unit = ok(
        client.post(
            f"/space/{space['SpaceID']}/unit",
            json={"Slug": slug("lk"), "ToolchainType": "Kubernetes/YAML", "Data": b64("a: 1\n")},
        )
    )
    url = f"/space/{space['SpaceID']}/unit/{unit['UnitID']}"
    big = "99999999999999999999999"
    hostile.send("PUT", url, params={"restore": big}, json={}, expect=(400, 404))
    hostile.send("POST", f"{url}/apply", params={"revision": big}, json={}, expect=(400, 404, 409))
    raw = b'{"Slug": "\\ud800", "ToolchainType": "Kubernetes/YAML"}'
    hostile.send(
        "POST",
        f"/space/{space['SpaceID']}/unit",
        content=raw,
        headers={"Content-Type": "application/json"},
        expect=(400,),
    )
