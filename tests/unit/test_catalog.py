"""The catalog carries the real TraderX facts (shared/traderx/services.md), not the design's."""

from __future__ import annotations

import pytest

from components.model.catalog import (
    CRITICAL_SERVICES,
    DATA_SERVICES,
    ROUTES,
    SERVICE_BY_NAME,
    SERVICES,
    START_ORDER,
    needs_of,
    tier_of,
)

REAL_PORTS = {
    "database": 18082,
    "reference-data": 18085,
    "trade-feed": 18086,
    "people-service": 18089,
    "account-service": 18088,
    "position-service": 18090,
    "trade-processor": 18091,
    "trade-service": 18092,
    "web-front-end": 18093,
}


def test_ten_components_in_the_real_start_order() -> None:
    assert START_ORDER == (
        "namespace",
        "database",
        "reference-data",
        "trade-feed",
        "people-service",
        "account-service",
        "position-service",
        "trade-processor",
        "trade-service",
        "web-front-end",
        "ingress",
    )
    assert len(SERVICES) == 9  # + the ingress = the ten TraderX components


@pytest.mark.parametrize(("name", "port"), sorted(REAL_PORTS.items()))
def test_native_ports(name: str, port: int) -> None:
    assert SERVICE_BY_NAME[name].port == port


def test_image_names_match_the_published_images() -> None:
    assert SERVICE_BY_NAME["web-front-end"].image == "web-front-end-angular"
    assert {s.image for s in SERVICES} - {"web-front-end-angular"} == set(REAL_PORTS) - {
        "web-front-end"
    }


def test_single_replica_services() -> None:
    fixed = {s.name for s in SERVICES if s.fixed_replicas == 1}
    assert fixed == {"database", "trade-feed", "trade-processor"}


def test_trade_service_reads_trading_service_port() -> None:
    env = dict(SERVICE_BY_NAME["trade-service"].static_env)
    assert env["TRADING_SERVICE_PORT"] == "18092"
    assert "TRADE_SERVICE_PORT" not in env


def test_probes_use_real_endpoints_never_the_designs() -> None:
    paths = {p.path for s in SERVICES for p in (s.readiness, s.liveness) if p.path}
    assert "/health/live" not in paths
    assert SERVICE_BY_NAME["position-service"].readiness.path == "/health/ready"
    assert SERVICE_BY_NAME["reference-data"].liveness.path == "/health"
    assert SERVICE_BY_NAME["database"].readiness.path is None  # TCP
    assert SERVICE_BY_NAME["trade-feed"].readiness.path is None  # TCP


def test_dependencies_and_tiers() -> None:
    assert set(needs_of("account-service")) == {"database", "people-service"}
    assert set(needs_of("trade-processor")) == {"database", "trade-feed"}
    tiers = {c: tier_of(c) for c in START_ORDER}
    assert tiers["namespace"] == 0
    assert {c for c, t in tiers.items() if t == 1} == {
        "database",
        "reference-data",
        "trade-feed",
        "people-service",
    }
    assert {c for c, t in tiers.items() if t == 2} == {
        "account-service",
        "position-service",
        "trade-processor",
    }
    assert tiers["trade-service"] < tiers["web-front-end"] < tiers["ingress"]


def test_routes_include_websocket_and_never_the_h2_console() -> None:
    paths = {r.path: r for r in ROUTES}
    assert paths["/socket.io"].service == "trade-feed"
    assert paths["/socket.io"].websocket
    assert paths["/"].service == "web-front-end"
    assert not any(p.startswith("/db-web") for p in paths)


def test_sets() -> None:
    assert set(CRITICAL_SERVICES) == {
        "database",
        "reference-data",
        "position-service",
        "trade-service",
    }
    assert set(DATA_SERVICES) == {
        "database",
        "account-service",
        "position-service",
        "trade-processor",
    }
