"""Network isolation, ingress TLS, promotion from staging, deletion guard, unit data parsing."""

from __future__ import annotations

from typing import Any

import pytest
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE as UNKNOWN_STRING

from tests.policies.factories import (
    DEPLOYMENT,
    SPACE,
    UNIT,
    RunResource,
    RunStack,
    good_deployment,
    resource,
    unit_props,
)

NAMESPACE = "kubernetes:core/v1:Namespace"
NETPOL = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
INGRESS = "kubernetes:networking.k8s.io/v1:Ingress"


def namespace(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}


def deny_all(ns: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "default-deny", "namespace": ns},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"], **spec},
    }


def test_namespace_with_default_deny_passes(run_stack: RunStack) -> None:
    resources = [
        resource(NAMESPACE, namespace("traderx-prod"), "ns"),
        resource(NETPOL, deny_all("traderx-prod"), "deny"),
        resource(DEPLOYMENT, good_deployment(), "dep"),
    ]
    assert run_stack("namespace-default-deny", resources) == []


def test_default_deny_declared_in_unit_data_counts(run_stack: RunStack) -> None:
    resources = [
        resource(
            UNIT, unit_props([namespace("traderx-prod"), deny_all("traderx-prod")], slug="ns")
        ),
        resource(UNIT, unit_props([good_deployment()]), "trade"),
    ]
    assert run_stack("namespace-default-deny", resources) == []


@pytest.mark.parametrize(
    "netpol",
    [
        None,
        deny_all("traderx-prod", podSelector={"matchLabels": {"app": "trade-service"}}),
        deny_all("traderx-prod", ingress=[{"from": [{"podSelector": {}}]}]),
        deny_all("traderx-prod", policyTypes=["Egress"]),
        deny_all("other"),
    ],
)
def test_namespace_without_default_deny_fails(
    run_stack: RunStack, netpol: dict[str, Any] | None
) -> None:
    resources = [resource(NAMESPACE, namespace("traderx-prod"), "ns")]
    if netpol:
        resources.append(resource(NETPOL, netpol, "np"))
    [(message, _urn)] = run_stack("namespace-default-deny", resources)
    assert "namespace 'traderx-prod' has no default-deny NetworkPolicy" in message
    assert "podSelector: {}" in message


def test_namespace_of_traderx_workload_needs_default_deny(run_stack: RunStack) -> None:
    dep = good_deployment()
    dep["metadata"]["namespace"] = "apps"
    found = run_stack("namespace-default-deny", [resource(UNIT, unit_props([dep]))])
    assert [m for m, _ in found] == [
        "namespace 'apps' has no default-deny NetworkPolicy; add one in it with podSelector: {} "
        "and policyTypes: [Ingress] (no ingress rules), then allow only the flows TraderX needs."
    ]


def ingress(tls: list[dict[str, Any]] | None) -> dict[str, Any]:
    spec: dict[str, Any] = {"rules": [{"host": "traderx.example.com", "http": {"paths": []}}]}
    if tls is not None:
        spec["tls"] = tls
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": {"name": "traderx", "namespace": "traderx-prod"},
        "spec": spec,
    }


def test_prod_ingress_with_tls_passes(run_resource: RunResource) -> None:
    tls = [{"hosts": ["traderx.example.com"], "secretName": "traderx-tls"}]
    assert run_resource("prod-ingress-tls", INGRESS, ingress(tls)) == []


def test_prod_ingress_without_tls_fails(run_resource: RunResource) -> None:
    [message] = run_resource("prod-ingress-tls", UNIT, unit_props([ingress(None)]))
    assert "prod Ingress serves plain HTTP; add spec.tls" in message


def test_prod_ingress_with_uncovered_host_fails(run_resource: RunResource) -> None:
    tls = [{"hosts": ["other.example.com"], "secretName": "t"}]
    [message] = run_resource("prod-ingress-tls", INGRESS, ingress(tls))
    assert "traderx.example.com are not covered by spec.tls" in message


def test_dev_ingress_without_tls_is_fine(run_resource: RunResource, stack: Any) -> None:
    stack("dev")
    assert run_resource("prod-ingress-tls", INGRESS, ingress(None)) == []


def test_prod_unit_with_upstream_from_staging_passes(run_stack: RunStack) -> None:
    staging = resource(UNIT, unit_props([good_deployment()], env="staging"), "staging-trade")
    prod = resource(
        UNIT,
        unit_props([good_deployment()], upstream_unit_id="8d4c4a3e-aaaa-4bbb-8ccc-000000000002"),
        "prod-trade",
        upstream_unit_id=[staging],
    )
    assert run_stack("prod-units-from-staging", [staging, prod]) == []


