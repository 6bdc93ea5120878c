"""The cost model, pure (no server, no engine): requested CPU and memory x replicas of every
workload in a unit's data, priced per month, and the rule-based recommendations.

Rules (each names the numbers it used):

- `requests-above-default`: a container requests more than `requestFactor` x the catalog's
  default request for that service (components/catalog.py), CPU or memory. Saving: the excess
  over the default, x replicas.
- `replicas-above-sla`: a workload runs more replicas than its set's SLA needs in that
  environment (`slaReplicas`: members of `critical-services` vs the rest). Saving: the extra
  replicas.
- `idle-environment`: a non-prod environment in which no unit changed or was applied for
  `idleDays`. Saving: the whole environment.

Requests fall back to limits when a container sets only limits (Kubernetes does the same).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

WORKLOAD_KINDS = ("Deployment", "StatefulSet", "ReplicaSet")
_QUANTITY = re.compile(r"^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)([a-zA-Z]*)$")
_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL = {
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "": Decimal(1),
    "k": Decimal(10**3),
    "M": Decimal(10**6),
    "G": Decimal(10**9),
    "T": Decimal(10**12),
    "P": Decimal(10**15),
    "E": Decimal(10**18),
}
GIB = Decimal(2**30)

# libyaml's loader where built (about 5x faster: the `cost` output parses every unit on each
# `up`); the same safe schema either way
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def quantity(value: Any) -> Decimal:
    """A Kubernetes quantity ("250m", "1.5", "512Mi", "2G", 1) as a number of base units."""
    text = str(value).strip()
    match = _QUANTITY.match(text)
    if not match:
        raise ValueError(f"not a Kubernetes quantity: {value!r}")
    number, suffix = match.groups()
    try:
        base = Decimal(number)
    except InvalidOperation as exc:
        raise ValueError(f"not a Kubernetes quantity: {value!r}") from exc
    if suffix in _BINARY:
        return base * _BINARY[suffix]
    if suffix in _DECIMAL:
        return base * _DECIMAL[suffix]
    raise ValueError(f"unknown quantity suffix {suffix!r} in {value!r}")


class Prices(BaseModel):
    """The price file (`--prices`, YAML or JSON, camelCase keys); unknown keys are refused.

    Defaults are roughly on-demand managed-Kubernetes list prices (per requested vCPU and GiB,
    730 hours a month); set your own.
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    currency: str = "USD"
    cpu_core_month: float = Field(32.49, alias="cpuCoreMonth", ge=0)
    memory_gib_month: float = Field(3.59, alias="memoryGiBMonth", ge=0)
    request_factor: float = Field(2.0, alias="requestFactor", gt=1)
    idle_days: int = Field(14, alias="idleDays", ge=1)
    sla_replicas: dict[str, dict[str, int]] = Field(
        default_factory=lambda: {
            "critical-services": {"dev": 1, "staging": 1, "prod": 3, "prod-eu": 3},
            "default": {"dev": 1, "staging": 1, "prod": 2, "prod-eu": 2},
        },
        alias="slaReplicas",
    )

    @field_validator("sla_replicas")
    @classmethod
    def _has_default(cls, value: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
        if "default" not in value:
            raise ValueError("slaReplicas needs a 'default' entry")
        return value

    def needed_replicas(self, environment: str, sets: Iterable[str]) -> int:
        needs = [self.sla_replicas[s].get(environment) for s in sets if s in self.sla_replicas]
        needs.append(self.sla_replicas["default"].get(environment, 1))
        return max(n for n in needs if n is not None)


def load_prices(path: Path | None) -> Prices:
    """Prices from a YAML/JSON file (errors name the file and the key), or the defaults."""
    if path is None:
        return Prices.model_validate({})
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"{path}: not readable YAML/JSON ({exc})") from exc
    try:
        return Prices.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err.get("loc", ()))
        raise ValueError(f"{path}: {where}: {err.get('msg')}") from exc


class Request(BaseModel):
    """Requested CPU (cores) and memory (GiB) of one replica."""

    cpu: Decimal = Decimal(0)
    memory_gib: Decimal = Decimal(0)


class UnitInput(BaseModel):
    """What the model needs of a unit: where it is, its service label, its data, when it last
    changed or was applied, and which sets it belongs to."""

    environment: str
    unit: str
    service: str = ""
    data: str
    sets: tuple[str, ...] = ()
    last_activity: datetime | None = None


