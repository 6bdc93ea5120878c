"""Hostile function arguments and unit data for functions (issue 12): generated arguments for
every function, data shapes functions do not expect, and outputs over budget. None is a 5xx,
none is slow, and a refused invocation writes nothing."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.server.helpers import new_space, new_unit, ok
from tests.server.hostile import Hostile, examples

DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 1
  template:
    spec:
      containers:
      - {name: web, image: "nginx:1", env: [{name: A, value: x}]}
"""
ODD = """apiVersion: apps/v1
kind: Deployment
metadata: {name: odd}
spec:
  replicas: 2001-01-01
  template:
    spec:
      containers:
      - {name: web, image: 7, env: 5, resources: [1]}
"""
FUNCTIONS = [
    "set-image-reference",
    "set-image",
    "set-replicas",
    "get-replicas",
    "get-image",
    "set-namespace",
    "set-env-var",
    "set-container-resources",
    "vet-placeholders",
]


@pytest.fixture(scope="module")
def space(client: httpx.Client) -> dict[str, Any]:
    sp = new_space(client, "fn")
    new_unit(client, sp["SpaceID"], DEPLOYMENT, prefix="web")
    new_unit(client, sp["SpaceID"], ODD, prefix="odd")
    return sp


def _invoke(name: str, args: list[Any]) -> dict[str, Any]:
    return {
        "FunctionInvocations": [{"FunctionName": name, "Arguments": [{"Value": a} for a in args]}]
    }


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("set-env-var", ["*", "B", "y"]),  # env: 5 on the odd unit
        ("set-container-resources", ["*", "all", "9" * 5000, "1Mi"]),
        ("set-container-resources", ["*", "all", "100m", "1Mi", 2]),  # resources: [1]
        ("get-replicas", []),  # a timestamp as replicas
        ("get-image", ["*"]),
    ],
)
def test_functions_on_odd_data_fail_the_unit_not_the_request(
    hostile: Hostile, space: dict[str, Any], name: str, args: list[Any]
) -> None:
    resp = hostile.send(
        "POST",
        f"/space/{space['SpaceID']}/function/invoke",
        params={"where": "Slug LIKE 'odd-%'"},
        json=_invoke(name, args),
        expect=(200, 207),
    )
    for entry in resp.json():
        assert entry["Success"] or entry["Error"]["Message"]


def test_output_over_the_data_limit_is_refused_and_writes_nothing(
    hostile: Hostile, client: httpx.Client, space: dict[str, Any]
) -> None:
    before = ok(
        client.get(f"/space/{space['SpaceID']}/unit", params={"where": "Slug LIKE 'web-%'"})
    )
    resp = hostile.send(
        "POST",
        f"/space/{space['SpaceID']}/function/invoke",
        params={"where": "Slug LIKE 'web-%'"},
        json=_invoke("set-env-var", ["web", "BIG", "x" * (3 * 1024 * 1024)]),
        expect=(207,),
    )
    assert "data size limit" in resp.json()[0]["Error"]["Message"]
    after = ok(client.get(f"/space/{space['SpaceID']}/unit", params={"where": "Slug LIKE 'web-%'"}))
    assert after == before


_ARG = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.text(max_size=40),
    st.sampled_from(["*", "web", ":1.2", "@sha256:" + "a" * 64, "250m", "1Gi", "all", "0"]),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
)


@settings(
    max_examples=examples(150),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    name=st.sampled_from(FUNCTIONS),
    args=st.lists(_ARG, max_size=6),
    named=st.booleans(),
    dry_run=st.booleans(),
)
def test_generated_function_arguments(
    hostile: Hostile,
    space: dict[str, Any],
    name: str,
    args: list[Any],
    named: bool,
    dry_run: bool,
) -> None:
    body = _invoke(name, args)
    if named:
        for i, arg in enumerate(body["FunctionInvocations"][0]["Arguments"]):
            arg["ParameterName"] = ["container-name", "image", "replicas", "bogus"][i % 4]
    resp = hostile.send(
        "POST",
        f"/space/{space['SpaceID']}/function/invoke",
        params={"where": "Slug LIKE '%'", "dry_run": str(dry_run).lower()},
        json=body,
    )
    assert resp.status_code in (200, 207, 400)


@settings(
    max_examples=examples(40),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    body=st.one_of(
        st.none(),
        st.integers(),
        st.lists(st.text(max_size=5), max_size=3),
        st.dictionaries(
            st.sampled_from(["FunctionInvocations", "ChangeDescription", "x"]),
            st.one_of(
                st.text(max_size=10),
                st.lists(
                    st.dictionaries(
                        st.sampled_from(["FunctionName", "Arguments"]),
                        st.one_of(st.text(max_size=10), st.lists(st.integers(), max_size=2)),
                    ),
                    max_size=2,
                ),
            ),
            max_size=3,
        ),
    )
)
def test_generated_invocation_bodies(hostile: Hostile, space: dict[str, Any], body: Any) -> None:
    resp = hostile.send(
        "POST",
        f"/space/{space['SpaceID']}/function/invoke",
        params={"where": "Slug LIKE '%'", "dry_run": "true"},
        json=body,
    )
    assert resp.status_code in (200, 207, 400)
