"""Shared pieces of the deploy benchmark: rendered units per environment, a pod watch that
records when each TraderX pod was created and became Ready, and the critical-path arithmetic.

Readiness is measured from Kubernetes watch events (local receive time, millisecond precision),
not from the pods' condition timestamps, which the API server keeps to the second.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from components.model.catalog import SERVICE_BY_NAME, START_ORDER, needs_of, tier_of
from components.model.manifests import base_context, context_for
from components.model.settings import Settings, load_settings
from components.stack.environment import render_unit

ROOT = Path(__file__).resolve().parents[1]
ENVS = ("dev", "staging", "prod")
WORKLOADS = tuple(c for c in START_ORDER if c in SERVICE_BY_NAME)


def stack_settings(env: str, prefix: str, namespace: str, url: str, token: str) -> Settings:
    """The settings `pulumi up -s <env>` would validate, from the repository's stack file."""
    raw_config = yaml.safe_load((ROOT / f"Pulumi.{env}.yaml").read_text())["config"]
    raw: dict[str, Any] = {
        k: v if isinstance(v, str) else json.dumps(v) for k, v in raw_config.items()
    }
    raw.update({"traderx:prefix": prefix, "traderx:namespace": namespace, "confighub:url": url})
    raw.pop("traderx:upstreamStack", None)
    if env == "prod":  # the program takes prod's images from the pins; the YAML is the same
        raw["traderx:promote"] = json.dumps({s: 1 for s in WORKLOADS})
        raw["traderx:databasePassword"] = "bench-only"
    return load_settings(raw, project="traderx", stack=env, environ={"CONFIGHUB_TOKEN": token})


def rendered_units(settings: Settings) -> dict[str, str]:
    """component -> unit YAML, exactly as the program renders the environment's units."""
    ctx = context_for(settings)
    return {c: render_unit(ctx, c) for c in START_ORDER}


def rendered_base_units(settings: Settings) -> dict[str, str]:
    ctx = base_context()  # base is the catalog's defaults, the same for every stack
    return {c: render_unit(ctx, c) for c in START_ORDER}


# ---------------------------------------------------------------------------- pod readiness


@dataclass
class PodTimes:
    namespace: str
    component: str
    created: float
    ready: float | None = None


@dataclass
class PodWatch:
    """Watches every TraderX pod in the cluster; `readiness()` per (namespace, component)."""

    kubeconfig: str
    pods: dict[str, PodTimes] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    error: str = ""

    def start(self) -> None:
        from kubernetes import client, config, watch

        api = client.CoreV1Api(config.new_client_from_config(config_file=self.kubeconfig))
        ready = threading.Event()

        def run() -> None:
            version = ""
            while not self._stop.is_set():
                try:
                    if not version:
                        listed = api.list_pod_for_all_namespaces(
                            label_selector="app.kubernetes.io/part-of=traderx"
                        )
                        version = str(listed.metadata.resource_version)  # type: ignore[union-attr]
                        for pod in listed.items:
                            self._seen(pod, time.monotonic())
                        ready.set()
                    stream = watch.Watch().stream(
                        api.list_pod_for_all_namespaces,
                        label_selector="app.kubernetes.io/part-of=traderx",
                        resource_version=version,
                        timeout_seconds=30,
                    )
                    for event in stream:
                        self._seen(event["object"], time.monotonic())
                        version = event["object"].metadata.resource_version
                        if self._stop.is_set():
                            return
                except Exception as exc:  # expired version, connection drop: list again
                    self.error = f"{type(exc).__name__}: {exc}"[:300]
                    version = ""
                    time.sleep(0.2)

        self._thread = threading.Thread(target=run, name="pod-watch", daemon=True)
        self._thread.start()
        if not ready.wait(30):
            raise RuntimeError(f"pod watch did not start: {self.error}")

    def stop(self) -> None:
        self._stop.set()

    def _seen(self, pod: Any, at: float) -> None:
        uid = pod.metadata.uid
        labels = pod.metadata.labels or {}
        times = self.pods.get(uid)
        if times is None:
            times = self.pods[uid] = PodTimes(
                pod.metadata.namespace, labels.get("app.kubernetes.io/name", "?"), at
            )
        if times.ready is None:
            conditions = (pod.status.conditions if pod.status else None) or []
            if any(c.type == "Ready" and c.status == "True" for c in conditions):
                times.ready = at

    def readiness(self, namespace: str, since: float = 0.0) -> dict[str, float]:
        """component -> seconds from pod creation to Ready (slowest pod of the component)."""
        out: dict[str, float] = {}
        for p in self.pods.values():
            if p.namespace != namespace or p.created < since or p.ready is None:
                continue
            out[p.component] = max(out.get(p.component, 0.0), p.ready - p.created)
        return out

    def created(self, namespace: str, since: float) -> list[str]:
        """The components of the pods created in `namespace` since `since`, Ready or not."""
        pods = self.pods.values()
        return sorted(p.component for p in pods if p.namespace == namespace and p.created >= since)

    def restore_floor(self, namespace: str, since: float) -> float:
        """The readiness floor of a rebuild (`dr rebuild`): the tier sum of the pods it created,
        plus the readiness of each database pod started after the first one was Ready (the
        database restore restarts it on the restored files: that wait comes after the tiers)."""
        pods = sorted(
            (p for p in self.pods.values() if p.namespace == namespace and p.created >= since),
            key=lambda p: p.created,
        )
        first: dict[str, float] = {}
        restarts = 0.0
        db_ready: float | None = None
        for p in pods:
            if p.ready is None:
                continue
            seconds = p.ready - p.created
            if p.component == "database" and db_ready is not None and p.created > db_ready:
                restarts += seconds
                continue
            if p.component == "database":
                db_ready = p.ready if db_ready is None else min(db_ready, p.ready)
            first[p.component] = max(first.get(p.component, 0.0), seconds)
        return tier_sum(first) + restarts


def tier_sum(readiness: Mapping[str, float]) -> float:
    """The issue's critical-path floor: sum over the tiers of the slowest readiness."""
    slowest: dict[int, float] = {}
    for component, seconds in readiness.items():
        tier = tier_of(component)  # type: ignore[arg-type]
        slowest[tier] = max(slowest.get(tier, 0.0), seconds)
    return sum(slowest.values())


def longest_path(readiness: Mapping[str, float]) -> float:
    """The dependency graph's longest readiness path (never more than the tier sum)."""
    done: dict[str, float] = {}
    for component in START_ORDER:
        before = max((done[d] for d in needs_of(component) if d in done), default=0.0)
        done[component] = before + readiness.get(component, 0.0)
    return max(done.values(), default=0.0)


def total(values: Iterable[float]) -> float:
    return round(sum(values), 1)
