"""Kubernetes/YAML functions. Each takes the unit's documents and parsed arguments and returns
new documents (mutating), an output (readers) or a pass/fail (validating)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

from confighub_local.functions.registry import REGISTRY, Function, Impl, Result

TOOLCHAIN = "Kubernetes/YAML"
PLACEHOLDER_STR = "confighubplaceholder"
PLACEHOLDER_INT = 999999999
_WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Pod"}
_SCALABLE = {"Deployment", "StatefulSet", "ReplicaSet"}
_CLUSTER_SCOPED = {
    "Namespace",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "PersistentVolume",
    "StorageClass",
    "PriorityClass",
    "IngressClass",
    "MutatingWebhookConfiguration",
    "ValidatingWebhookConfiguration",
    "APIService",
}


class FunctionError(ValueError):
    """Bad arguments or data for a function; the message says which."""


def _param(
    name: str, dtype: str, desc: str, example: str = "", required: bool = True
) -> dict[str, Any]:
    return {
        "ParameterName": name,
        "DataType": dtype,
        "Description": desc,
        "Example": example,
        "Required": required,
    }


def _register(
    name: str,
    desc: str,
    params: list[dict[str, Any]],
    *,
    mutating: bool = False,
    validating: bool = False,
    output: dict[str, Any] | None = None,
) -> Callable[[Impl], Impl]:
    def wrap(fn: Impl) -> Impl:
        sig: dict[str, Any] = {
            "FunctionName": name,
            "Description": desc,
            "Parameters": params,
            "RequiredParameters": sum(1 for p in params if p["Required"]),
            "Mutating": mutating,
            "Validating": validating,
            "Hermetic": True,
            "Idempotent": True,
            "VarArgs": False,
            "ToolchainType": TOOLCHAIN,
            "FunctionType": "Custom",
            "AffectedResourceTypes": [],
        }
        if output:
            sig["OutputInfo"] = output
        REGISTRY[name] = Function(signature=sig, impl=fn)
        return fn

    return wrap


def _pod_spec(doc: dict[str, Any]) -> dict[str, Any] | None:
    kind = doc.get("kind")
    spec = doc.get("spec")
    if not isinstance(spec, dict) or kind not in _WORKLOADS:
        return None
    if kind == "Pod":
        return spec
    if kind == "CronJob":
        spec = spec.get("jobTemplate", {}).get("spec", {})
    template = spec.get("template", {}) if isinstance(spec, dict) else {}
    pod = template.get("spec") if isinstance(template, dict) else None
    return pod if isinstance(pod, dict) else None


def _pod_path(doc: dict[str, Any]) -> str:
    """The dotted path of a workload's pod spec (for attribute paths)."""
    kind = doc.get("kind")
    if kind == "Pod":
        return "spec"
    if kind == "CronJob":
        return "spec.jobTemplate.spec.template.spec"
    return "spec.template.spec"


def _image_path(doc: dict[str, Any], ctr: dict[str, Any]) -> str:
    return f"{_pod_path(doc)}.containers.?name={ctr.get('name')}.image"