class Workload(BaseModel):
    kind: str
    name: str
    replicas: int
    per_replica: Request
    containers: dict[str, Request]

    @property
    def cpu(self) -> Decimal:
        return self.per_replica.cpu * self.replicas

    @property
    def memory_gib(self) -> Decimal:
        return self.per_replica.memory_gib * self.replicas


class UnitCost(BaseModel):
    environment: str
    unit: str
    workloads: list[Workload]
    cpu: Decimal
    memory_gib: Decimal
    monthly: Decimal


class Recommendation(BaseModel):
    rule: str
    environment: str
    unit: str
    detail: str
    monthly_saving: Decimal


class Report(BaseModel):
    currency: str
    units: list[UnitCost]
    environments: dict[str, Decimal]
    total: Decimal
    recommendations: list[Recommendation]

    def as_json(self) -> dict[str, Any]:
        """Numbers as rounded floats (CPU cores, GiB, money to cents)."""
        return {
            "currency": self.currency,
            "total": _money(self.total),
            "environments": {k: _money(v) for k, v in self.environments.items()},
            "units": [
                {
                    "environment": u.environment,
                    "unit": u.unit,
                    "cpu": float(round(u.cpu, 3)),
                    "memoryGiB": float(round(u.memory_gib, 3)),
                    "monthly": _money(u.monthly),
                    "workloads": [
                        {
                            "kind": w.kind,
                            "name": w.name,
                            "replicas": w.replicas,
                            "cpuPerReplica": float(w.per_replica.cpu),
                            "memoryGiBPerReplica": float(round(w.per_replica.memory_gib, 6)),
                        }
                        for w in u.workloads
                    ],
                }
                for u in self.units
            ],
            "recommendations": [
                {
                    **r.model_dump(exclude={"monthly_saving"}),
                    "monthlySaving": _money(r.monthly_saving),
                }
                for r in self.recommendations
            ],
        }


def _money(value: Decimal) -> float:
    return float(value.quantize(Decimal("0.01")))


def _requests(container: Mapping[str, Any], where: str) -> Request:
    resources = container.get("resources") or {}
    requests = resources.get("requests") or {}
    limits = resources.get("limits") or {}
    cpu = requests.get("cpu", limits.get("cpu"))
    memory = requests.get("memory", limits.get("memory"))
    try:
        return Request(
            cpu=quantity(cpu) if cpu is not None else Decimal(0),
            memory_gib=quantity(memory) / GIB if memory is not None else Decimal(0),
        )
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from exc


def workloads(data: str, where: str = "unit") -> list[Workload]:
    """Every Deployment/StatefulSet/ReplicaSet in a unit's YAML, with its requests."""
    out: list[Workload] = []
    try:
        docs = list(yaml.load_all(data, Loader=_Loader))
    except yaml.YAMLError as exc:
        raise ValueError(f"{where}: data is not YAML ({exc})") from exc
    for doc in docs:
        if not isinstance(doc, dict) or doc.get("kind") not in WORKLOAD_KINDS:
            continue
        name = str((doc.get("metadata") or {}).get("name", "?"))
        spec = doc.get("spec") or {}
        replicas = spec.get("replicas", 1)
        pod = ((spec.get("template") or {}).get("spec")) or {}
        containers = {
            str(c.get("name")): _requests(
                c, f"{where} {doc['kind']}/{name} container {c.get('name')}"
            )
            for c in pod.get("containers") or []
            if isinstance(c, dict)
        }
        per = Request(
            cpu=sum((r.cpu for r in containers.values()), Decimal(0)),
            memory_gib=sum((r.memory_gib for r in containers.values()), Decimal(0)),
        )
        out.append(
            Workload(
                kind=doc["kind"],
                name=name,
                replicas=int(replicas),
                per_replica=per,
                containers=containers,
            )
        )
    return out


def monthly(cpu: Decimal, memory_gib: Decimal, prices: Prices) -> Decimal:
    return cpu * Decimal(str(prices.cpu_core_month)) + memory_gib * Decimal(
        str(prices.memory_gib_month)
    )


