"""Per rule: a passing and a failing case, on Deployments and on ConfigHub unit data."""

from __future__ import annotations

from typing import Any

import pytest

from policies.objects import objects_of
from tests.policies.factories import (
    DEPLOYMENT,
    UNIT,
    RunResource,
    container,
    good_deployment,
    unit_props,
)

WORKLOAD_RULES = [
    "images-pinned",
    "container-resources",
    "pod-security",
    "probes-present",
    "replicas-within-bounds",
    "no-secret-literals",
]


@pytest.mark.parametrize("rule", WORKLOAD_RULES)
def test_good_deployment_passes_every_rule(run_resource: RunResource, rule: str) -> None:
    # guard against a vacuous pass: the unit's data really yields the Deployment
    assert [o.kind for o in objects_of(UNIT, unit_props([good_deployment()]), "u")] == [
        "Deployment"
    ]
    assert run_resource(rule, DEPLOYMENT, good_deployment()) == []
    assert run_resource(rule, UNIT, unit_props([good_deployment()])) == []


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ("ghcr.io/finos/traderx/trade-service:latest", "floating tag ':latest'"),
        ("ghcr.io/finos/traderx/trade-service", "has no tag"),
        ("localhost:5000/trade-service", "has no tag"),
        ("ghcr.io/finos/traderx/trade-service@sha256:abc", "malformed digest"),
        ("", "has no image"),
    ],
)
def test_unpinned_images_fail(run_resource: RunResource, image: str, expected: str) -> None:
    dep = good_deployment()
    container(dep)["image"] = image
    messages = run_resource("images-pinned", DEPLOYMENT, dep)
    assert len(messages) == 1
    assert expected in messages[0]
    assert "pin a version tag" in messages[0]
    assert "Deployment 'trade-service': container 'trade-service'" in messages[0]


def test_pinned_digest_and_registry_port_pass(run_resource: RunResource) -> None:
    dep = good_deployment()
    container(dep)["image"] = "ghcr.io/finos/traderx/trade-service@sha256:" + "a" * 64
    assert run_resource("images-pinned", DEPLOYMENT, dep) == []
    container(dep)["image"] = "localhost:5000/traderx/trade-service:2026.1"
    assert run_resource("images-pinned", DEPLOYMENT, dep) == []


def test_latest_image_in_unit_data_fails_naming_the_unit(run_resource: RunResource) -> None:
    dep = good_deployment()
    container(dep)["image"] = "ghcr.io/finos/traderx/trade-service:latest"
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "trade-service"}}
    messages = run_resource("images-pinned", UNIT, unit_props([svc, dep]))
    assert messages == [
        "ConfigHub unit 'trade-service': Deployment 'trade-service': container 'trade-service' "
        "image 'ghcr.io/finos/traderx/trade-service:latest' uses the floating tag ':latest'; pin "
        "a version tag (e.g. ghcr.io/finos/traderx/trade-service:1.4.2) or a digest "
        "(…@sha256:<64 hex>) in the environment's image config."
    ]


def test_init_container_image_is_checked(run_resource: RunResource) -> None:
    dep = good_deployment()
    dep["spec"]["template"]["spec"]["initContainers"] = [
        {**container(dep), "name": "wait-db", "image": "busybox"}
    ]
    messages = run_resource("images-pinned", DEPLOYMENT, dep)
    assert len(messages) == 1 and "'wait-db'" in messages[0]


@pytest.mark.parametrize(
    ("path", "missing"),
    [
        (("limits", "memory"), "resources.limits.memory"),
        (("requests", "cpu"), "resources.requests.cpu"),
    ],
)
def test_missing_resources_fail(
    run_resource: RunResource, path: tuple[str, str], missing: str
) -> None:
    dep = good_deployment()
    del container(dep)["resources"][path[0]][path[1]]
    messages = run_resource("container-resources", UNIT, unit_props([dep]))
    assert len(messages) == 1
    assert f"lacks {missing};" in messages[0]


