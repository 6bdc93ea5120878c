"""Stack configuration → one validated pydantic model, before any resource is declared.

Every mistake becomes a ``ConfigError`` whose lines name the stack-config key (``traderx:...``
or ``confighub:...``), the value found and what is allowed. Nothing here calls an API.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
)

from components.model.catalog import (
    CRITICAL_STATELESS,
    DEFAULT_DATABASE_STORAGE,
    DEFAULT_IMAGE_REGISTRY,
    DEFAULT_IMAGE_TAG,
    PROD_MIN_CRITICAL_REPLICAS,
    SERVICE_BY_NAME,
    SERVICE_NAMES,
    ComponentName,
    Resources,
    ServiceName,
    TraderXError,
)

Environment = Literal["dev", "staging", "prod", "prod-eu"]
ENVIRONMENTS: tuple[Environment, ...] = ("dev", "staging", "prod", "prod-eu")
#: prod-eu is a second prod region (lateral promotion): promoted from prod, judged as prod.
UPSTREAM_ENV: dict[str, Environment | None] = {
    "dev": None,
    "staging": "dev",
    "prod": "staging",
    "prod-eu": "prod",
}
PROD_ENVIRONMENTS: frozenset[str] = frozenset({"prod", "prod-eu"})

_DNS_LABEL = r"^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$"
_PREFIX = r"^[a-z][a-z0-9-]{1,38}[a-z0-9]$"
_TAG = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$"
_DIGEST = r"^sha256:[a-f0-9]{64}$"
_ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]{0,127}$"
_STORAGE = r"^[1-9][0-9]{0,5}(Mi|Gi|Ti)$"  # a volume size: whole Mi, Gi or Ti
_DNS_SUBDOMAIN = r"^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$"
#: Env vars the manifests fill from the database Secret; a plain value would leak or clash.
SECRET_ENV_NAMES = frozenset({"DATABASE_DBUSER", "DATABASE_DBPASS"})
_ADJECTIVES = ("amber", "brisk", "calm", "deft", "eager", "fleet", "glad", "hardy", "keen", "lucid")
_NOUNS = ("otter", "heron", "maple", "falcon", "cedar", "lynx", "comet", "harbor", "quartz", "tern")


class ConfigError(TraderXError):
    """Invalid stack configuration; each line names a key, its value and what is allowed."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class ImageConfig(_Strict):
    """Per-service image override; unset parts fall back to the environment defaults."""

    registry: str | None = None
    name: str | None = None
    tag: Annotated[str, Field(pattern=_TAG)] | None = None
    digest: Annotated[str, Field(pattern=_DIGEST)] | None = None


class ServiceConfig(_Strict):
    """Per-service desired state (what `up` converges to; day-2 operations edit these)."""

    replicas: Annotated[int, Field(ge=1, le=50)] | None = None
    image: ImageConfig = ImageConfig()
    resources: Resources | None = None
    env: dict[Annotated[str, Field(pattern=_ENV_NAME)], str] = {}
    # trade-service in prod: `bluegreen` hands the stable Deployment's replicas to
    # `traderx rollout` after the unit's creation (docs/progressive-delivery.md)
    delivery: Literal["bluegreen"] | None = None


class IngressConfig(_Strict):
    """Ingress host, class and TLS of one environment."""

    host: Annotated[str, Field(pattern=r"^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$")] | None = None
    class_name: str = Field("nginx", alias="className")
    tls: bool = False
    tls_secret_name: Annotated[str, Field(pattern=_DNS_LABEL)] | None = Field(
        None, alias="tlsSecretName"
    )
    cluster_issuer: str | None = Field(None, alias="clusterIssuer")


class ReleaseConfig(_Strict):
    """How the next promotion is recorded as a release (issue #13; `components/stack/release.py`).

    `name`: the release's name (a slug; default `<env>-<yyyymmdd>-<n>`); `description`; `source`:
    the release it takes its content from (an upstream release for a promotion, one of this
    environment's own for a rollback), which the prod gate requires.
    """

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")] | None = None
    description: str = ""
    source: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")] | None = None


