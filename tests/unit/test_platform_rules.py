"""NetworkPolicies and RBAC rules, checked as data (no engine)."""

from __future__ import annotations

from typing import Any

from components.model.catalog import SERVICE_NAMES
from components.model.layout import filters, links, space_labels
from components.stack.platform import ROLES, network_policies


def by_name(policies: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {p["metadata"]["name"]: p["spec"] for p in policies}


def test_default_deny_both_directions() -> None:
    p = by_name(network_policies("traderx-dev", "ingress-nginx"))
    assert p["default-deny-all"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}


def test_dns_egress_only_to_kube_dns_on_53() -> None:
    dns = by_name(network_policies("ns", "ingress-nginx"))["allow-dns-egress"]
    (rule,) = dns["egress"]
    assert {(p["protocol"], p["port"]) for p in rule["ports"]} == {("UDP", 53), ("TCP", 53)}
    assert rule["to"][0]["podSelector"] == {"matchLabels": {"k8s-app": "kube-dns"}}


def test_internal_traffic_only_on_native_ports() -> None:
    internal = by_name(network_policies("ns", "ingress-nginx"))["allow-traderx-internal"]
    ports = {p["port"] for p in internal["ingress"][0]["ports"]}
    assert ports == {18082, 18083, 18085, 18086, 18088, 18089, 18090, 18091, 18092, 18093}
    assert 18084 not in ports  # H2 web console stays closed


def test_ingress_controller_reaches_only_routed_services() -> None:
    ctrl = by_name(network_policies("ns", "my-ingress"))["allow-ingress-controller"]
    selector = ctrl["podSelector"]["matchExpressions"][0]
    assert "database" not in selector["values"]
    assert {"web-front-end", "trade-feed", "trade-service"} <= set(selector["values"])
    source = ctrl["ingress"][0]["from"][0]["namespaceSelector"]["matchLabels"]
    assert source == {"kubernetes.io/metadata.name": "my-ingress"}
    assert {p["port"] for p in ctrl["ingress"][0]["ports"]}.isdisjoint({18082, 18083})


def _verbs(env: str) -> set[tuple[str, str]]:
    _, _, rules = ROLES[env]
    return {(r, v) for rule in rules for r in rule["resources"] for v in rule["verbs"]}


def test_rbac_developer_sre_viewer() -> None:
    assert ROLES["dev"][0] == "traderx-developer"
    assert ROLES["staging"][0] == "traderx-sre"
    assert ROLES["prod"][0] == "traderx-viewer"
    assert ("deployments", "delete") in _verbs("dev")
    assert ("pods/exec", "create") in _verbs("dev")
    assert ("deployments/scale", "patch") in _verbs("staging")
    assert ("deployments", "delete") not in _verbs("staging")
    prod = _verbs("prod")
    assert {v for _, v in prod} == {"get", "list", "watch"}
    for env in ROLES:
        assert not any(r == "secrets" for r, _ in _verbs(env)), env


def test_space_labels_from_the_design() -> None:
    assert space_labels("p", "base") == {"project": "p-traderx", "environment": "base"}
    assert space_labels("p", "filters") == {"project": "p-traderx", "type": "filters"}
    assert space_labels("p", "prod") == {
        "project": "p-traderx",
        "environment": "prod",
        "targetable": "true",
        "critical": "true",
    }


def test_seven_filters_and_links() -> None:
    assert len(filters("p")) == 7
    pairs = {(link.from_component, link.to_component) for link in links()}
    assert ("ingress", "namespace") in pairs
    assert all((s, "namespace") in pairs for s in SERVICE_NAMES)
    to_db = {f for f, t in pairs if t == "database"}
    assert to_db == {"account-service", "position-service", "trade-processor"}