def test_no_resources_lists_all_four(run_resource: RunResource) -> None:
    dep = good_deployment()
    del container(dep)["resources"]
    [message] = run_resource("container-resources", DEPLOYMENT, dep)
    for field in ("requests.cpu", "requests.memory", "limits.cpu", "limits.memory"):
        assert f"resources.{field}" in message


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d["spec"]["template"]["spec"].pop("securityContext"), "may run as root"),
        (
            lambda d: container(d).__setitem__("securityContext", {"runAsNonRoot": False}),
            "may run as root",
        ),
        (lambda d: container(d).pop("securityContext"), "allows privilege escalation"),
        (
            lambda d: container(d)["securityContext"].__setitem__("privileged", True),
            "is privileged",
        ),
    ],
)
def test_pod_security_failures(run_resource: RunResource, mutate: Any, expected: str) -> None:
    dep = good_deployment()
    mutate(dep)
    messages = run_resource("pod-security", DEPLOYMENT, dep)
    assert any(expected in m for m in messages), messages
    assert all("securityContext" in m for m in messages)


def test_container_level_non_root_is_enough(run_resource: RunResource) -> None:
    dep = good_deployment()
    dep["spec"]["template"]["spec"].pop("securityContext")
    container(dep)["securityContext"]["runAsNonRoot"] = True
    assert run_resource("pod-security", DEPLOYMENT, dep) == []


@pytest.mark.parametrize("probe", ["readinessProbe", "livenessProbe"])
def test_missing_probe_fails(run_resource: RunResource, probe: str) -> None:
    dep = good_deployment()
    del container(dep)[probe]
    [message] = run_resource("probes-present", UNIT, unit_props([dep]))
    assert f"has no {probe};" in message


@pytest.mark.parametrize(
    ("service", "replicas", "stack_name", "expected"),
    [
        ("trade-processor", 2, "dev", "set spec.replicas: 1"),
        ("database", 3, "prod", "set spec.replicas: 1"),
        ("trade-feed", 0, "staging", "set spec.replicas: 1"),
        ("trade-service", 2, "prod", "set spec.replicas to at least 3"),
        ("reference-data", 1, "prod", "set spec.replicas to at least 3"),
    ],
)
def test_replicas_out_of_bounds_fail(
    run_resource: RunResource,
    stack: Any,
    service: str,
    replicas: int,
    stack_name: str,
    expected: str,
) -> None:
    stack(stack_name)
    messages = run_resource(
        "replicas-within-bounds", DEPLOYMENT, good_deployment(service, replicas)
    )
    assert len(messages) == 1 and expected in messages[0], messages


@pytest.mark.parametrize(
    ("service", "replicas", "stack_name"),
    [
        ("trade-processor", 1, "prod"),
        ("trade-service", 1, "dev"),
        ("trade-service", 3, "prod"),
        ("people-service", 1, "prod"),
        ("unrelated-app", 7, "prod"),
    ],
)
def test_replicas_within_bounds_pass(
    run_resource: RunResource, stack: Any, service: str, replicas: int, stack_name: str
) -> None:
    stack(stack_name)
    dep = good_deployment(service, replicas)
    assert run_resource("replicas-within-bounds", DEPLOYMENT, dep) == []


def test_replica_defaults_to_one_and_unit_env_label_wins(
    run_resource: RunResource, stack: Any
) -> None:
    stack("dev")  # the unit says prod, so the prod bound applies
    dep = good_deployment("position-service")
    del dep["spec"]["replicas"]
    [message] = run_resource("replicas-within-bounds", UNIT, unit_props([dep], env="prod"))
    assert "runs 1 replica(s) in prod" in message


def test_replica_bounds_are_configurable(run_resource: RunResource) -> None:
    dep = good_deployment("people-service", 1)
    config = {"criticalServices": ["people-service"], "minCriticalReplicas": 2}
    [message] = run_resource("replicas-within-bounds", DEPLOYMENT, dep, config=config)
    assert "at least 2" in message
    with pytest.raises(ValueError, match="criticalServices"):
        run_resource("replicas-within-bounds", DEPLOYMENT, dep, config={"criticalServices": "x"})