class ConfighubConfig(_Strict):
    """Where the ConfigHub API is and how to authenticate (token never printed)."""

    url: Annotated[str, Field(pattern=r"^https?://[^/\s]+$")] = "http://127.0.0.1:8765"
    token: SecretStr


class Settings(_Strict):
    """The whole validated configuration of one stack (one environment)."""

    project: str
    stack: str
    environment: Environment
    prefix: Annotated[str, Field(pattern=_PREFIX)]
    namespace: Annotated[str, Field(pattern=_DNS_LABEL)]
    upstream_stack: str | None = Field(None, alias="upstreamStack")
    kubeconfig: str | None = None
    kube_context: str | None = Field(None, alias="kubeContext")
    image_registry: str = Field(DEFAULT_IMAGE_REGISTRY, alias="imageRegistry")
    image_tag: Annotated[str, Field(pattern=_TAG)] = Field(DEFAULT_IMAGE_TAG, alias="imageTag")
    services: dict[ServiceName, ServiceConfig] = {}
    ingress: IngressConfig = IngressConfig()  # type: ignore[call-arg]
    promote: dict[ComponentName, Annotated[int, Field(ge=1)]] = {}
    release: ReleaseConfig = ReleaseConfig()
    apply_timeout_seconds: Annotated[int, Field(ge=10, le=3600)] = Field(
        300, alias="applyTimeoutSeconds"
    )
    database_user: Annotated[str, Field(min_length=1)] = Field("sa", alias="databaseUser")
    database_password: SecretStr | None = Field(None, alias="databasePassword")
    ingress_controller_namespace: Annotated[str, Field(pattern=_DNS_LABEL)] = Field(
        "ingress-nginx", alias="ingressControllerNamespace"
    )
    rbac_group: str | None = Field(None, alias="rbacGroup")
    protect: bool | None = None
    # The database's data volume (PersistentVolumeClaim `database-data`): its size, and its
    # StorageClass (unset: the cluster's default class).
    database_storage: Annotated[str, Field(pattern=_STORAGE)] = Field(
        DEFAULT_DATABASE_STORAGE, alias="databaseStorage"
    )
    database_storage_class: Annotated[str, Field(pattern=_DNS_SUBDOMAIN)] | None = Field(
        None, alias="databaseStorageClass"
    )
    confighub: ConfighubConfig

    def image_for(self, service: str) -> str:
        """The configured image reference of a service (before any promotion)."""
        spec = SERVICE_BY_NAME[service]
        img = self.services.get(service, ServiceConfig()).image  # type: ignore[call-overload]
        ref = f"{img.registry or self.image_registry}/{img.name or spec.image}"
        if img.digest:
            return f"{ref}@{img.digest}"
        return f"{ref}:{img.tag or self.image_tag}"

    def replicas_for(self, service: str) -> int:
        """Replica count: the only correct one, the configured one, or the env default."""
        spec = SERVICE_BY_NAME[service]
        if spec.fixed_replicas is not None:
            return spec.fixed_replicas
        configured = self.services.get(service, ServiceConfig()).replicas  # type: ignore[call-overload]
        if configured is not None:
            return configured
        if not self.is_prod:
            return 1
        return PROD_MIN_CRITICAL_REPLICAS if service in CRITICAL_STATELESS else 2

    def pins_image(self, service: str) -> bool:
        """True when this stack's config sets the service's tag or digest itself.

        Such a pin overrides a promoted image (a hotfix pin or a prod-only mirror digest).
        """
        img = self.services.get(service, ServiceConfig()).image  # type: ignore[call-overload]
        return bool(img.tag or img.digest)

    @property
    def protected(self) -> bool:
        """Whether Spaces and Units get `protect=True`: `traderx:protect`, else prod only."""
        return self.is_prod if self.protect is None else self.protect

    @property
    def is_prod(self) -> bool:
        """prod and every further prod region (prod-eu) get prod's defaults and rules."""
        return self.environment in PROD_ENVIRONMENTS

    def env_for(self, service: str) -> dict[str, str]:
        """Env values this stack sets on the service's container (its own, declared fields)."""
        return dict(self.services.get(service, ServiceConfig()).env)  # type: ignore[call-overload]

    def hands_over_replicas(self, service: str) -> bool:
        """True when `traderx rollout` owns the service's stable replicas after creation."""
        return self.services.get(service, ServiceConfig()).delivery == "bluegreen"  # type: ignore[call-overload]

    def configures_resources(self, service: str) -> bool:
        """True when this stack's config sets the service's resources itself."""
        return self.services.get(service, ServiceConfig()).resources is not None  # type: ignore[call-overload]

    def configures(self, setting: Literal["database_storage", "database_storage_class"]) -> bool:
        """Whether this stack's config sets that setting itself (not left at its default)."""
        return setting in self.model_fields_set

    def resources_for(self, service: str) -> Resources:
        """Resources: configured override or the catalog default."""
        configured = self.services.get(service, ServiceConfig()).resources  # type: ignore[call-overload]
        return configured or SERVICE_BY_NAME[service].resources

    @property
    def upstream_environment(self) -> Environment | None:
        return UPSTREAM_ENV[self.environment]

    @property
    def host(self) -> str:
        return self.ingress.host or f"traderx-{self.environment}.localtest.me"


