"""The ten TraderX components as typed data.

Facts come from ``shared/traderx/services.md`` (read from finos/traderX), which wins over the
design document wherever they disagree: real ports, env vars, runtime dependencies, probe
endpoints, replica limits and image names. Nothing here talks to an API.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

ServiceName = Literal[
    "database",
    "reference-data",
    "trade-feed",
    "people-service",
    "account-service",
    "position-service",
    "trade-processor",
    "trade-service",
    "web-front-end",
]
"""Services that run a container (the ingress is a Kubernetes Ingress, not a workload)."""

ComponentName = Literal[
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
]


class Layer(StrEnum):
    """The design's `layer` label values (plus platform for the namespace)."""

    PLATFORM = "platform"
    DATA = "data"
    BACKEND = "backend"
    FRONTEND = "frontend"


class Probe(BaseModel):
    """One probe: HTTP GET on a path, or a TCP connect when ``path`` is None."""

    model_config = ConfigDict(frozen=True)

    port: int
    path: str | None = None


#: Where the published TraderX images are, and their only published tag (base units use these).
DEFAULT_IMAGE_REGISTRY = "ghcr.io/finos/traderx"
DEFAULT_IMAGE_TAG = "latest"
#: The database's data directory lives on this PersistentVolumeClaim (issue #15: it must
#: outlive the pod, so a restore survives the restart); its size unless a stack sets one.
DATABASE_CLAIM_NAME = "database-data"
DEFAULT_DATABASE_STORAGE = "1Gi"

#: A Kubernetes resource quantity ("250m", "1", "1.5", "512Mi", "2G"), checked before any apply.
QUANTITY = r"[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?"


class Resources(BaseModel):
    """Container requests and limits (Kubernetes quantity strings)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    cpu_request: str = Field("100m", alias="cpuRequest")
    memory_request: str = Field("256Mi", alias="memoryRequest")
    cpu_limit: str = Field("1", alias="cpuLimit")
    memory_limit: str = Field("512Mi", alias="memoryLimit")

    @field_validator("cpu_request", "memory_request", "cpu_limit", "memory_limit")
    @classmethod
    def _quantity(cls, value: str) -> str:
        if not re.fullmatch(QUANTITY, value):
            raise ValueError("must be a Kubernetes quantity such as 250m, 1, 1.5, 512Mi or 2Gi")
        return value


class PortSpec(BaseModel):
    """A container port that the Service exposes with the same number."""

    model_config = ConfigDict(frozen=True)

    name: str
    port: int


class ServiceSpec(BaseModel):
    """Everything the renderer needs to know about one TraderX workload."""

    model_config = ConfigDict(frozen=True)

    name: ServiceName
    image: str = Field(description="repository name under the registry")
    tech: str
    layer: Layer
    ports: tuple[PortSpec, ...]
    needs: tuple[ServiceName, ...] = Field(description="runtime dependencies (services.md)")
    readiness: Probe
    liveness: Probe
    jvm: bool = False
    fixed_replicas: int | None = None  # the only replica count that is correct
    replica_reason: str = ""
    uses_database: bool = False
    run_as_user: int | None = None  # non-root uid where the image allows it, else image's user
    critical: bool = False
    resources: Resources = Resources()  # type: ignore[call-arg]
    static_env: tuple[tuple[str, str], ...] = ()

    @property
    def port(self) -> int:
        """The main (first) port; the design's `port` label."""
        return self.ports[0].port


class TraderXError(ValueError):
    """Bad input to the pure layers (catalog, manifests, settings)."""