@pytest.mark.parametrize(
    "var",
    [
        {"name": "DATABASE_DBPASS", "value": "sa"},
        {"name": "apiToken", "value": "t0k3n-value"},
        {"name": "CLIENT_SECRET", "value": "x"},
        {"name": "SIGNING_KEY", "valueFrom": {"configMapKeyRef": {"name": "c", "key": "k"}}},
    ],
)
def test_secret_literals_fail_without_leaking_the_value(
    run_resource: RunResource, var: dict[str, Any]
) -> None:
    dep = good_deployment()
    container(dep)["env"].append(var)
    [message] = run_resource("no-secret-literals", UNIT, unit_props([dep]))
    assert f"env {var['name']} is set from" in message
    assert "valueFrom.secretKeyRef" in message
    if "value" in var:
        assert var["value"] not in message.replace("secretKeyRef", "")


def test_secret_lookalike_can_be_allowed(run_resource: RunResource) -> None:
    dep = good_deployment()
    container(dep)["env"].append({"name": "PUBLIC_KEY_PATH", "value": "/etc/key.pem"})
    assert run_resource("no-secret-literals", DEPLOYMENT, dep) != []
    config = {"allowedNames": ["PUBLIC_KEY_PATH"]}
    assert run_resource("no-secret-literals", DEPLOYMENT, dep, config=config) == []


def test_secret_object_in_unit_data_fails(run_resource: RunResource) -> None:
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "traderx-db"},
        "stringData": {"password": "sa"},
    }
    [message] = run_resource("no-secret-literals", UNIT, unit_props([secret]))
    assert "plain text" in message and "'sa'" not in message


def test_root_exception_is_explicit_and_narrow(run_resource: RunResource) -> None:
    dep = good_deployment("database", 1)
    dep["spec"]["template"]["spec"].pop("securityContext")
    config = {"allowRootWorkloads": ["database"]}
    assert run_resource("pod-security", DEPLOYMENT, dep, config=config) == []
    container(dep)["securityContext"]["allowPrivilegeEscalation"] = True
    [message] = run_resource("pod-security", DEPLOYMENT, dep, config=config)
    assert "allows privilege escalation" in message
    other = {"allowRootWorkloads": ["trade-feed"]}
    assert any(
        "may run as root" in m for m in run_resource("pod-security", DEPLOYMENT, dep, config=other)
    )


def test_other_workload_kinds_in_unit_data_are_checked(run_resource: RunResource) -> None:
    pod_spec = good_deployment()["spec"]["template"]["spec"]
    pod_spec["containers"][0]["image"] = "busybox:latest"
    cron = {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "backup"},
        "spec": {"jobTemplate": {"spec": {"template": {"spec": pod_spec}}}},
    }
    stateful = {**good_deployment("database", 1), "kind": "StatefulSet"}
    stateful["spec"]["replicas"] = 2
    props = unit_props([cron, stateful])
    [image] = run_resource("images-pinned", UNIT, props)
    assert "CronJob 'backup'" in image
    [replicas] = run_resource("replicas-within-bounds", UNIT, props)
    assert "StatefulSet 'database': database runs 2 replicas" in replicas


def test_stable_scaled_to_zero_by_a_blue_green_rollout_passes(
    run_resource: RunResource, stack: Any
) -> None:
    """Only the rollout's own mark (a slot serves, docs/progressive-delivery.md) exempts a
    critical Deployment at 0 in prod; 0 without it, or the mark with 1, still fails."""
    from components.model.rollout import REPLICAS_OWNER

    stack("prod")
    dep = good_deployment("trade-service", 0)
    assert len(run_resource("replicas-within-bounds", DEPLOYMENT, dep)) == 1
    dep["metadata"]["annotations"] = {REPLICAS_OWNER: "rollout"}
    assert run_resource("replicas-within-bounds", DEPLOYMENT, dep) == []
    dep["spec"]["replicas"] = 1
    assert len(run_resource("replicas-within-bounds", DEPLOYMENT, dep)) == 1