def containers(docs: list[Any], name: str) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(document, container) pairs whose container matches `name` ('*' matches all)."""
    for doc in docs:
        if not isinstance(doc, dict):
            continue
        pod = _pod_spec(doc)
        if pod is None:
            continue
        for key in ("initContainers", "containers"):
            for ctr in pod.get(key) or []:
                if isinstance(ctr, dict) and (name == "*" or ctr.get("name") == name):
                    yield doc, ctr


def _set_reference(image: str, reference: str) -> str:
    repo = image.split("@", 1)[0]
    last = repo.rsplit("/", 1)[-1]
    if ":" in last:
        repo = repo[: len(repo) - len(last)] + last.split(":", 1)[0]
    return repo + reference


@_register(
    "set-image-reference",
    "Set the tag or digest (':tag' or '@sha256:...') of a "
    "container's image, keeping the repository",
    [
        _param("container-name", "string", "container name, or * for all", "trade-service"),
        _param("image-reference", "string", "':tag' or '@digest'", ":1.2.3"),
    ],
    mutating=True,
)
def set_image_reference(docs: list[Any], args: list[Any]) -> Result:
    name, ref = str(args[0]), str(args[1])
    if not re.fullmatch(r"(:[\w][\w.\-]{0,127}|@[A-Za-z0-9]+:[A-Fa-f0-9]{32,})", ref):
        raise FunctionError(f"image-reference {ref!r} must be ':tag' or '@algorithm:digest'")
    found = False
    for _, ctr in containers(docs, name):
        ctr["image"] = _set_reference(str(ctr.get("image", "")), ref)
        found = True
    if not found:
        raise FunctionError(f"no container named {name!r}")
    return Result(docs)


@_register(
    "set-image",
    "Set a container's full image",
    [
        _param("container-name", "string", "container name, or * for all", "trade-service"),
        _param("image", "string", "full image reference", "ghcr.io/x/y:1.0"),
    ],
    mutating=True,
)
def set_image(docs: list[Any], args: list[Any]) -> Result:
    found = False
    for _, ctr in containers(docs, str(args[0])):
        ctr["image"] = str(args[1])
        found = True
    if not found:
        raise FunctionError(f"no container named {args[0]!r}")
    return Result(docs)


@_register(
    "set-replicas",
    "Set spec.replicas of Deployments, StatefulSets and ReplicaSets",
    [_param("replicas", "int", "replica count", "3")],
    mutating=True,
)
def set_replicas(docs: list[Any], args: list[Any]) -> Result:
    replicas = _int(args[0], "replicas")
    if replicas < 0:
        raise FunctionError(f"set-replicas: replicas must be >= 0, got {replicas}")
    for doc in docs:
        if isinstance(doc, dict) and doc.get("kind") in _SCALABLE:
            doc.setdefault("spec", {})["replicas"] = replicas
    return Result(docs)


@_register(
    "get-replicas",
    "Report spec.replicas of scalable workloads",
    [],
    output={
        "ResultName": "replicas",
        "OutputType": "AttributeValueList",
        "Description": "replicas per resource",
    },
)
def get_replicas(docs: list[Any], args: list[Any]) -> Result:
    out = [
        attribute_value(d, "spec.replicas", "int", d.get("spec", {}).get("replicas", 1))
        for d in docs
        if isinstance(d, dict) and d.get("kind") in _SCALABLE
    ]
    return Result(docs, output=out)


def attribute_value(doc: dict[str, Any], path: str, dtype: str, value: Any) -> dict[str, Any]:
    """One entry of the SDK's AttributeValueList (what `cub function do` prints)."""
    meta = doc.get("metadata") or {}
    name = str(meta.get("name", ""))
    return {
        "ResourceName": f"{meta.get('namespace', '')}/{name}",
        "ResourceNameWithoutScope": name,
        "ResourceType": f"{doc.get('apiVersion', '')}/{doc.get('kind', '')}",
        "Path": path,
        "DataType": dtype,
        "Value": value,
    }


@_register(
    "get-image",
    "Report a container's image",
    [_param("container-name", "string", "container name, or * for all", "*")],
    output={
        "ResultName": "images",
        "OutputType": "AttributeValueList",
        "Description": "image per container",
    },
)
def get_image(docs: list[Any], args: list[Any]) -> Result:
    out = [
        {
            **attribute_value(d, _image_path(d, c), "string", c.get("image")),
            "Container": c.get("name"),
        }
        for d, c in containers(docs, str(args[0]))
    ]
    return Result(docs, output=out)