def report(
    units: Iterable[UnitInput],
    prices: Prices,
    defaults: Mapping[str, Request],
    now: datetime,
) -> Report:
    """Cost of every unit, per environment and in total, and the recommendations.

    `defaults`: the default per-container request of each service (the environment's defaults).
    """
    costs: list[UnitCost] = []
    recs: list[Recommendation] = []
    envs: dict[str, Decimal] = {}
    activity: dict[str, datetime | None] = {}
    factor = Decimal(str(prices.request_factor))
    for u in units:
        found = workloads(u.data, f"{u.environment}/{u.unit}")
        cpu = sum((w.cpu for w in found), Decimal(0))
        mem = sum((w.memory_gib for w in found), Decimal(0))
        cost = monthly(cpu, mem, prices)
        costs.append(
            UnitCost(
                environment=u.environment,
                unit=u.unit,
                workloads=found,
                cpu=cpu,
                memory_gib=mem,
                monthly=cost,
            )
        )
        envs[u.environment] = envs.get(u.environment, Decimal(0)) + cost
        last = activity.get(u.environment)
        if u.last_activity is not None and (last is None or u.last_activity > last):
            activity[u.environment] = u.last_activity
        else:
            activity.setdefault(u.environment, last)
        default = defaults.get(u.service)
        for w in found:
            for cname, req in w.containers.items():
                if default is None:
                    continue
                extra_cpu = req.cpu - default.cpu if req.cpu > factor * default.cpu else Decimal(0)
                extra_mem = (
                    req.memory_gib - default.memory_gib
                    if req.memory_gib > factor * default.memory_gib
                    else Decimal(0)
                )
                if extra_cpu or extra_mem:
                    parts = []
                    if extra_cpu:
                        parts.append(f"cpu {_cores(req.cpu)} vs default {_cores(default.cpu)}")
                    if extra_mem:
                        parts.append(
                            f"memory {_gib(req.memory_gib)} vs default {_gib(default.memory_gib)}"
                        )
                    recs.append(
                        Recommendation(
                            rule="requests-above-default",
                            environment=u.environment,
                            unit=u.unit,
                            detail=f"{w.kind}/{w.name} container {cname} requests "
                            + " and ".join(parts)
                            + f" (more than {prices.request_factor}x)",
                            monthly_saving=monthly(extra_cpu, extra_mem, prices) * w.replicas,
                        )
                    )
            needed = prices.needed_replicas(u.environment, u.sets)
            if w.replicas > needed:
                recs.append(
                    Recommendation(
                        rule="replicas-above-sla",
                        environment=u.environment,
                        unit=u.unit,
                        detail=f"{w.kind}/{w.name} runs {w.replicas} replicas; the SLA of "
                        f"{', '.join(u.sets) or 'default'} in {u.environment} needs {needed}",
                        monthly_saving=monthly(w.per_replica.cpu, w.per_replica.memory_gib, prices)
                        * (w.replicas - needed),
                    )
                )
    idle_after = timedelta(days=prices.idle_days)
    for env, last in sorted(activity.items()):
        if env in ("prod", "prod-eu") or last is None or now - last < idle_after:
            continue
        days = (now - last).days
        recs.append(
            Recommendation(
                rule="idle-environment",
                environment=env,
                unit="*",
                detail=f"no unit in {env} changed or was applied for {days} days "
                f"(idleDays {prices.idle_days}); scale it down or destroy it",
                monthly_saving=envs[env],
            )
        )
    return Report(
        currency=prices.currency,
        units=costs,
        environments=envs,
        total=sum(envs.values(), Decimal(0)),
        recommendations=recs,
    )


def _cores(value: Decimal) -> str:
    return f"{value.normalize():f}"


def _gib(value: Decimal) -> str:
    return f"{round(value, 3).normalize():f}Gi"


def catalog_defaults() -> dict[str, Request]:
    """Each service's default container request (components/catalog.py)."""
    from components.model.catalog import SERVICES

    return {
        s.name: Request(
            cpu=quantity(s.resources.cpu_request),
            memory_gib=quantity(s.resources.memory_request) / GIB,
        )
        for s in SERVICES
    }


def stack_cost(datas: Mapping[str, str | None], prices: Prices | None = None) -> dict[str, Any]:
    """The `cost` stack output: monthly cost of each unit's data and the total, as `traderx
    cost` computes it (same model and prices), so the output never disagrees with the report.

    Pure and deterministic (sorted keys, amounts rounded to cents): the same data gives the same
    output, so a no-op `up` stays a no-op. Units whose data is not known (None) are listed in
    `unknown` and count 0.
    """
    prices = prices or Prices.model_validate({})
    units: dict[str, float] = {}
    unknown: list[str] = []
    total = Decimal(0)
    for name in sorted(datas):
        text = datas[name]
        if not isinstance(text, str):
            unknown.append(name)
            continue
        found = workloads(text, name)
        cost = monthly(
            sum((w.cpu for w in found), Decimal(0)),
            sum((w.memory_gib for w in found), Decimal(0)),
            prices,
        )
        total += cost
        if found:
            units[name] = _money(cost)
    return {"currency": prices.currency, "total": _money(total), "units": units, "unknown": unknown}
