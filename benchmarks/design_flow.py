"""The design's sequential flow, replayed as the API calls its scripts make, one at a time.

Source: shared/seed/traderx-confighub-architecture.md, `bin/install-base`, `bin/install-envs`
and `bin/ordered-apply`:

- install-base: the base and filters spaces, the 7 filters, the 2 sets (saved filters: Sets
  are retired from the API) and the base units;
- install-envs: per environment a space, its bridge worker and target, and the units cloned
  from the environment before (`cub unit create --dest-space ... --upstream-unit`), each
  written with the environment's YAML and target (the program writes the same YAML);
- ordered-apply, per environment: for order 0..10, list the units with that `order` label,
  and for each unit `cub unit apply` (which by default waits for completion, polling the
  unit's events and then its status at 0.2 s doubling to 6.4 s, as cmd/cub/unit_apply.go
  does), then the script's health check: `kubectl get pods ... status.phase=Running`, with
  `sleep 2` between tries and a 60 s timeout.

The design's check selects pods by `app=${unit%-*}`, which matches nothing with these unit
names; the replay selects the unit's own pods (app.kubernetes.io/name) instead, and skips the
check for units without pods (namespace, ingress), where the design's loop would time out.
The ServiceAccounts and the DB Secret (owned by pulumi-kubernetes in the program) are created
right after the namespace, since pods cannot be created without their ServiceAccount.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from components.confighub.client import (
    BRIDGE_WORKER,
    FILTER,
    SPACE,
    TARGET,
    UNIT,
    ConfigHubClient,
    quote_where,
)
from components.confighub.models import encode_data
from components.confighub.unit_set import member_where
from components.model.catalog import SERVICE_BY_NAME, START_ORDER
from components.model.layout import SETS, filters, space_labels, space_slug, unit_labels, unit_slug
from components.model.manifests import DB_SECRET_NAME, DB_SECRET_PASSWORD_KEY, DB_SECRET_USER_KEY
from components.stack.environment import readiness_timeout, set_labels_for

CUB_FIRST_SLEEP = 0.2  # cmd/cub/unit_apply.go awaitCompletion: 200 ms, doubling ...
CUB_MAX_SLEEP = 6.4  # ... up to 32 x 200 ms
SCRIPT_POLL = 2.0  # bin/ordered-apply: `sleep 2`
SCRIPT_TIMEOUT = 60.0  # bin/ordered-apply: `timeout 60s`


class FlowError(RuntimeError):
    """The replayed flow failed (as the script would have: `exit 1`)."""


@dataclass
class FlowResult:
    phases: dict[str, float] = field(default_factory=dict)
    api_calls: int = 0
    kube_calls: int = 0


@dataclass
class DesignFlow:
    """One replay against a ConfigHub server and a cluster (namespaces `<prefix>-<env>`)."""

    client: ConfigHubClient
    core: Any  # kubernetes.client.CoreV1Api
    prefix: str
    units: dict[str, dict[str, str]]  # env -> component -> YAML ("base" included)
    namespaces: dict[str, str]
    apply_timeout: int = 300
    result: FlowResult = field(default_factory=FlowResult)
    space_ids: dict[str, str] = field(default_factory=dict)
    unit_ids: dict[str, dict[str, str]] = field(default_factory=dict)
    target_ids: dict[str, str] = field(default_factory=dict)

    # ------------------------------------------------------------------ calls

    def _api(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        self.result.api_calls += 1
        return fn(*args, **kwargs)

    def _timed(self, name: str, fn: Callable[[], None]) -> None:
        started = time.monotonic()
        fn()
        self.result.phases[name] = round(time.monotonic() - started, 2)

    # ------------------------------------------------------------------ bin/install-base

    def install_base(self) -> None:
        for kind in ("base", "filters"):
            space = self._api(
                self.client.create,
                SPACE,
                None,
                {"Slug": space_slug(self.prefix, kind), "Labels": space_labels(self.prefix, kind)},
            )
            self.space_ids[kind] = space.id
        body: dict[str, Any]
        for f in filters(self.prefix):
            body = {"Slug": f.slug, "From": "Unit", "Where": f.where}
            self._api(self.client.create, FILTER, self.space_ids["filters"], body)
        for s in SETS:
            body = {
                "Slug": f"set-{s.slug}",
                "From": "Unit",
                "Where": member_where(s.slug),
                "Labels": s.labels,
            }
            self._api(self.client.create, FILTER, self.space_ids["filters"], body)
        self.unit_ids["base"] = {}
        for component in START_ORDER:
            body = {
                "Slug": unit_slug(component),
                "Data": encode_data(self.units["base"][component]),
                "Labels": {**unit_labels(component, "base"), **set_labels_for(component)},
                "ToolchainType": "Kubernetes/YAML",
            }
            unit = self._api(self.client.create, UNIT, self.space_ids["base"], body)
            self.unit_ids["base"][component] = unit.id

    # ------------------------------------------------------------------ bin/install-envs

    def install_env(self, env: str, upstream: str) -> None:
        space = self._api(
            self.client.create,
            SPACE,
            None,
            {"Slug": space_slug(self.prefix, env), "Labels": space_labels(self.prefix, env)},  # type: ignore[arg-type]
        )
        space_id = self.space_ids[env] = space.id
        worker = self._api(self.client.create, BRIDGE_WORKER, space_id, {"Slug": f"{env}-worker"})
        params = {"ReadyTimeoutSeconds": str(readiness_timeout(self.apply_timeout))}
        target = self._api(
            self.client.create,
            TARGET,
            space_id,
            {
                "Slug": f"{env}-cluster",
                "BridgeWorkerID": worker.id,
                "ProviderType": "Kubernetes",
                "ToolchainType": "Kubernetes/YAML",
                "Parameters": json.dumps(params),
            },
        )
        self.target_ids[env] = target.id
        self.unit_ids[env] = {}
        for component in START_ORDER:
            clone = self._api(
                self.client.create,
                UNIT,
                space_id,
                {
                    "Slug": unit_slug(component),
                    "Labels": {**unit_labels(component, env), **set_labels_for(component)},
                    "ToolchainType": "Kubernetes/YAML",
                },
                {
                    "upstream_space_id": self.space_ids[upstream],
                    "upstream_unit_id": self.unit_ids[upstream][component],
                },
            )
            self.unit_ids[env][component] = clone.id
            self._api(
                self.client.patch,
                UNIT,
                space_id,
                clone.id,
                {"Data": encode_data(self.units[env][component]), "TargetID": target.id},
            )

    # ------------------------------------------------------------------ bin/ordered-apply

    def ordered_apply(self, env: str) -> None:
        space_id = self.space_ids[env]
        for order in range(len(START_ORDER)):
            where = f"Labels.order = {quote_where(str(order))}"
            listed = self._api(self.client.list_entities, UNIT, space_id, where)
            for unit in listed:
                self._apply_and_wait(space_id, unit.id, unit.slug)
                if unit.slug == "namespace":
                    self._platform(env)
                elif unit.slug in SERVICE_BY_NAME:
                    self._wait_running(env, unit.slug)

    def _apply_and_wait(self, space_id: str, unit_id: str, slug: str) -> None:
        """`cub unit apply` with its default --wait (awaitCompletion's schedule)."""
        op = self._api(self.client.apply_unit, space_id, unit_id)
        where = f"QueuedOperationID = {quote_where(op.queued_operation_id)}"
        started, delay = False, CUB_FIRST_SLEEP
        deadline = time.monotonic() + 120.0  # cub's default --timeout 2m
        while time.monotonic() < deadline:
            if not started:
                started = bool(self._api(self.client.list_unit_events, space_id, unit_id, where))
            else:
                status = self._api(
                    self.client.get_unit_action, space_id, unit_id, op.queued_operation_id
                ).status
                if status in ("Completed", "Canceled", "Failed", "Aborted"):
                    if status != "Completed":
                        raise FlowError(f"apply of {slug} ended {status}")
                    return
            time.sleep(delay)
            delay = min(delay * 2, CUB_MAX_SLEEP)
        raise FlowError(f"Apply didn't complete on unit {slug}")

    def _wait_running(self, env: str, component: str) -> None:
        deadline = time.monotonic() + SCRIPT_TIMEOUT
        while True:
            self.result.kube_calls += 1
            pods = self.core.list_namespaced_pod(
                self.namespaces[env],
                label_selector=f"app.kubernetes.io/name={component}",
                field_selector="status.phase=Running",
            )
            if pods.items:
                return
            if time.monotonic() >= deadline:
                raise FlowError(f"{component} failed to start within 60 seconds")
            time.sleep(SCRIPT_POLL)

    def _platform(self, env: str) -> None:
        """What pulumi-kubernetes owns in the program: ServiceAccounts and the DB Secret."""
        ns = self.namespaces[env]
        for service in SERVICE_BY_NAME:
            self.result.kube_calls += 1
            self.core.create_namespaced_service_account(ns, {"metadata": {"name": service}})
        self.result.kube_calls += 1
        self.core.create_namespaced_secret(
            ns,
            {
                "metadata": {"name": DB_SECRET_NAME},
                "stringData": {DB_SECRET_USER_KEY: "sa", DB_SECRET_PASSWORD_KEY: "bench-only"},
            },
        )

    # ------------------------------------------------------------------ the whole flow

    def run(self, envs: tuple[str, ...]) -> FlowResult:
        started = time.monotonic()
        self._timed("install_base_s", self.install_base)
        upstreams = {"dev": "base", "staging": "dev", "prod": "staging"}

        def install_envs() -> None:
            for env in envs:
                self.install_env(env, upstreams[env])

        self._timed("install_envs_s", install_envs)
        for env in envs:
            self._timed(f"ordered_apply_{env}_s", lambda env=env: self.ordered_apply(env))  # type: ignore[misc]
        self.result.phases["total_s"] = round(time.monotonic() - started, 2)
        return self.result
