"""Semantic comparison of unit config data (YAML, possibly multi-document).

ConfigHub stores data base64-encoded and may re-serialise it; the program renders YAML with its own
formatting. Two texts are "the same data" when they parse to the same documents (key order,
quoting, indentation, comments and empty documents do not matter). Diffs compare this canonical
form so a no-op `pulumi up` never rewrites a unit.

Every check and diff of a unit parses its data, so parsing is on each `pulumi up`'s path: it
uses libyaml's C loader when PyYAML has it (ten times faster, same results), and the canonical
form of a text is cached (the same declared text is checked, then diffed).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from typing import Any

import yaml

_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class DataError(ValueError):
    """Unit data that is not valid YAML."""


def documents(text: str | None) -> list[Any]:
    """The non-empty YAML documents of `text`."""
    if not text:
        return []
    try:
        return [doc for doc in yaml.load_all(text, Loader=_Loader) if doc is not None]
    except yaml.YAMLError as exc:
        raise DataError(f"unit data is not valid YAML: {exc}") from exc


def canonical(text: str | None) -> str:
    """A stable serialisation of the documents (sorted keys, JSON) for equality tests."""
    if not isinstance(text, str):
        return _canonical(text)
    return _canonical_text(text)


@functools.lru_cache(maxsize=512)
def _canonical_text(text: str) -> str:
    return _canonical(text)


def _canonical(text: str | None) -> str:
    return json.dumps(documents(text), sort_keys=True, separators=(",", ":"), default=str)


def same_data(left: str | None, right: str | None) -> bool:
    if left == right:
        return True
    try:
        return canonical(left) == canonical(right)
    except DataError:
        return False


def _pod_specs(doc: Any) -> Iterator[dict[str, Any]]:
    if not isinstance(doc, dict):
        return
    if doc.get("kind") == "List" and isinstance(doc.get("items"), list):
        for item in doc["items"]:
            yield from _pod_specs(item)
        return
    spec = doc.get("spec")
    if not isinstance(spec, dict):
        return
    if doc.get("kind") == "Pod":
        yield spec
    template = spec.get("template")
    if isinstance(template, dict) and isinstance(template.get("spec"), dict):
        yield template["spec"]
    job = spec.get("jobTemplate")  # CronJob
    if isinstance(job, dict):
        yield from _pod_specs({"spec": job.get("spec")})


def images(text: str | None) -> dict[str, str]:
    """Container name -> image over every workload in the data (init containers included)."""
    found: dict[str, str] = {}
    for doc in documents(text):
        for spec in _pod_specs(doc):
            for key in ("initContainers", "containers"):
                for container in spec.get(key) or []:
                    if isinstance(container, dict) and container.get("name"):
                        found[str(container["name"])] = str(container.get("image", ""))
    return found