# The start order that works (services.md); the namespace comes first, the ingress last.
START_ORDER: tuple[ComponentName, ...] = (
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

_DB_ENV = (
    ("DATABASE_TCP_HOST", "database"),
    ("DATABASE_TCP_PORT", "18082"),
    ("DATABASE_NAME", "traderx"),
)

_JVM_RESOURCES = Resources(
    cpuRequest="250m", memoryRequest="512Mi", cpuLimit="1", memoryLimit="1Gi"
)
_SMALL = Resources(cpuRequest="50m", memoryRequest="128Mi", cpuLimit="500m", memoryLimit="256Mi")

SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec(
        name="database",
        image="database",
        tech="h2-java",
        layer=Layer.DATA,
        ports=(PortSpec(name="tcp", port=18082), PortSpec(name="pg", port=18083)),
        needs=(),
        readiness=Probe(port=18082),
        liveness=Probe(port=18082),
        jvm=True,
        fixed_replicas=1,
        replica_reason="H2 is a single instance: two replicas are two databases",
        critical=True,
        resources=_JVM_RESOURCES,
        static_env=(
            ("DATABASE_TCP_PORT", "18082"),
            ("DATABASE_PG_PORT", "18083"),
            ("DATABASE_WEB_PORT", "18084"),
            ("DATABASE_DBNAME", "traderx"),
            ("DATABASE_DATA_DIR", "/database/_data"),
            # The H2 web console listens on 18084 but is never exposed (no Service port, no route).
            ("DATABASE_WEB_HOSTNAMES", "localhost"),
        ),
    ),
    ServiceSpec(
        name="reference-data",
        image="reference-data",
        tech="node-nestjs",
        layer=Layer.BACKEND,
        ports=(PortSpec(name="http", port=18085),),
        needs=(),
        readiness=Probe(port=18085, path="/stocks"),
        liveness=Probe(port=18085, path="/health"),
        run_as_user=65534,
        critical=True,
        resources=_SMALL,
        static_env=(
            ("REFERENCE_DATA_SERVICE_PORT", "18085"),
            ("REFERENCE_DATA_HOSTNAME", "0.0.0.0"),
        ),
    ),
    ServiceSpec(
        name="trade-feed",
        image="trade-feed",
        tech="node-socketio",
        layer=Layer.BACKEND,
        ports=(PortSpec(name="http", port=18086),),
        needs=(),
        readiness=Probe(port=18086),
        liveness=Probe(port=18086),
        fixed_replicas=1,
        replica_reason="its pub/sub state lives in memory",
        resources=_SMALL,
        static_env=(("TRADE_FEED_PORT", "18086"),),
    ),
    ServiceSpec(
        name="people-service",
        image="people-service",
        tech="dotnet-aspnetcore",
        layer=Layer.BACKEND,
        ports=(PortSpec(name="http", port=18089),),
        needs=(),
        readiness=Probe(port=18089, path="/swagger"),
        liveness=Probe(port=18089),
        run_as_user=1654,  # the chiseled .NET image's `app` user
        resources=_SMALL,
        static_env=(
            ("ASPNETCORE_HTTP_PORTS", "18089"),
            ("ASPNETCORE_ENVIRONMENT", "Development"),
        ),
    ),
    ServiceSpec(
        name="account-service",
        image="account-service",
        tech="java-spring-boot",
        layer=Layer.BACKEND,
        ports=(PortSpec(name="http", port=18088),),
        needs=("database", "people-service"),
        readiness=Probe(port=18088, path="/account/"),
        liveness=Probe(port=18088),
        jvm=True,
        uses_database=True,
        resources=_JVM_RESOURCES,
        static_env=(
            ("ACCOUNT_SERVICE_PORT", "18088"),
            *_DB_ENV,
            ("PEOPLE_SERVICE_URL", "http://people-service:18089"),
        ),
    ),
    ServiceSpec(
        name="position-service",
        image="position-service",
        tech="java-spring-boot",
        layer=Layer.BACKEND,
        ports=(PortSpec(name="http", port=18090),),
        needs=("database",),
        readiness=Probe(port=18090, path="/health/ready"),
        liveness=Probe(port=18090, path="/health/alive"),
        jvm=True,
        uses_database=True,
        critical=True,
        resources=_JVM_RESOURCES,
        static_env=(("POSITION_SERVICE_PORT", "18090"), *_DB_ENV),
    ),
    ServiceSpec(
        name="trade-processor",
        image="trade-processor",
        tech="java-spring-boot",
        layer=Layer.BACKEND,
        ports=(PortSpec(name="http", port=18091),),
        needs=("database", "trade-feed"),
        readiness=Probe(port=18091, path="/v3/api-docs"),
        liveness=Probe(port=18091),
        jvm=True,
        fixed_replicas=1,
        replica_reason="every replica books every trade message: duplicate trades",
        uses_database=True,
        resources=_JVM_RESOURCES,
        static_env=(
            ("TRADE_PROCESSOR_SERVICE_PORT", "18091"),
            *_DB_ENV,
            ("TRADE_FEED_ADDRESS", "http://trade-feed:18086"),
        ),
    ),
    ServiceSpec(
        name="trade-service",
        image="trade-service",
        tech="java-spring-boot",
        layer=Layer.BACKEND,
        ports=(PortSpec(name="http", port=18092),),
        needs=("reference-data", "account-service", "trade-feed", "people-service"),
        readiness=Probe(port=18092, path="/v3/api-docs"),
        liveness=Probe(port=18092),
        jvm=True,
        critical=True,
        resources=_JVM_RESOURCES,
        static_env=(
            ("TRADING_SERVICE_PORT", "18092"),
            ("ACCOUNT_SERVICE_URL", "http://account-service:18088"),
            ("REFERENCE_DATA_SERVICE_URL", "http://reference-data:18085"),
            ("TRADE_FEED_ADDRESS", "http://trade-feed:18086"),
            ("PEOPLE_SERVICE_URL", "http://people-service:18089"),
        ),
    ),
    ServiceSpec(
        name="web-front-end",
        image="web-front-end-angular",
        tech="angular",
        layer=Layer.FRONTEND,
        ports=(PortSpec(name="http", port=18093),),
        # The browser calls every backend through the ingress; start after all of them.
        needs=(
            "reference-data",
            "trade-feed",
            "people-service",
            "account-service",
            "position-service",
            "trade-processor",
            "trade-service",
        ),
        readiness=Probe(port=18093, path="/"),
        liveness=Probe(port=18093),
        # The published image runs the Angular dev server: it needs 768Mi-1.5Gi.
        resources=Resources(
            cpuRequest="250m", memoryRequest="768Mi", cpuLimit="1", memoryLimit="1536Mi"
        ),
        static_env=(("WEB_SERVICE_PORT", "18093"),),
    ),
)

