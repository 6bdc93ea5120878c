"""The platform objects, declared as plain CustomResources (components/stack/platform.py, which
keeps pulumi-kubernetes' generated modules out of the program's start), send the engine exactly
the registration the typed pulumi-kubernetes classes send: type, inputs on the wire (secrets
included), aliases, secret outputs, provider and version. A difference here would show as a
diff on every stack.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pulumi
import pulumi_kubernetes as k8s
import pytest
from google.protobuf import json_format
from pulumi.runtime import mocks

from components.model.catalog import SERVICE_NAMES
from components.model.manifests import (
    DB_SECRET_NAME,
    DB_SECRET_PASSWORD_KEY,
    DB_SECRET_USER_KEY,
    PART_OF,
    selector_labels,
)
from components.stack.platform import ROLES, Platform, PlatformArgs, network_policies

ARGS = PlatformArgs(
    environment="staging",
    namespace="ns-wire",
    ingress_controller_namespace="ingress-nginx",
    rbac_group="sre-team",
    database_user="sa",
)
# where the two declarations differ by nature: their names, and where in the code they are
PER_DECLARATION = ("name", "parent", "sourcePosition", "stackTrace", "parentStackTraceHandle")


class Echo(pulumi.runtime.Mocks):
    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[Any]]:
        return {}, []


@pytest.fixture
def requests(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, dict[str, Any]]]:
    """Every RegisterResource request the mock engine receives, by resource name."""
    seen: dict[str, dict[str, Any]] = {}
    real = mocks.MockMonitor.RegisterResource

    def record(self: Any, request: Any) -> Any:
        seen[request.name] = json_format.MessageToDict(request)
        return real(self, request)

    monkeypatch.setattr(mocks.MockMonitor, "RegisterResource", record)
    pulumi.runtime.set_mocks(Echo(), preview=False)
    yield seen


def typed_platform(
    name: str, args: PlatformArgs, password: str, parent: Any
) -> list[pulumi.CustomResource]:
    """The same objects through the typed classes (as platform.py declared them before)."""
    child = pulumi.ResourceOptions(parent=parent)
    ns = args.namespace
    made: list[pulumi.CustomResource] = []
    meta = {"app.kubernetes.io/part-of": PART_OF, "app.kubernetes.io/managed-by": "pulumi"}
    secret = k8s.core.v1.Secret(
        f"{name}-db-credentials",
        metadata={"name": DB_SECRET_NAME, "namespace": ns, "labels": meta},
        type="Opaque",
        string_data={
            DB_SECRET_USER_KEY: args.database_user,
            DB_SECRET_PASSWORD_KEY: pulumi.Output.secret(password),
        },
        opts=child,
    )
    made.append(secret)
    for svc in SERVICE_NAMES:
        sa = k8s.core.v1.ServiceAccount(
            f"{name}-sa-{svc}",
            metadata={"name": svc, "namespace": ns, "labels": {**meta, **selector_labels(svc)}},
            automount_service_account_token=False,
            opts=child,
        )
        made.append(sa)
    for p in network_policies(ns, args.ingress_controller_namespace):
        np = k8s.networking.v1.NetworkPolicy(
            f"{name}-np-{p['metadata']['name']}",
            metadata={**p["metadata"], "labels": meta},
            spec=p["spec"],
            opts=child,
        )
        made.append(np)
    role_name, default_group, rules = ROLES[args.environment]
    role = k8s.rbac.v1.Role(
        f"{name}-role",
        metadata={"name": role_name, "namespace": ns, "labels": meta},
        rules=rules,
        opts=child,
    )
    made.append(role)
    binding = k8s.rbac.v1.RoleBinding(
        f"{name}-rolebinding",
        metadata={"name": role_name, "namespace": ns, "labels": meta},
        role_ref={"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": role_name},
        subjects=[
            {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Group",
                "name": args.rbac_group or default_group,
            }
        ],
        opts=child,
    )
    made.append(binding)
    return made


def comparable(request: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in request.items() if k not in PER_DECLARATION}


@pulumi.runtime.test
def test_generic_declarations_register_what_the_typed_classes_do(
    requests: dict[str, dict[str, Any]],
) -> Any:
    provider = pulumi.ResourceOptions(provider=k8s.Provider("k"))
    generic = Platform("g", ARGS, database_password="pw", opts=provider)
    parent = pulumi.ComponentResource("traderx:platform:Platform", "t", None, provider)
    typed = typed_platform("t", ARGS, "pw", parent)

    def compare(_: Any) -> bool:
        mine = {n.removeprefix("g-"): r for n, r in requests.items() if n.startswith("g-")}
        theirs = {n.removeprefix("t-"): r for n, r in requests.items() if n.startswith("t-")}
        assert len(mine) == len(generic.ready) == 1 + len(SERVICE_NAMES) + 4 + 2
        assert mine.keys() == theirs.keys()
        for key, request in mine.items():
            assert comparable(request) == comparable(theirs[key]), key
        secret = mine["db-credentials"]
        assert secret["additionalSecretOutputs"] == ["data", "stringData"]
        sig = secret["object"]["stringData"]["4dabf18193072939515e22adb298388d"]
        assert sig == "1b47061264138c4ac30d75fd1eb44270"  # the secret signature: sent as secret
        assert mine["role"]["aliases"] and mine["np-default-deny-all"]["aliases"]
        return True

    # wait for both sides' registrations: the typed ones may still be in flight when the
    # generic ones have resolved
    return pulumi.Output.all(*[r.urn for r in [*generic.ready, *typed]]).apply(compare)
