"""Drift detection and correction for one environment, through public APIs only: ConfigHub (units,
their live revision's data, apply) and the Kubernetes API (live objects with managedFields).

A unit is compared at its live revision (what was applied), so a change waiting to be applied is
not drift. Low-risk drift is corrected - when the rules allow it in that environment - by
re-applying the unit's head through ConfigHub (never the worker's refresh, which would take the
drift *in*), and only when the head is what is live and every drifted field of the unit is low
risk (an apply re-asserts the whole unit, so it would also revert a high-risk field). Every
correction is appended to the audit file: what, when, which rule, by whom.
"""

from __future__ import annotations

import getpass
import json
import socket
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from kubernetes import config as kconfig
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import NotFoundError as KubeNotFound
from kubernetes.dynamic.exceptions import ResourceNotFoundError
from pydantic import BaseModel

from components.confighub.client import ConfigHubClient
from components.confighub.errors import ConfigHubError
from components.confighub.operations import wait_for
from operator_cli.deploy import environment_units
from operator_cli.drift.compare import FieldDrift, Writer, drift
from operator_cli.drift.rules import RuleSet


class Finding(BaseModel):
    environment: str
    unit: str
    object: str  # Kind/namespace/name
    path: str
    desired: Any
    live: Any
    writer: Writer
    risk: str
    rule: str
    action: str = "reported"


class Cluster:
    """Live objects by apiVersion/kind/namespace/name (dynamic client, discovery cached)."""

    def __init__(self, kubeconfig: str | None, context: str | None) -> None:
        api = kconfig.new_client_from_config(config_file=kubeconfig, context=context)
        self.dyn = DynamicClient(api)

    def get(self, doc: dict[str, Any]) -> dict[str, Any] | None:
        meta = doc.get("metadata") or {}
        try:
            resource = self.dyn.resources.get(api_version=doc["apiVersion"], kind=doc["kind"])
        except ResourceNotFoundError:
            return None
        try:
            obj = resource.get(name=meta["name"], namespace=meta.get("namespace"))
        except KubeNotFound:
            return None
        found: dict[str, Any] = obj.to_dict()
        return found


def _ref(doc: dict[str, Any]) -> str:
    meta = doc.get("metadata") or {}
    ns = meta.get("namespace")
    return f"{doc.get('kind')}/{ns + '/' if ns else ''}{meta.get('name')}"


def detect(
    client: ConfigHubClient, cluster: Cluster, space_slug: str, environment: str, rules: RuleSet
) -> tuple[list[Finding], dict[str, dict[str, Any]]]:
    """Every drifted field of every applied unit, classified; and the units by slug."""
    space_id, units = environment_units(client, space_slug)
    findings: list[Finding] = []
    by_slug: dict[str, dict[str, Any]] = {}
    for unit in units:
        live_num = int(unit.get("LiveRevisionNum") or 0)
        if live_num == 0:
            continue  # never applied: nothing in the cluster to drift
        unit = {**unit, "SpaceID": space_id}
        by_slug[unit["Slug"]] = unit
        text = client.get_revision(space_id, unit["UnitID"], live_num).text
        critical = (unit.get("Labels") or {}).get("critical") == "true"
        for doc in yaml.safe_load_all(text):
            if not isinstance(doc, dict) or "kind" not in doc:
                continue
            for found in drift(doc, cluster.get(doc)):
                risk, rule = rules.classify(
                    path=found.path,
                    kind=str(doc["kind"]),
                    manager=found.writer.manager,
                    environment=environment,
                    critical=critical,
                )
                findings.append(_finding(environment, unit["Slug"], doc, found, risk, rule))
    return findings, by_slug


def _finding(
    env: str, unit: str, doc: dict[str, Any], found: FieldDrift, risk: str, rule: str
) -> Finding:
    return Finding(
        environment=env,
        unit=unit,
        object=_ref(doc),
        path=found.path,
        desired=found.desired,
        live=found.live,
        writer=found.writer,
        risk=risk,
        rule=rule,
    )


def actor() -> str:
    """Who a correction or a drift record is attributed to."""
    return f"traderx drift ({getpass.getuser()}@{socket.gethostname()})"


def correct(
    client: ConfigHubClient,
    findings: list[Finding],
    units: dict[str, dict[str, Any]],
    rules: RuleSet,
    environment: str,
    audit: Path | None,
    timeout: float = 120.0,
) -> list[Finding]:
    """Re-apply the head of each unit whose drift is all low risk (if allowed); set actions."""
    by_unit: dict[str, list[Finding]] = {}
    for f in findings:
        by_unit.setdefault(f.unit, []).append(f)
    by = actor()
    for slug, items in by_unit.items():
        unit = units[slug]
        lows = [f for f in items if f.risk == "low"]
        if not lows:
            continue
        reason = None
        if not rules.corrects(environment):
            reason = f"auto-correction is off in {environment} (rules autoCorrect)"
        elif any(f.risk == "high" for f in items):
            reason = "not corrected: the unit also has high-risk drift (an apply would revert it)"
        elif int(unit.get("HeadRevisionNum") or 0) != int(unit.get("LiveRevisionNum") or 0):
            reason = "not corrected: the unit's head is not what is live (pending change)"
        if reason:
            for f in lows:
                f.action = reason
            continue
        started = time.monotonic()
        try:
            op = client.apply_unit(unit["SpaceID"], unit["UnitID"])
            wait_for(
                client,
                unit["SpaceID"],
                unit["UnitID"],
                op,
                what=f"drift correction of {slug}",
                timeout=timeout,
            )
            action = f"corrected: re-applied head revision {unit.get('HeadRevisionNum')}"
        except ConfigHubError as exc:
            action = f"correction failed: {exc}"
        for f in lows:
            f.action = action
        if audit is not None:
            audit.parent.mkdir(parents=True, exist_ok=True)
            with audit.open("a", encoding="utf-8") as fh:
                for f in lows:
                    record = {
                        "at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                        "by": by,
                        "rule": f.rule,
                        "environment": environment,
                        "unit": slug,
                        "object": f.object,
                        "path": f.path,
                        "from": f.live,
                        "to": f.desired,
                        "driftWrittenBy": f.writer.model_dump(),
                        "action": f.action,
                        "seconds": round(time.monotonic() - started, 2),
                    }
                    fh.write(json.dumps(record, sort_keys=True, default=str) + "\n")
    return findings
