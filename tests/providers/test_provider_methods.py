"""Direct tests of provider methods that need no server: check, diff, normalisation, mapping."""

from __future__ import annotations

import base64
import pickle

import dill
import httpx
import pytest
from pulumi.runtime.rpc import UNKNOWN
from pydantic import SecretStr

from components.confighub import calls, connection
from components.confighub.base import (
    MANAGED_BY_KEY,
    MANAGED_BY_VALUE,
    is_managed,
    map_patch,
    normalise,
)
from components.confighub.bridge_worker import BridgeWorkerProvider
from components.confighub.client import SPACE, UNIT, ConfigHubClient
from components.confighub.errors import (
    AdoptionRefusedError,
    ApiError,
    ConfigurationError,
    NotFoundError,
)
from components.confighub.filter import FilterProvider
from components.confighub.models import BridgeWorker, Unit, encode_data
from components.confighub.space import SpaceProvider
from components.confighub.target import TargetProvider
from components.confighub.unit import UnitProvider
from components.confighub.unit_set import UnitSet, member_where
from components.confighub.yamldata import images, same_data

DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: trade-service, namespace: traderx}
spec:
  replicas: 1
  template:
    spec:
      initContainers: [{name: wait, image: busybox:1.36}]
      containers:
        - name: trade-service
          image: ghcr.io/finos/traderx/trade-service:latest
"""

REFORMATTED = """---
kind: Deployment
apiVersion: "apps/v1"
metadata:
  namespace: traderx
  name: trade-service   # a comment
spec:
  template:
    spec:
      containers:
      - image: ghcr.io/finos/traderx/trade-service:latest
        name: trade-service
      initContainers:
      - {image: "busybox:1.36", name: wait}
  replicas: 1