@_register(
    "set-namespace",
    "Set metadata.namespace of every namespaced resource",
    [_param("namespace", "string", "namespace", "traderx-dev")],
    mutating=True,
)
def set_namespace(docs: list[Any], args: list[Any]) -> Result:
    ns = str(args[0])
    if not re.fullmatch(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?", ns):
        raise FunctionError(f"namespace {ns!r} is not a valid DNS label")
    for doc in docs:
        if isinstance(doc, dict) and doc.get("kind") not in _CLUSTER_SCOPED:
            doc.setdefault("metadata", {})["namespace"] = ns
    return Result(docs)


@_register(
    "set-env-var",
    "Set an environment variable on a container",
    [
        _param("container-name", "string", "container name, or * for all", "trade-service"),
        _param("env-var", "string", "variable name", "LOG_LEVEL"),
        _param("env-value", "string", "value", "debug"),
    ],
    mutating=True,
)
def set_env_var(docs: list[Any], args: list[Any]) -> Result:
    name, var, value = str(args[0]), str(args[1]), str(args[2])
    found = False
    for _, ctr in containers(docs, name):
        env = ctr.setdefault("env", [])
        for item in env:
            if item.get("name") == var:
                item.pop("valueFrom", None)
                item["value"] = value
                break
        else:
            env.append({"name": var, "value": value})
        found = True
    if not found:
        raise FunctionError(f"no container named {name!r}")
    return Result(docs)


@_register(
    "set-container-resources",
    "Set a container's CPU and memory requests and limits",
    [
        _param("container-name", "string", "container name, or * for all", "trade-service"),
        _param("operation", "string", "only 'all' (set requests and limits) is supported", "all"),
        _param("cpu", "string", "CPU request", "250m"),
        _param("memory", "string", "memory request and limit", "256Mi"),
        _param(
            "limit-factor",
            "int",
            "CPU limit = factor x request; 0 = no CPU limit",
            "2",
            required=False,
        ),
    ],
    mutating=True,
)
def set_container_resources(docs: list[Any], args: list[Any]) -> Result:
    name, op, cpu, memory = (str(a) for a in args[:4])
    factor = _int(args[4], "limit-factor") if len(args) > 4 else 0
    if op != "all":
        raise FunctionError(f"operation {op!r} is not supported; use 'all'")
    millis = _cpu_millis(cpu)
    if not re.fullmatch(r"\d+(\.\d+)?(Ki|Mi|Gi|Ti|K|M|G|T)?", memory):
        raise FunctionError(f"memory {memory!r} is not a Kubernetes quantity")
    found = False
    for _, ctr in containers(docs, name):
        res = ctr.setdefault("resources", {})
        res.setdefault("requests", {}).update({"cpu": cpu, "memory": memory})
        limits = res.setdefault("limits", {})
        limits["memory"] = memory
        if factor > 0:
            limits["cpu"] = f"{millis * factor}m"
        found = True
    if not found:
        raise FunctionError(f"no container named {name!r}")
    return Result(docs)


def _walk(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _walk(v, f"{path}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _walk(v, f"{path}[{i}]")
    else:
        yield path, value


@_register(
    "vet-placeholders",
    f"Fail if any value is still a placeholder ('{PLACEHOLDER_STR}' or {PLACEHOLDER_INT})",
    [],
    validating=True,
    output={
        "ResultName": "passed",
        "OutputType": "ValidationResult",
        "Description": "whether no placeholder remains",
    },
)
def vet_placeholders(docs: list[Any], args: list[Any]) -> Result:
    found = []
    for i, doc in enumerate(docs):
        name = doc.get("metadata", {}).get("name", i) if isinstance(doc, dict) else i
        kind = doc.get("kind", "doc") if isinstance(doc, dict) else "doc"
        for path, value in _walk(doc, ""):
            if (isinstance(value, str) and PLACEHOLDER_STR in value) or (
                isinstance(value, int) and value == PLACEHOLDER_INT and not isinstance(value, bool)
            ):
                found.append(f"{kind}/{name}{path}")
    return Result(
        docs,
        output={"Passed": not found, "Details": found},
        passed=not found,
        messages=tuple(f"placeholder at {p}" for p in found),
    )


def _int(value: Any, what: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise FunctionError(f"{what} must be an integer, got {value!r}") from None


def _cpu_millis(cpu: str) -> int:
    m = re.fullmatch(r"(\d+)(m?)|(\d*\.\d+)", cpu)
    if not m:
        raise FunctionError(f"cpu {cpu!r} is not a Kubernetes CPU quantity")
    if m.group(3):
        return int(float(m.group(3)) * 1000)
    return int(m.group(1)) if m.group(2) else int(m.group(1)) * 1000
