"""The cluster edge of a rollout (read only): are the new revision's pods ready, not
restarting; and the pluggable check (a command or an HTTP probe).

Nothing here writes to the cluster: every change goes through ConfigHub and its worker.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field
from typing import Any

import httpx
from kubernetes import client as kclient
from kubernetes import config as kconfig

from components.model.rollout import Check, RolloutError


def check_problem(check: Check) -> str | None:
    """Why this check cannot run (a command that does not exist), before anything changes."""
    if check.command:
        program = check.command[0]
        found = shutil.which(program) if "/" not in program else program
        if not found or not os.access(found, os.X_OK):
            return (
                f"check command {program!r} does not exist or is not executable: give an "
                "executable on PATH or a path (e.g. --check-command /usr/local/bin/smoke.sh), "
                "or --check-http URL"
            )
    return None


def run_check(check: Check, env: dict[str, str]) -> str | None:
    """None when the check passes, else why it failed."""
    if check.empty:
        return None
    if check.command:
        try:
            proc = subprocess.run(
                list(check.command),
                env={**os.environ, **env},
                capture_output=True,
                text=True,
                timeout=check.timeout_seconds,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"check command {check.command[0]!r} failed to run: {exc}"
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or [""]
            return f"check command {' '.join(check.command)} exited {proc.returncode}: {tail[0]}"
        return None
    try:
        resp = httpx.get(check.http, timeout=check.timeout_seconds)
    except httpx.HTTPError as exc:
        return f"HTTP check {check.http} failed: {type(exc).__name__}: {exc}"
    if not 200 <= resp.status_code < 300:
        return f"HTTP check {check.http} answered {resp.status_code}"
    return None


@dataclass
class PodHealth:
    pods: int = 0
    ready: int = 0
    restarts: int = 0
    problems: list[str] = field(default_factory=list)


class Cluster:
    """Reads pods of one namespace through the Kubernetes API."""

    def __init__(self, kubeconfig: str | None, context: str | None, namespace: str) -> None:
        if not kubeconfig:
            raise RolloutError("no kubeconfig: pass --kubeconfig or set KUBECONFIG")
        self.api = kconfig.new_client_from_config(config_file=kubeconfig, context=context or None)
        self.core = kclient.CoreV1Api(self.api)
        self.namespace = namespace

    def health(self, selector: dict[str, str]) -> PodHealth:
        # a key "!name": without that label; a value "!=v": the label is not v (or absent)
        query = ",".join(
            k if k.startswith("!") else f"{k}{v}" if v.startswith("!=") else f"{k}={v}"
            for k, v in sorted(selector.items())
        )
        pods: list[Any] = self.core.list_namespaced_pod(
            self.namespace, label_selector=query, _request_timeout=10
        ).items
        out = PodHealth(pods=len(pods))
        for pod in pods:
            if pod.metadata.deletion_timestamp is not None:
                out.pods -= 1
                continue
            name = pod.metadata.name
            conds = {c.type: c for c in pod.status.conditions or []}
            ready = conds.get("Ready")
            restarts = sum(s.restart_count or 0 for s in pod.status.container_statuses or [])
            out.restarts += restarts
            if ready is not None and ready.status == "True":
                out.ready += 1
            else:
                why = ready.reason if ready is not None and ready.reason else "not Ready"
                out.problems.append(f"pod {name} is not Ready ({why})")
            if restarts:
                out.problems.append(f"pod {name} restarted {restarts} time(s)")
        return out

    def close(self) -> None:
        self.api.close()
