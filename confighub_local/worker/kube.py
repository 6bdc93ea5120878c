"""Apply, destroy and refresh a unit's Kubernetes YAML with server-side apply through the
Kubernetes Python dynamic client (no kubectl), waiting for readiness with a timeout."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import yaml
from kubernetes import config as kube_config
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import DynamicApiError, ResourceNotFoundError

FIELD_MANAGER = "confighub-local"
_ORDER = {
    "Namespace": 0,
    "CustomResourceDefinition": 1,
    "ServiceAccount": 2,
    "Role": 3,
    "ClusterRole": 3,
    "RoleBinding": 4,
    "ClusterRoleBinding": 4,
    "ConfigMap": 5,
    "Secret": 5,
    "PersistentVolumeClaim": 6,
    "Service": 7,
}


@dataclass
class Outcome:
    """What an action did, in ActionResult terms."""

    ok: bool
    result: str
    message: str
    live: list[dict[str, Any]] = field(default_factory=list)
    statuses: dict[str, dict[str, Any]] = field(default_factory=dict)


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _ref(doc: dict[str, Any]) -> str:
    meta = doc.get("metadata") or {}
    ns = meta.get("namespace")
    return f"{doc.get('kind')}/{ns + '/' if ns else ''}{meta.get('name')}"


def _api_message(exc: Exception) -> str:
    body = getattr(exc, "body", None)
    if body:
        try:
            return str(json.loads(body).get("message") or body)
        except (ValueError, AttributeError):
            return str(body)
    return str(getattr(exc, "reason", "") or exc)


def _clean(obj: dict[str, Any]) -> dict[str, Any]:
    """Live state as reported to the server: no managedFields, and Secret values redacted so
    they never land in the server's database."""
    meta = obj.get("metadata") or {}
    meta.pop("managedFields", None)
    if obj.get("kind") == "Secret":
        for key in ("data", "stringData"):
            if isinstance(obj.get(key), dict):
                obj[key] = {k: "<redacted>" for k in obj[key]}
        annotations = meta.get("annotations") or {}
        annotations.pop("kubectl.kubernetes.io/last-applied-configuration", None)
    return obj


def _desired(doc: dict[str, Any]) -> dict[str, Any]:
    """The fields refresh compares: not status, not a Secret's write-only stringData."""
    return {k: v for k, v in doc.items() if k not in ("status", "stringData")}


def differs(desired: Any, live: Any, path: str = "") -> str | None:
    """First path where live does not carry the desired value (extra live fields are fine)."""
    if isinstance(desired, dict):
        if not isinstance(live, dict):
            return path or "/"
        for key, value in desired.items():
            found = differs(value, live.get(key), f"{path}/{key}")
            if found:
                return found
        return None
    if isinstance(desired, list):
        if not isinstance(live, list) or len(live) != len(desired):
            return path
        for i, (d, lv) in enumerate(zip(desired, live, strict=True)):
            found = differs(d, lv, f"{path}[{i}]")
            if found:
                return found
        return None
    if desired != live and str(desired) != str(live):
        return path
    return None


