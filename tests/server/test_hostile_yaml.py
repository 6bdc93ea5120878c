"""Hostile YAML in unit data (issue 12): alias bombs, deep nesting, huge scalars and generated
documents are refused with a 400 naming the unit and the limit, or handled within budget;
functions and validating triggers never walk unbounded data."""

from __future__ import annotations

import itertools
from typing import Any

import httpx
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.server.helpers import b64, new_space, new_unit, ok, slug
from tests.server.hostile import Hostile, examples, health_probe
from tests.support.server import ServerProcess


def alias_bomb(levels: int = 9, width: int = 9) -> str:
    """The classic 'billion laughs': each level repeats the previous one `width` times."""
    lines = ["a: &a [" + ",".join(['"lol"'] * width) + "]"]
    names = "abcdefghijklmnopqrstuvwxyz"
    for prev, name in itertools.pairwise(names[:levels]):
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * width) + "]")
    return "\n".join(lines) + "\n"


BOMB = alias_bomb()
# the variant that produced a 113 MB response: placeholders in the leaves, one per path
PLACEHOLDER_BOMB = BOMB.replace('"lol"', '"confighubplaceholder"')


@pytest.fixture(scope="module")
def space(client: httpx.Client) -> dict[str, Any]:
    return new_space(client, "yaml")


def _unit_body(data: str, toolchain: str = "Kubernetes/YAML") -> dict[str, Any]:
    return {"Slug": slug("y"), "ToolchainType": toolchain, "Data": b64(data)}


def test_alias_bomb_is_refused_naming_unit_and_limit(
    hostile: Hostile, space: dict[str, Any], server: ServerProcess
) -> None:
    assert len(BOMB) < 500
    body = _unit_body(BOMB)
    with health_probe(server.url):
        resp = hostile.send("POST", f"/space/{space['SpaceID']}/unit", json=body, expect=(400,))
    message = resp.json()["Message"]
    assert body["Slug"] in message and "alias-expansion limit" in message


@pytest.mark.parametrize(
    ("data", "limit"),
    [
        ("a: " + "[" * 5000 + "]" * 5000, "depth"),
        ("".join(f"{' ' * i}k:\n" for i in range(150)) + " " * 150 + "v: 1\n", "depth limit"),
        ("a: " + "9" * 5000, "not valid YAML"),
        ("&a [*a]", "recursive alias"),
        ("items:\n" + "".join(f"- {i}\n" for i in range(100_050)), "node-count limit"),
        ("a: " + "x" * (2 * 1024 * 1024 + 10), "size limit"),
    ],
)
def test_unbounded_documents_are_refused(
    hostile: Hostile, space: dict[str, Any], data: str, limit: str
) -> None:
    body = _unit_body(data)
    resp = hostile.send("POST", f"/space/{space['SpaceID']}/unit", json=body, expect=(400,))
    assert body["Slug"] in resp.json()["Message"] and limit in resp.json()["Message"]


def test_update_to_a_bomb_is_refused_and_keeps_the_old_data(
    hostile: Hostile, client: httpx.Client, space: dict[str, Any]
) -> None:
    unit = new_unit(client, space["SpaceID"], "apiVersion: v1\nkind: ConfigMap\n")
    url = f"/space/{space['SpaceID']}/unit/{unit['UnitID']}"
    hostile.send("PATCH", url, json={"Data": b64(BOMB)}, expect=(400,))
    assert ok(client.get(url))["Unit"]["Data"] == unit["Data"]


def test_function_over_stored_bomb_is_bounded(
    hostile: Hostile, client: httpx.Client, server: ServerProcess
) -> None:
    """Data of another toolchain is stored unparsed; a function over it must still be bounded
    (before: minutes inside the write transaction, and a 113 MB response)."""
    sp = new_space(client, "fnbomb")
    for data in (BOMB, PLACEHOLDER_BOMB):
        ok(client.post(f"/space/{sp['SpaceID']}/unit", json=_unit_body(data, "AppConfig/YAML")))
    body = {"FunctionInvocations": [{"FunctionName": "vet-placeholders"}]}
    with health_probe(server.url):
        resp = hostile.send(
            "POST",
            f"/space/{sp['SpaceID']}/function/invoke",
            params={"where": "Slug LIKE 'y-%'"},
            json=body,
            expect=(207,),
        )
    assert len(resp.content) < 100_000
    for entry in resp.json():
        assert entry["Success"] is False and "alias-expansion limit" in entry["Error"]["Message"]
    ok(client.get(f"/space/{sp['SpaceID']}/unit"))  # the space's lists still answer


def test_validating_trigger_does_not_walk_a_bomb(
    hostile: Hostile, client: httpx.Client, server: ServerProcess
) -> None:
    sp = new_space(client, "trgbomb")
    trigger = {
        "Slug": slug("vet"),
        "Event": "Mutation",
        "ToolchainType": "AppConfig/YAML",
        "FunctionName": "vet-placeholders",
    }
    ok(client.post(f"/space/{sp['SpaceID']}/trigger", json=trigger))
    with health_probe(server.url):
        resp = hostile.send(
            "POST",
            f"/space/{sp['SpaceID']}/unit",
            json=_unit_body(PLACEHOLDER_BOMB, "AppConfig/YAML"),
            expect=(200,),
        )
    assert resp.json()["ApplyGates"] == {f"{trigger['Slug']}/vet-placeholders": True}


def test_aliases_within_limits_still_work(client: httpx.Client, space: dict[str, Any]) -> None:
    data = "apiVersion: v1\nkind: ConfigMap\nmetadata: &m {name: x}\ndata: {copy: *m}\n"
    unit = new_unit(client, space["SpaceID"], data)
    assert unit["HeadRevisionNum"] == 1


# -- generated documents ------------------------------------------------------------------------

_YAMLISH = st.lists(
    st.sampled_from([*"ab:&*!-[]{},?|>'\"#% \n\t0123456789.~@`\\", "&a ", "*a", "<<: "]),
    max_size=60,
).map("".join)
_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20)
)
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@settings(
    max_examples=examples(80),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(text=_YAMLISH)
def test_generated_yaml_text(hostile: Hostile, space: dict[str, Any], text: str) -> None:
    resp = hostile.send("POST", f"/space/{space['SpaceID']}/unit", json=_unit_body(text))
    assert resp.status_code in (200, 400)


@settings(
    max_examples=examples(40),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(doc=st.dictionaries(st.text(min_size=1, max_size=8), _values, min_size=1, max_size=5))
def test_generated_mappings_are_accepted(
    hostile: Hostile, space: dict[str, Any], doc: dict[str, Any]
) -> None:
    text = yaml.safe_dump(doc)
    hostile.send("POST", f"/space/{space['SpaceID']}/unit", json=_unit_body(text), expect=(200,))