# Keys accepted in the `traderx` namespace: stack-config name → model field alias.
TRADERX_KEYS: tuple[str, ...] = (
    "environment",
    "prefix",
    "namespace",
    "upstreamStack",
    "kubeconfig",
    "kubeContext",
    "imageRegistry",
    "imageTag",
    "services",
    "ingress",
    "promote",
    "release",
    "applyTimeoutSeconds",
    "databaseUser",
    "databasePassword",
    "ingressControllerNamespace",
    "rbacGroup",
    "protect",
    "databaseStorage",
    "databaseStorageClass",
)
CONFIGHUB_KEYS: tuple[str, ...] = ("url", "token")


def default_prefix(project: str) -> str:
    """A deterministic adjective-noun prefix, used when `traderx:prefix` is unset.

    pulumi_random is not available, and a random value would change on every run; a hash of
    the project name is stable. `scripts/demo.sh` stores a per-user choice in the dev stack
    config once, so two people sharing one ConfigHub organisation do not collide.
    """
    digest = hashlib.sha256(project.encode()).digest()
    return f"{_ADJECTIVES[digest[0] % 10]}-{_NOUNS[digest[1] % 10]}"


def _decode(value: Any) -> Any:
    """Pulumi hands objects over as JSON text; scalars stay strings (pydantic coerces)."""
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def _key_of(loc: tuple[int | str, ...]) -> str:
    if not loc:
        return "traderx"
    head, *rest = (str(p) for p in loc)
    if head == "confighub":
        return "confighub:" + ".".join(rest)
    return "traderx:" + ".".join([head, *rest])


def _value_at(raw: Mapping[str, Any], loc: tuple[int | str, ...]) -> Any:
    node: Any = raw
    for part in loc:
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        else:
            return None
    return node


def _format(err: ValidationError, raw: Mapping[str, Any], secret_paths: set[str]) -> ConfigError:
    lines = []
    for e in err.errors():
        loc = tuple(p for p in e["loc"] if p != "[key]")
        key = _key_of(loc)
        value = _value_at(raw, loc) if loc else None
        shown = "[secret]" if key in secret_paths else json.dumps(value, default=str)
        msg = str(e["msg"]).removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = "unknown key"
        lines.append(f"{key} = {shown}: {msg}")
    return ConfigError("invalid stack configuration:\n  " + "\n  ".join(lines))