class KubeExecutor:
    """One cluster connection (kubeconfig + optional context)."""

    def __init__(
        self, kubeconfig: str, context: str | None = None, ready_timeout: float = 120.0
    ) -> None:
        api = kube_config.new_client_from_config(config_file=kubeconfig, context=context)
        self.dyn = DynamicClient(api)
        self.ready_timeout = ready_timeout

    def _resource(self, doc: dict[str, Any]) -> Any:
        return self.dyn.resources.get(api_version=doc.get("apiVersion"), kind=doc.get("kind"))

    @staticmethod
    def _docs(data: bytes) -> list[dict[str, Any]]:
        docs = [d for d in yaml.safe_load_all(data.decode() or "") if d]
        for num, doc in enumerate(docs, 1):
            if not isinstance(doc, dict) or not doc.get("kind") or not doc.get("apiVersion"):
                raise ValueError(
                    f"YAML document {num} of the unit data is not a Kubernetes object: "
                    "every document needs apiVersion and kind"
                )
            if not (doc.get("metadata") or {}).get("name"):
                raise ValueError(
                    f"YAML document {num} of the unit data ({doc['kind']}) has no metadata.name"
                )
        return docs

    def _ns(self, res: Any, doc: dict[str, Any]) -> str | None:
        if not res.namespaced:
            return None
        return str((doc.get("metadata") or {}).get("namespace") or "default")

    def apply(self, data: bytes) -> Outcome:
        try:
            docs = sorted(self._docs(data), key=lambda d: _ORDER.get(str(d.get("kind")), 9))
        except (ValueError, yaml.YAMLError) as exc:
            return Outcome(False, "ApplyFailed", f"invalid config data: {exc}")
        live: list[dict[str, Any]] = []
        statuses: dict[str, dict[str, Any]] = {}
        for doc in docs:
            try:
                res = self._resource(doc)
                obj = self.dyn.server_side_apply(
                    res,
                    body=doc,
                    name=doc["metadata"]["name"],
                    namespace=self._ns(res, doc),
                    field_manager=FIELD_MANAGER,
                    force_conflicts=True,
                )
            except ResourceNotFoundError:
                return Outcome(
                    False,
                    "ApplyFailed",
                    f"{_ref(doc)}: the cluster has no {doc['apiVersion']} {doc['kind']}",
                    live,
                    statuses,
                )
            except (ApiException, DynamicApiError) as exc:
                return Outcome(
                    False, "ApplyFailed", f"{_ref(doc)}: {_api_message(exc)}", live, statuses
                )
            live.append(_clean(obj.to_dict()))
            statuses[_ref(doc)] = {
                "Readiness": "Progressing",
                "SyncStatus": "Synced",
                "UpdatedAt": _stamp(),
                "Message": "applied",
            }
        waiting = self.wait_ready(docs, statuses)
        if waiting:
            return Outcome(False, "ApplyWaitFailed", waiting, live, statuses)
        return Outcome(True, "ApplyCompleted", f"applied {len(docs)} resource(s)", live, statuses)

    def _workload_problem(self, doc: dict[str, Any]) -> str | None:
        kind = doc.get("kind")
        if kind not in ("Deployment", "StatefulSet"):
            return None
        res = self._resource(doc)
        obj = res.get(name=doc["metadata"]["name"], namespace=self._ns(res, doc)).to_dict()
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        want = int(spec.get("replicas", 1))
        generation = (obj.get("metadata") or {}).get("generation", 0)
        if status.get("observedGeneration", 0) < generation:
            return f"{_ref(doc)} not yet observed by its controller"
        keys = ("updatedReplicas", "readyReplicas") + (
            ("availableReplicas",) if kind == "Deployment" else ()
        )
        counts = {k: int(status.get(k) or 0) for k in keys}
        if all(v == want for v in counts.values()):
            return None
        have = ", ".join(f"{v}/{want} {k}" for k, v in counts.items())
        why = ""
        for cond in status.get("conditions") or []:
            if cond.get("type") in ("Available", "Progressing") and cond.get("status") != "True":
                why = f"; {cond['type']}={cond.get('status')}: {cond.get('message', '')}"
        return f"{_ref(doc)} not available: {have}{why}"

    def wait_ready(self, docs: list[dict[str, Any]], statuses: dict[str, dict[str, Any]]) -> str:
        """Wait until every Deployment/StatefulSet is available; return '' or the reason."""
        deadline = time.monotonic() + self.ready_timeout
        pause = 0.1
        while True:
            problems = []
            for doc in docs:
                try:
                    problem = self._workload_problem(doc)
                except (ApiException, DynamicApiError) as exc:
                    problem = f"{_ref(doc)}: {_api_message(exc)}"
                ref = _ref(doc)
                if problem:
                    problems.append(problem)
                    statuses[ref].update(Readiness="NotReady", Message=problem, UpdatedAt=_stamp())
                else:
                    statuses[ref].update(Readiness="Ready", UpdatedAt=_stamp())
            if not problems:
                return ""
            if time.monotonic() >= deadline:
                return (
                    f"timed out after {self.ready_timeout:.0f}s waiting for readiness: "
                    + "; ".join(problems)
                )
            time.sleep(pause)
            pause = min(pause * 2, 1.0)

    def destroy(self, data: bytes) -> Outcome:
        try:
            docs = self._docs(data)
        except (ValueError, yaml.YAMLError) as exc:
            return Outcome(False, "DestroyFailed", f"invalid config data: {exc}")
        ordered = sorted(docs, key=lambda d: -_ORDER.get(str(d.get("kind")), 9))
        for doc in ordered:
            try:
                res = self._resource(doc)
                res.delete(name=doc["metadata"]["name"], namespace=self._ns(res, doc))
            except ResourceNotFoundError:
                continue
            except (ApiException, DynamicApiError) as exc:
                if getattr(exc, "status", None) == 404:
                    continue
                return Outcome(False, "DestroyFailed", f"{_ref(doc)}: {_api_message(exc)}")
        left = self._wait_gone(ordered)
        if left:
            return Outcome(
                False,
                "DestroyWaitFailed",
                f"still present after {self.ready_timeout:.0f}s: {', '.join(left)}",
            )
        return Outcome(True, "DestroyCompleted", f"deleted {len(docs)} resource(s)")

    def _wait_gone(self, docs: list[dict[str, Any]]) -> list[str]:
        """Destroy completes only once the objects are gone (finalizers, cascading deletes)."""
        deadline = time.monotonic() + self.ready_timeout
        while True:
            left = []
            for doc in docs:
                try:
                    res = self._resource(doc)
                    res.get(name=doc["metadata"]["name"], namespace=self._ns(res, doc))
                    left.append(_ref(doc))
                except ResourceNotFoundError:
                    continue
                except (ApiException, DynamicApiError) as exc:
                    if getattr(exc, "status", None) != 404:
                        left.append(f"{_ref(doc)} ({_api_message(exc)})")
            if not left or time.monotonic() >= deadline:
                return left
            time.sleep(0.5)

    def refresh(self, data: bytes) -> Outcome:
        """Read live objects; drift is any desired value the live object no longer carries."""
        try:
            docs = self._docs(data)
        except (ValueError, yaml.YAMLError) as exc:
            return Outcome(False, "RefreshFailed", f"invalid config data: {exc}")
        live, drifts, statuses = [], [], {}
        for doc in docs:
            ref = _ref(doc)
            try:
                res = self._resource(doc)
                obj = res.get(name=doc["metadata"]["name"], namespace=self._ns(res, doc)).to_dict()
            except (ApiException, DynamicApiError) as exc:
                if getattr(exc, "status", None) == 404:
                    drifts.append(f"{ref} is missing")
                    statuses[ref] = {
                        "SyncStatus": "OutOfSync",
                        "Message": "missing",
                        "UpdatedAt": _stamp(),
                    }
                    continue
                return Outcome(False, "RefreshFailed", f"{ref}: {_api_message(exc)}")
            path = differs(_desired(doc), obj)
            live.append(_clean(obj))
            if path:
                drifts.append(f"{ref} differs at {path}")
            statuses[ref] = {
                "SyncStatus": "OutOfSync" if path else "Synced",
                "Message": f"differs at {path}" if path else "in sync",
                "UpdatedAt": _stamp(),
            }
        if drifts:
            return Outcome(True, "RefreshAndDrifted", "; ".join(drifts), live, statuses)
        return Outcome(True, "RefreshAndNoDrift", "no drift", live, statuses)