SERVICE_BY_NAME: dict[str, ServiceSpec] = {s.name: s for s in SERVICES}
SERVICE_NAMES: tuple[ServiceName, ...] = tuple(s.name for s in SERVICES)


class Route(BaseModel):
    """One Ingress path: what the browser calls and which Service answers."""

    model_config = ConfigDict(frozen=True)

    path: str
    service: ServiceName
    strip_prefix: bool = False
    websocket: bool = False


# Routes the browser uses (services.md). `/db-web` (the H2 console) is never exposed.
ROUTES: tuple[Route, ...] = (
    Route(path="/account-service", service="account-service", strip_prefix=True),
    Route(path="/reference-data", service="reference-data", strip_prefix=True),
    Route(path="/trade-service", service="trade-service", strip_prefix=True),
    Route(path="/position-service", service="position-service", strip_prefix=True),
    Route(path="/people-service", service="people-service", strip_prefix=True),
    Route(path="/trade-processor", service="trade-processor", strip_prefix=True),
    Route(path="/socket.io", service="trade-feed", websocket=True),
    Route(path="/", service="web-front-end"),
)
FORBIDDEN_PATHS: tuple[str, ...] = ("/db-web",)

# Design sets realised as labels + saved filters (Sets were removed from the API).
CRITICAL_SERVICES: tuple[ServiceName, ...] = tuple(s.name for s in SERVICES if s.critical)
# Critical services that may scale out (no fixed count): they must survive a pod loss in prod,
# so prod runs at least this many by default (the prod gate's `replicas-within-bounds` agrees).
CRITICAL_STATELESS: tuple[ServiceName, ...] = tuple(
    s.name for s in SERVICES if s.critical and s.fixed_replicas is None
)
PROD_MIN_CRITICAL_REPLICAS = 3
DATA_SERVICES: tuple[ServiceName, ...] = (
    "database",
    *(s.name for s in SERVICES if s.uses_database),
)


def needs_of(component: ComponentName) -> tuple[ComponentName, ...]:
    """Direct start-time dependencies of a component (the namespace precedes everything)."""
    if component == "namespace":
        return ()
    if component == "ingress":
        return ("web-front-end",)
    spec = SERVICE_BY_NAME[component]
    return spec.needs


def tier_of(component: ComponentName) -> int:
    """Depth in the dependency graph: components of one tier can start in parallel."""
    if component == "namespace":
        return 0
    deps = needs_of(component)
    return 1 + max((tier_of(d) for d in deps), default=0)


def check_graph() -> None:
    """The start order must be a topological order of the dependency graph."""
    position = {c: i for i, c in enumerate(START_ORDER)}
    for component in START_ORDER:
        for dep in needs_of(component):
            if position[dep] >= position[component]:
                raise TraderXError(f"{component} needs {dep}, which starts after it")


check_graph()