def _semantic_problems(s: Settings) -> list[str]:
    """Rules across fields, reported with the exact key that must change."""
    problems = []
    for name, svc in s.services.items():
        spec = SERVICE_BY_NAME[name]
        if svc.delivery is not None and (name != "trade-service" or s.environment != "prod"):
            problems.append(
                f"traderx:services.{name}.delivery = {json.dumps(svc.delivery)}: progressive "
                "delivery is for trade-service in prod only (traderx rollout)"
            )
        for var in sorted(set(svc.env) & SECRET_ENV_NAMES):
            problems.append(
                f"traderx:services.{name}.env.{var}: set from the database Secret "
                "(traderx:databaseUser / traderx:databasePassword), not as a plain value"
            )
        fixed = spec.fixed_replicas
        if svc.replicas is not None and fixed is not None and svc.replicas != fixed:
            problems.append(
                f"traderx:services.{name}.replicas = {svc.replicas}: allowed only "
                f"{fixed} ({spec.replica_reason})"
            )
    if s.upstream_environment is None:
        if s.promote:
            problems.append(
                f"traderx:promote = {json.dumps(dict(s.promote))}: dev has no upstream stack; "
                "promotion pins belong to staging (from dev), prod (from staging) and "
                "prod-eu (from prod)"
            )
        if s.upstream_stack:
            problems.append(
                f"traderx:upstreamStack = {json.dumps(s.upstream_stack)}: dev has no upstream"
            )
    if s.is_prod:
        if s.database_password is None:
            problems.append(
                f"traderx:databasePassword is unset: {s.environment} needs its own secret "
                "(pulumi config set --secret traderx:databasePassword ...)"
            )
        for name in SERVICE_NAMES:
            image = s.image_for(name)
            if (name not in s.promote or s.pins_image(name)) and image.endswith(":latest"):
                problems.append(
                    f"traderx:services.{name}.image = {json.dumps(image)}: "
                    f"{s.environment} must pin; set traderx:promote.{name} "
                    f"(a {s.upstream_environment} revision) or a tag/digest "
                    "other than latest"
                )
    return problems


def load_settings(
    config: Mapping[str, Any],
    *,
    project: str,
    stack: str,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Validate the stack config (`ns:key` → value) into ``Settings`` or raise ``ConfigError``."""
    environ = environ or {}
    problems: list[str] = []
    traderx: dict[str, Any] = {}
    confighub: dict[str, Any] = {}
    for full_key, value in config.items():
        ns, _, key = full_key.partition(":")
        if ns == "traderx":
            if key not in TRADERX_KEYS:
                problems.append(f"traderx:{key}: unknown key; allowed: {', '.join(TRADERX_KEYS)}")
            traderx[key] = _decode(value)
        elif ns == "confighub":
            if key not in CONFIGHUB_KEYS:
                problems.append(f"confighub:{key}: unknown key; allowed: url, token")
            confighub[key] = _decode(value)
    if problems:
        raise ConfigError("invalid stack configuration:\n  " + "\n  ".join(problems))

    environment = traderx.pop("environment", stack)
    if environment not in ENVIRONMENTS:
        raise ConfigError(
            f"invalid stack configuration:\n  traderx:environment = {json.dumps(environment)}: "
            f"allowed: {', '.join(ENVIRONMENTS)} (defaults to the stack name {stack!r})"
        )
    if not confighub.get("token"):
        token = environ.get("CONFIGHUB_TOKEN")
        if not token:
            raise ConfigError(
                "invalid stack configuration:\n  confighub:token is unset: set it with "
                "`pulumi config set --secret confighub:token ...` or export CONFIGHUB_TOKEN"
            )
        confighub["token"] = token
    if "url" not in confighub and environ.get("CONFIGHUB_URL"):
        confighub["url"] = environ["CONFIGHUB_URL"]
    raw: dict[str, Any] = {
        "project": project,
        "stack": stack,
        "environment": environment,
        "prefix": traderx.pop("prefix", None) or default_prefix(project),
        "namespace": traderx.pop("namespace", None) or f"traderx-{environment}",
        "confighub": confighub,
        **traderx,
    }
    upstream = UPSTREAM_ENV[environment]
    if upstream is not None and not raw.get("upstreamStack"):
        raw["upstreamStack"] = f"organization/{project}/{upstream}"
    if not raw.get("kubeconfig") and environ.get("KUBECONFIG"):
        raw["kubeconfig"] = environ["KUBECONFIG"]
    try:
        settings = Settings.model_validate(raw)
    except ValidationError as err:
        raise _format(err, raw, {"confighub:token", "traderx:databasePassword"}) from None
    problems = _semantic_problems(settings)
    if problems:
        raise ConfigError("invalid stack configuration:\n  " + "\n  ".join(problems))
    return settings