def test_prod_unit_without_upstream_fails(run_stack: RunStack) -> None:
    prod = resource(UNIT, unit_props([good_deployment()]), "prod-trade")
    [(message, urn)] = run_stack("prod-units-from-staging", [prod])
    assert "prod ConfigHub unit 'trade-service' has no upstream unit" in message
    assert "promotion-exception=approved" in message
    assert urn == prod.urn


def test_prod_unit_downstream_of_dev_fails(run_stack: RunStack) -> None:
    dev = resource(UNIT, unit_props([good_deployment()], env="dev"), "dev-trade")
    prod = resource(
        UNIT, unit_props([good_deployment()], upstream_unit_id="x"), "p", upstream_unit_id=[dev]
    )
    [(message, _)] = run_stack("prod-units-from-staging", [dev, prod])
    assert "is downstream of dev unit 'trade-service'" in message


def test_approved_exception_and_non_prod_units_pass(run_stack: RunStack, stack: Any) -> None:
    props = unit_props([namespace("traderx-prod")], slug="namespace")
    props["labels"]["promotion-exception"] = "approved"
    assert run_stack("prod-units-from-staging", [resource(UNIT, props)]) == []
    stack("dev")
    dev = resource(UNIT, unit_props([good_deployment()], env="dev"), "dev-trade")
    assert run_stack("prod-units-from-staging", [dev]) == []


def test_a_dev_label_does_not_take_a_prod_unit_out_of_the_rule(run_stack: RunStack) -> None:
    """In the prod stack a unit is judged as prod whatever its label says (stricter of both)."""
    dev = resource(UNIT, unit_props([good_deployment()], env="dev"), "dev-trade")
    [(message, urn)] = run_stack("prod-units-from-staging", [dev])
    assert "has no upstream unit" in message and urn == dev.urn


@pytest.mark.parametrize("resource_type", [SPACE, UNIT])
def test_unprotected_prod_space_or_unit_fails(
    run_resource: RunResource, resource_type: str
) -> None:
    props = (
        unit_props([good_deployment()])
        if resource_type == UNIT
        else {
            "slug": "traderx-prod",
            "labels": {"environment": "prod"},
        }
    )
    [message] = run_resource("prod-deletion-needs-override", resource_type, props)
    assert "is not protected" in message and "protect=True" in message
    assert run_resource("prod-deletion-needs-override", resource_type, props, protect=True) == []


def test_deletion_override_and_non_prod(run_resource: RunResource, stack: Any) -> None:
    props = unit_props([good_deployment()])
    config = {"allowDeletion": ["trade-service"]}
    assert run_resource("prod-deletion-needs-override", UNIT, props, config=config) == []
    stack("dev")
    dev_props = unit_props([good_deployment()], env="dev")
    assert run_resource("prod-deletion-needs-override", UNIT, dev_props) == []


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("kind: [unclosed", "is not valid YAML"),
        ("just a string", "document 1 is not a Kubernetes object"),
        ("kind: Namespace\n---\n- a list\n", "document 2 is not a Kubernetes object"),
    ],
)
def test_bad_unit_data_fails(run_resource: RunResource, data: str, expected: str) -> None:
    props = unit_props([]) | {"data": data}
    [message] = run_resource("unit-data-is-kubernetes-yaml", UNIT, props)
    assert message.startswith("ConfigHub unit 'trade-service': ")
    assert expected in message
    # the other rules stay quiet instead of crashing on the same data
    assert run_resource("images-pinned", UNIT, props) == []


def test_good_unit_data_passes(run_resource: RunResource) -> None:
    props = unit_props([namespace("traderx-prod"), good_deployment()])
    assert run_resource("unit-data-is-kubernetes-yaml", UNIT, props) == []


def test_staging_space_in_a_prod_stack_is_judged_as_prod(run_resource: RunResource) -> None:
    """The stricter of stack and label: a staging label cannot lift the prod deletion guard."""
    props = {"slug": "traderx-staging", "labels": {"environment": "staging"}}
    assert run_resource("prod-deletion-needs-override", SPACE, props)
    assert run_resource("prod-deletion-needs-override", SPACE, props, protect=True) == []


def test_template_units_that_are_never_applied_need_no_default_deny(run_stack: RunStack) -> None:
    template = unit_props([namespace("traderx-base"), good_deployment()], env="base", apply=False)
    del template["target_id"]
    assert run_stack("namespace-default-deny", [resource(UNIT, template)]) == []
    unknown_target = unit_props([namespace("traderx-dev")], env="dev", target_id=UNKNOWN_STRING)
    [(message, _)] = run_stack("namespace-default-deny", [resource(UNIT, unknown_target)])
    assert "namespace 'traderx-dev'" in message
