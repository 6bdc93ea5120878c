"""One e2e deployment's setup and teardown, shared by the e2e tests: a unique prefix and
namespaces, a throwaway project copy with its stacks, the cluster's API clients, the stack
config every environment shares, and a teardown that destroys what was created (unprotecting
prod-like stacks first) and reports what is left in ConfigHub and the cluster."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kubernetes import client as kclient
from kubernetes import config as kconfig

from tests.e2e.driver import PulumiError, Stacks, base_env, make_project
from tests.support.server import ServerProcess

PROTECTED = ("prod", "prod-eu")


def kube_apis(kubeconfig: Path) -> tuple[kclient.AppsV1Api, kclient.CoreV1Api, kclient.ApiClient]:
    api = kconfig.new_client_from_config(config_file=str(kubeconfig))
    return kclient.AppsV1Api(api), kclient.CoreV1Api(api), api


def spaces_with_prefix(hub: ServerProcess, prefix: str) -> list[str]:
    with hub.client() as c:
        resp = c.get("/space", params={"where": f"Slug LIKE '{prefix}-%'"})
        resp.raise_for_status()
        items = resp.json()
    return sorted((i.get("Space") or i)["Slug"] for i in items)


def wait_namespaces_gone(
    core: kclient.CoreV1Api, names: list[str], timeout: float = 120
) -> list[str]:
    deadline = time.monotonic() + timeout
    left = names
    while time.monotonic() < deadline:
        items: list[Any] = core.list_namespace().items
        existing = {n.metadata.name for n in items}
        left = [n for n in names if n in existing]
        if not left:
            return []
        time.sleep(2)
    return left


@dataclass
class E2ERun:
    hub: ServerProcess
    prefix: str
    namespaces: dict[str, str]
    project: Path
    env: dict[str, str]  # of every command (pulumi, traderx); `stacks` adds its call log
    stacks: Stacks
    appsv1: kclient.AppsV1Api
    core: kclient.CoreV1Api
    api: kclient.ApiClient
    common: dict[str, Any]
    created: list[str] = field(default_factory=list)

    def init(self, stack: str, config: dict[str, Any], secret: dict[str, str]) -> None:
        """`stack init` with the shared config under `config`; torn down by `teardown`."""
        self.stacks.init(stack, {**self.common, **config}, secret)
        self.created.append(stack)

    def teardown(self, *, unprotect: bool = True) -> tuple[list[str], list[str], list[str]]:
        """Destroy the created stacks, newest first (prod-like ones unprotected the documented
        way unless `unprotect` is off); (errors, spaces left, namespaces left)."""
        errors = []
        for stack in reversed(self.created):
            try:
                if unprotect and stack in PROTECTED:
                    self.stacks.unprotect(stack)
                self.stacks.destroy(stack)
            except PulumiError as exc:
                errors.append(str(exc))
        left_spaces = spaces_with_prefix(self.hub, self.prefix)
        left_ns = wait_namespaces_gone(self.core, list(self.namespaces.values()))
        self.api.close()
        return errors, left_spaces, left_ns


def start(
    tag: str,
    envs: tuple[str, ...],
    toolchain: Any,
    kube_cluster: Any,
    hub: ServerProcess,
    pulumi_backend: str,
    tmp_path: Path,
    *,
    copied: tuple[str, ...] = (),
    apply_timeout: int = 240,
) -> E2ERun:
    """A fresh deployment context named `<tag><6 hex>` over the shared cluster and server."""
    prefix = f"{tag}{secrets.token_hex(3)}"
    project = make_project(tmp_path, copied=copied)
    env = base_env(toolchain.env, pulumi_backend, hub.url, hub.token, str(kube_cluster.kubeconfig))
    appsv1, core, api = kube_apis(kube_cluster.kubeconfig)
    return E2ERun(
        hub=hub,
        prefix=prefix,
        namespaces={e: f"{prefix}-{e}" for e in envs},
        project=project,
        env=env,
        stacks=Stacks(project, env, tmp_path / "calls.jsonl"),
        appsv1=appsv1,
        core=core,
        api=api,
        common={
            "confighub:url": hub.url,
            "traderx:kubeconfig": str(kube_cluster.kubeconfig),
            "traderx:kubeContext": kube_cluster.context,
            "traderx:applyTimeoutSeconds": apply_timeout,
        },
    )