---
"""


def unit_state(**over: object) -> dict[str, object]:
    state: dict[str, object] = {
        "space_id": "s1",
        "slug": "trade-service",
        "data": DEPLOYMENT,
        "labels": {"service": "trade-service"},
        "annotations": {},
        "target_id": None,
        "upstream_unit_id": None,
        "upstream_revision_num": 0,
        "apply": None,
        "apply_timeout_seconds": None,
        "unit_id": "u1",
        "head_revision_num": 1,
        "live_revision_num": 0,
    }
    state.update(over)
    return state


def declared(state: dict[str, object]) -> dict[str, object]:
    outputs = ("unit_id", "head_revision_num", "live_revision_num")
    return {k: v for k, v in state.items() if k not in outputs}


def test_yaml_formatting_key_order_and_empty_documents_are_not_a_change() -> None:
    assert same_data(DEPLOYMENT, REFORMATTED)
    assert not same_data(DEPLOYMENT, DEPLOYMENT.replace("replicas: 1", "replicas: 2"))
    diff = UnitProvider().diff("u1", unit_state(), declared(unit_state(data=REFORMATTED)))
    assert diff.changes is False
    assert diff.replaces == []


def test_changing_one_field_is_an_update_and_slug_or_space_replace() -> None:
    p = UnitProvider()
    changed = p.diff("u1", unit_state(), declared(unit_state(labels={"service": "x"})))
    assert changed.changes is True and changed.replaces == []
    for field, value in (("slug", "other"), ("space_id", "s2")):
        diff = p.diff("u1", unit_state(), declared(unit_state(**{field: value})))
        assert diff.changes is True and diff.replaces == [field]


def test_none_empty_and_missing_maps_are_equal() -> None:
    p = UnitProvider()
    state = unit_state(labels={}, annotations={})
    news = declared(state)
    news.pop("labels")
    news["annotations"] = None
    assert p.diff("u1", state, news).changes is False


def test_unknown_preview_values_count_as_changes_and_replace_when_immutable() -> None:
    p = UnitProvider()
    diff = p.diff("u1", unit_state(), declared(unit_state(space_id=UNKNOWN)))
    assert diff.changes is True and diff.replaces == ["space_id"]
    assert p.check({}, declared(unit_state(space_id=UNKNOWN, data=UNKNOWN))).failures == []


def test_any_pin_change_is_a_change_older_or_newer() -> None:
    """Promotion goes both ways: a lower pin is a change too (it used to be ignored)."""
    p = UnitProvider()
    state = unit_state(upstream_unit_id="up", upstream_revision_num=3)
    assert p.diff(
        "u1", state, declared(unit_state(upstream_unit_id="up", upstream_revision_num=4))
    ).changes
    lower = declared(unit_state(upstream_unit_id="up", upstream_revision_num=2))
    assert p.diff("u1", state, lower).changes is True
    same = declared(unit_state(upstream_unit_id="up", upstream_revision_num=3))
    assert p.diff("u1", state, same).changes is False
    unpinned = declared(unit_state(upstream_unit_id="up", upstream_revision_num=None))
    assert p.diff("u1", state, unpinned).changes is False


def test_unapplied_head_with_target_and_apply_is_a_change() -> None:
    p = UnitProvider()
    state = unit_state(target_id="t1", head_revision_num=3, live_revision_num=2)
    assert p.diff("u1", state, declared(state)).changes is True
    applied = unit_state(target_id="t1", head_revision_num=3, live_revision_num=3)
    assert p.diff("u1", applied, declared(applied)).changes is False
    not_applying = unit_state(target_id="t1", apply=False, head_revision_num=3, live_revision_num=2)
    assert p.diff("u1", not_applying, declared(not_applying)).changes is False


def test_check_names_the_bad_input() -> None:
    p = UnitProvider()
    failures = p.check({}, {"space_id": "s", "slug": "bad slug!", "data": "a: [1"}).failures
    props = {f.property: f.reason for f in failures}
    assert "slug" in props and "bad slug!" in props["slug"]
    assert "data" in props and "YAML" in props["data"]
    missing = p.check({}, {"slug": "x"}).failures
    assert {f.property for f in missing} >= {"space_id"}
    no_data = p.check({}, {"space_id": "s", "slug": "x"}).failures
    assert [f.property for f in no_data] == ["data"]
    pin_alone = p.check(
        {}, {"space_id": "s", "slug": "x", "data": "a: 1", "upstream_revision_num": 2}
    )
    assert [f.property for f in pin_alone.failures] == ["upstream_revision_num"]
    bad_labels = SpaceProvider().check({}, {"slug": "dev", "labels": {"a": 1}}).failures
    assert bad_labels and bad_labels[0].property == "labels"


def test_create_body_encodes_data_and_marks_ownership() -> None:
    body = UnitProvider().create_body(declared(unit_state(annotations={"owner": "dev"})))
    assert base64.b64decode(body["Data"]).decode() == DEPLOYMENT
    assert body["ToolchainType"] == "Kubernetes/YAML"
    assert body["Annotations"] == {"owner": "dev", MANAGED_BY_KEY: MANAGED_BY_VALUE}
    clone = UnitProvider().create_body(declared(unit_state(upstream_unit_id="up")))
    assert "Data" not in clone and "UpstreamUnitID" not in clone


def test_patch_is_minimal_and_removes_dropped_map_keys() -> None:
    server = Unit.model_validate(
        {
            "UnitID": "u1",
            "Slug": "trade-service",
            "Data": encode_data(REFORMATTED),
            "Labels": {"service": "trade-service", "stale": "x"},
            "Annotations": {MANAGED_BY_KEY: MANAGED_BY_VALUE},
        }
    )
    patch = UnitProvider().patch_for(server, declared(unit_state()))
    assert patch == {"Labels": {"stale": None}}
    assert map_patch({"a": "1", "b": "2"}, {"a": "1", "c": "3"}) == {"c": "3", "b": None}


def test_outputs_keep_declared_spelling_when_semantically_equal() -> None:
    server = Unit.model_validate(
        {
            "UnitID": "u1",
            "Slug": "trade-service",
            "Data": encode_data(REFORMATTED),
            "HeadRevisionNum": 2,
            "LiveRevisionNum": 1,
            "UpstreamRevisionNum": 0,
        }
    )
    outs = UnitProvider().outputs(server, declared(unit_state()))
    assert outs["data"] == DEPLOYMENT
    assert (outs["unit_id"], outs["head_revision_num"], outs["live_revision_num"]) == ("u1", 2, 1)
    edited = server.model_copy(update={"data": encode_data("kind: ConfigMap\n")})
    assert UnitProvider().outputs(edited, declared(unit_state()))["data"] == "kind: ConfigMap\n"


def test_target_parameters_compare_as_json() -> None:
    p = TargetProvider()
    base = {
        "space_id": "s",
        "slug": "t",
        "bridge_worker_id": "w",
        "provider_type": "Kubernetes",
        "toolchain_type": "Kubernetes/YAML",
    }
    olds = {**base, "parameters": '{"b": 1, "a": "x"}', "target_id": "t1"}
    assert p.diff("t1", olds, {**base, "parameters": {"a": "x", "b": 1}}).changes is False
    assert p.diff("t1", olds, {**base, "parameters": {"a": "y", "b": 1}}).changes is True
    assert normalise("json", "") is None and normalise("json", None) is None


def test_images_of_every_container() -> None:
    assert images(DEPLOYMENT) == {
        "wait": "busybox:1.36",
        "trade-service": "ghcr.io/finos/traderx/trade-service:latest",
    }


def test_unit_set_is_labels_plus_filter_expression() -> None:
    labels = UnitSet.member_labels("critical-services")
    assert labels == {"set_critical_services": "member"}
    assert member_where("critical-services") == "Labels.set_critical_services = 'member'"
    with pytest.raises(ValueError, match="UnitSet slug"):
        UnitSet.member_labels("bad slug")


def test_filter_from_kind_is_required() -> None:
    failures = FilterProvider().check({}, {"space_id": "s", "slug": "f"}).failures
    assert [f.property for f in failures] == ["from_kind"]


def test_providers_pickle_without_connection_state() -> None:
    """Provider instances go into state: they must carry nothing, least of all the token."""
    connection.configure_from_config(
        {"confighub:url": "http://h:1", "confighub:token": "tok-SECRET"}
    )
    try:
        for provider in (UnitProvider(), SpaceProvider(), BridgeWorkerProvider()):
            blob = dill.dumps(provider, protocol=pickle.DEFAULT_PROTOCOL, recurse=True)
            assert b"tok-SECRET" not in blob and b"http://h:1" not in blob
            assert vars(provider) == {}
    finally:
        connection.reset()


def test_connection_from_stack_config_then_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONFIGHUB_URL", "http://env:1")
    monkeypatch.setenv("CONFIGHUB_TOKEN", "env-token")
    connection.reset()
    assert connection.current_settings().url == "http://env:1"
    connection.configure_from_config(
        {"confighub:url": "http://cfg:2/", "confighub:token": "cfg-TOKEN-42"}
    )
    settings = connection.current_settings()
    assert settings.url == "http://cfg:2" and settings.api == "http://cfg:2/api"
    assert "cfg-TOKEN-42" not in repr(settings) and "cfg-TOKEN-42" not in str(settings)
    connection.configure_from_config({})
    assert connection.current_settings().token.get_secret_value() == "env-token"  # type: ignore[union-attr]
    with pytest.raises(ConfigurationError, match="scheme://host:port"):
        connection.configure_from_config({"confighub:url": "hub.example.com/x"})
    connection.reset()


def test_bridge_worker_repr_hides_secret() -> None:
    worker = BridgeWorker.model_validate({"BridgeWorkerID": "w", "Slug": "w", "Secret": "s3cr3t"})
    assert "s3cr3t" not in repr(worker) and "s3cr3t" not in str(worker)


def _client(handler: httpx.MockTransport) -> ConfigHubClient:
    settings = connection.ConnectionSettings(url="http://hub.test", token=SecretStr("TOKEN-xyz"))
    return ConfigHubClient(settings, transport=handler, max_attempts=4)


def test_errors_carry_server_message_and_request_but_not_token() -> None:
    transport = httpx.MockTransport(
        lambda req: httpx.Response(400, json={"Code": "400", "Message": "bad where: Slug =="})
    )
    with pytest.raises(ApiError) as err:
        _client(transport).list_entities(UNIT, "s1", where="Slug ==")
    text = str(err.value)
    assert "GET /space/s1/unit" in text and "bad where: Slug ==" in text and "HTTP 400" in text
    assert "TOKEN-xyz" not in text


def test_retries_5xx_and_429_with_retry_after_then_succeeds() -> None:
    seen: list[str] = []

    def handler(req: httpx.Request) -> httpx.Response:
        seen.append(req.headers["Authorization"])
        if len(seen) == 1:
            return httpx.Response(503, json={"Message": "busy"})
        if len(seen) == 2:
            return httpx.Response(429, headers={"Retry-After": "0"}, json={"Message": "slow down"})
        return httpx.Response(200, json={"Space": {"SpaceID": "s1", "Slug": "dev"}})

    calls.reset()
    space = _client(httpx.MockTransport(handler)).get(SPACE, None, "s1")
    assert space.id == "s1" and len(seen) == 3
    assert seen[0] == "Bearer TOKEN-xyz"
    assert calls.snapshot().reads == 3


def test_404_is_not_found_and_not_retried() -> None:
    count = 0

    def handler(req: httpx.Request) -> httpx.Response:
        nonlocal count
        count += 1
        return httpx.Response(404, json={"Message": "Unit u not found"})

    with pytest.raises(NotFoundError):
        _client(httpx.MockTransport(handler)).get(UNIT, "s", "u")
    assert count == 1


def test_create_whose_answer_was_lost_is_adopted_not_repeated() -> None:
    """POST acted but its answer was lost (502): the retry finds the slug and adopts it."""
    stored: list[dict[str, object]] = []
    posts = 0

    def handler(req: httpx.Request) -> httpx.Response:
        nonlocal posts
        if req.method == "GET":
            return httpx.Response(200, json=[{"Space": s} for s in stored])
        posts += 1
        stored.append(
            {"SpaceID": "s1", "Slug": "dev", "Annotations": {MANAGED_BY_KEY: MANAGED_BY_VALUE}}
        )
        return httpx.Response(502, json={"Message": "bad gateway"})

    body = {"Slug": "dev", "Annotations": {MANAGED_BY_KEY: MANAGED_BY_VALUE}}
    entity, adopted = _client(httpx.MockTransport(handler)).create_or_adopt(
        SPACE, None, body, is_ours=is_managed
    )
    assert (entity.id, adopted, posts, len(stored)) == ("s1", True, 1, 1)


def test_conflict_with_a_foreign_object_is_refused() -> None:
    def handler(req: httpx.Request) -> httpx.Response:
        if req.method == "GET":
            return httpx.Response(200, json=[{"Space": {"SpaceID": "s9", "Slug": "dev"}}])
        return httpx.Response(409, json={"Message": "exists"})

    with pytest.raises(AdoptionRefusedError, match="'dev' already exists"):
        _client(httpx.MockTransport(handler)).create_or_adopt(
            SPACE, None, {"Slug": "dev"}, is_ours=is_managed
        )


def test_empty_target_parameters_mean_none() -> None:
    assert normalise("json", {}) is None and normalise("json", "{}") is None


def test_wait_for_falls_back_to_unit_events_and_names_the_failure() -> None:
    """A server without GET unit_action/{id}: the unit's events for the operation decide."""
    from components.confighub.errors import OperationFailedError
    from components.confighub.models import QueuedOperation
    from components.confighub.operations import wait_for

    polls = 0

    def handler(req: httpx.Request) -> httpx.Response:
        nonlocal polls
        if "/unit_action/" in req.url.path:
            return httpx.Response(404, json={"Message": "no such route"})
        polls += 1
        assert "QueuedOperationID = 'op1'" in req.url.params["where"]
        status = "Progressing" if polls < 3 else "Failed"
        event = {
            "QueuedOperationID": "op1",
            "UnitEventNum": polls,
            "Status": status,
            "Result": "ApplyFailed" if polls >= 3 else "None",
            "Message": "image pull failed" if polls >= 3 else "working",
        }
        return httpx.Response(200, json=[event])

    op = QueuedOperation.model_validate({"QueuedOperationID": "op1", "Status": "Pending"})
    with pytest.raises(OperationFailedError, match="apply of unit 'web' failed: image pull failed"):
        wait_for(
            _client(httpx.MockTransport(handler)),
            "s",
            "u",
            op,
            what="apply of unit 'web'",
            timeout=30,
        )
    assert polls == 3


def test_upstream_revision_replaces_when_another_revision_is_asked_for() -> None:
    from components.confighub.upstream_revision import UpstreamRevisionProvider

    p = UpstreamRevisionProvider()
    olds = {
        "space_id": "s",
        "unit_id": "u",
        "revision_num": 2,
        "revision_id": "r2",
        "data": "",
        "images": {},
    }
    same = p.diff("r2", olds, {"space_id": "s", "unit_id": "u", "revision_num": 2.0})
    assert same.changes is False
    other = p.diff("r2", olds, {"space_id": "s", "unit_id": "u", "revision_num": 3})
    assert other.changes is True and other.replaces == ["revision_num"]
    failures = p.check({}, {"space_id": "s", "unit_id": "u", "revision_num": 0}).failures
    assert [f.property for f in failures] == ["revision_num"]
