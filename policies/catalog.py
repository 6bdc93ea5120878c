"""The TraderX facts the rules need, kept here so the pack runs standalone.

Source: /work/shared/traderx/services.md (replicas that keep the system correct) and the
architecture's critical-services set. Policy config can override the lists per policy.
"""

from __future__ import annotations

from typing import Final

#: Services whose correctness needs exactly one replica in every environment.
SINGLETONS: Final[frozenset[str]] = frozenset({"database", "trade-feed", "trade-processor"})

#: Stateless services that must survive a pod loss in prod.
CRITICAL_STATELESS: Final[frozenset[str]] = frozenset(
    {"reference-data", "trade-service", "position-service"}
)

#: Minimum replicas of a critical stateless service in prod.
MIN_CRITICAL_REPLICAS: Final = 3

#: Every TraderX service (used to recognise TraderX workloads and namespaces).
SERVICES: Final[frozenset[str]] = frozenset(
    {
        "database",
        "reference-data",
        "trade-feed",
        "people-service",
        "account-service",
        "position-service",
        "trade-processor",
        "trade-service",
        "web-front-end",
    }
)

#: Prefix of TraderX namespaces (`traderx`, `traderx-dev`, `traderx-prod`, ...).
NAMESPACE_PREFIX: Final = "traderx"


def service_name(name: str, labels: dict[str, str] | None = None) -> str | None:
    """The TraderX service a workload runs, from its standard labels or its name."""
    labels = labels or {}
    for key in ("app.kubernetes.io/name", "app", "app.kubernetes.io/component"):
        value = labels.get(key)
        if isinstance(value, str) and value in SERVICES:
            return value
    if name in SERVICES:
        return name
    for svc in SERVICES:
        if name.startswith(svc + "-") or name.endswith("-" + svc):
            return svc
    if name.startswith("web-front-end"):
        return "web-front-end"
    return None
