"""What a preview changes, resource by resource, in reviewer terms: which ConfigHub space and
unit, which fields, which images (old -> new), and a masked text form for the full diff."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from typing import Any, Final

import yaml
from pulumi_policy import proxy
from pydantic import BaseModel

from .mask import mask_value, mask_yaml_text
from .models import PreviewDigest, PreviewStep, ResourceState

CONFIGHUB_PREFIX: Final = "pulumi-python:dynamic/confighub:"
COMPUTED: Final = "(known after apply)"
_UNKNOWNS: Final = frozenset(
    {proxy.UNKNOWN_STRING_VALUE, proxy.UNKNOWN_NUMBER_VALUE, proxy.UNKNOWN_BOOLEAN_VALUE,
     proxy.UNKNOWN_ARRAY_VALUE, proxy.UNKNOWN_OBJECT_VALUE}
)  # fmt: skip
_REPLACE_OPS: Final = frozenset({"replace", "create-replacement", "delete-replaced"})
_HIDDEN_INPUTS: Final = frozenset({"__provider"})  # dynamic providers' pickled code
_IMAGE_PATH: Final = re.compile(r"[Cc]ontainers\[\d+\]\.image: ")
#: Order in which ops are shown (most dangerous first).
OP_ORDER: Final = ("delete", "replace", "update", "create", "import", "read", "refresh", "same")


class ImageChange(BaseModel):
    where: str  # "Deployment/trade-service container trade-service"
    old: str | None
    new: str | None


class ResourceChange(BaseModel):
    urn: str
    op: str
    type: str
    name: str
    label: str  # e.g. "ConfigHub unit `trade-service` in space `traderx-prod`"
    fields: list[str]
    replace_reasons: list[str]
    data_changes: list[str]
    images: list[ImageChange]
    old_text: str
    new_text: str

    @property
    def destructive(self) -> bool:
        return self.op in ("delete", "replace")


def _is_unknown(value: Any) -> bool:
    return isinstance(value, str) and value in _UNKNOWNS


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _unknown_free(value: Any) -> Any:
    if isinstance(value, str):
        return COMPUTED if value in _UNKNOWNS else value
    if isinstance(value, dict):
        return {k: _unknown_free(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unknown_free(v) for v in value]
    return value


def _op(steps: list[PreviewStep]) -> str:
    ops = {s.op for s in steps}
    if ops & _REPLACE_OPS:
        return "replace"
    for op in OP_ORDER:
        if op in ops:
            return op
    return sorted(ops)[0]


def _yaml_docs(text: Any) -> list[dict[str, Any]]:
    if not isinstance(text, str) or text == COMPUTED:
        return []
    try:
        return [d for d in yaml.safe_load_all(text) if isinstance(d, dict)]
    except yaml.YAMLError:
        return []


def _doc_key(doc: dict[str, Any]) -> str:
    meta = _dict(doc.get("metadata"))
    return f"{doc.get('kind', '?')}/{meta.get('name', '?')}"


def _short(value: Any, limit: int = 60) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    text = text.strip().replace("\n", " ")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _diff_paths(old: Any, new: Any, path: str = "") -> Iterator[str]:
    """Leaf-level differences `path: old → new` between two masked documents."""
    if isinstance(old, dict) and isinstance(new, dict):
        for key in list(old) + [k for k in new if k not in old]:
            sub = f"{path}.{key}" if path else str(key)
            if key not in new:
                yield f"{sub} removed"
            elif key not in old:
                yield f"{sub} added: {_short(new[key])}"
            else:
                yield from _diff_paths(old[key], new[key], sub)
    elif isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for i, (a, b) in enumerate(zip(old, new, strict=True)):
            yield from _diff_paths(a, b, f"{path}[{i}]")
    elif old != new:
        yield f"{path}: {_short(old)} → {_short(new)}"


def data_changes(old_data: Any, new_data: Any) -> list[str]:
    """Per-object field changes between two versions of a unit's YAML data (masked)."""
    old_docs = {_doc_key(d): mask_value(d) for d in _yaml_docs(old_data)}
    new_docs = {_doc_key(d): mask_value(d) for d in _yaml_docs(new_data)}
    found: list[str] = []
    for key in list(old_docs) + [k for k in new_docs if k not in old_docs]:
        if key not in new_docs:
            found.append(f"{key} removed")
        elif key not in old_docs:
            found.append(f"{key} added")
        else:
            paths = _diff_paths(old_docs[key], new_docs[key])
            # image changes get their own line (image_changes); don't repeat them here
            found.extend(f"{key}: {p}" for p in paths if not _IMAGE_PATH.search(p))
    return found


def _containers(obj: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(container name, image) of a Kubernetes object's pod template, init containers too."""
    spec = _dict(obj.get("spec"))
    pod = spec
    if "jobTemplate" in spec:
        spec = _dict(_dict(spec["jobTemplate"]).get("spec"))
    if "template" in spec:
        pod = _dict(_dict(spec["template"]).get("spec"))
    for key in ("initContainers", "containers"):
        for c in pod.get(key) or []:
            if isinstance(c, dict) and isinstance(c.get("image"), str):
                yield str(c.get("name", "?")), c["image"]


def _images(state: ResourceState | None) -> dict[str, str]:
    if state is None:
        return {}
    inputs = _unknown_free(state.inputs)
    docs = _yaml_docs(inputs.get("data")) if "data" in inputs else [inputs]
    found: dict[str, str] = {}
    for doc in docs:
        for container, image in _containers(doc):
            found[f"{_doc_key(doc)} container {container}"] = image
    return found


def image_changes(old: ResourceState | None, new: ResourceState | None) -> list[ImageChange]:
    before, after = _images(old), _images(new)
    return [
        ImageChange(where=w, old=before.get(w), new=after.get(w))
        for w in list(before) + [k for k in after if k not in before]
        if before.get(w) != after.get(w)
    ]


def state_text(state: ResourceState | None) -> str:
    """Masked, readable YAML of a resource's inputs (unit data expanded) for the full diff."""
    if state is None:
        return ""
    inputs = _unknown_free({k: v for k, v in state.inputs.items() if k not in _HIDDEN_INPUTS})
    data = inputs.pop("data", None) if state.type.startswith(CONFIGHUB_PREFIX) else None
    text = yaml.safe_dump(mask_value(inputs), sort_keys=True) if inputs else ""
    if isinstance(data, str):
        body = mask_yaml_text(data)
        text += "data: |\n" + "".join(f"  {line}\n" for line in body.splitlines())
    return text


class _Index:
    """Lookups across all steps: URN -> state, ConfigHub space id -> slug."""

    def __init__(self, digest: PreviewDigest, known: Iterable[ResourceState] = ()) -> None:
        self.states: dict[str, ResourceState] = {}
        self.space_slugs: dict[str, str] = {}
        step_states = [s for step in digest.steps for s in (step.new_state, step.old_state) if s]
        for state in [*step_states, *known]:
            self.states.setdefault(state.urn, state)
            if state.type == CONFIGHUB_PREFIX + "Space":
                slug = state.inputs.get("slug")
                space_id = state.outputs.get("space_id")
                if isinstance(slug, str) and isinstance(space_id, str):
                    self.space_slugs[space_id] = slug

    def space_of(self, state: ResourceState) -> str | None:
        """Markdown naming the unit's space: slug, else its Pulumi resource, else a short id."""
        deps = state.property_dependencies.get("space_id", [])
        for urn in deps:
            dep = self.states.get(urn)
            if dep is not None and isinstance(dep.inputs.get("slug"), str):
                return f"`{dep.inputs['slug']}`"
        space_id = state.inputs.get("space_id")
        if isinstance(space_id, str) and space_id in self.space_slugs:
            return f"`{self.space_slugs[space_id]}`"
        if deps:  # unchanged space, no stack export given: its Pulumi resource name
            return f"of Pulumi resource `{deps[0].rsplit('::', 1)[-1]}`"
        if isinstance(space_id, str) and space_id not in _UNKNOWNS:
            return f"`{space_id[:8]}…`"
        return None


def _label(step: PreviewStep, index: _Index, old: ResourceState | None = None) -> str:
    state = step.state
    if state is None:
        return f"`{step.name}`"
    inputs = state.inputs
    if state.type.startswith(CONFIGHUB_PREFIX):
        kind = state.type.removeprefix(CONFIGHUB_PREFIX)
        slug = inputs.get("slug")
        noun = {"Unit": "unit", "Space": "space"}.get(kind, kind)
        label = f"ConfigHub {noun} `{slug if isinstance(slug, str) else step.name}`"
        old_slug = old.inputs.get("slug") if old is not None else None
        if isinstance(old_slug, str) and isinstance(slug, str) and old_slug != slug:
            label = f"ConfigHub {noun} `{old_slug}` → `{slug}`"
        space = index.space_of(state) if kind != "Space" else None
        return label + (f" in space {space}" if space else "")
    if state.type.startswith("kubernetes:"):
        meta = _dict(inputs.get("metadata"))
        name = meta.get("name") if isinstance(meta.get("name"), str) else step.name
        ns = meta.get("namespace")
        where = f"{ns}/{name}" if isinstance(ns, str) and ns not in _UNKNOWNS else name
        return f"{state.type.rsplit(':', 1)[-1]} `{where}`"
    return f"`{state.type}` `{step.name}`"


def _fields(
    steps: list[PreviewStep], old: ResourceState | None, new: ResourceState | None
) -> tuple[list[str], list[str]]:
    """Changed input keys: the engine's detailed diff or diff reasons, else computed from the
    old and new inputs (dynamic providers report neither)."""
    fields: list[str] = []
    replace: list[str] = []
    for step in steps:
        keys = list(step.detailed_diff or {}) or step.diff_reasons
        fields.extend(k for k in keys if k not in fields and k not in _HIDDEN_INPUTS)
        replace.extend(k for k in step.replace_reasons if k not in replace)
    if not fields and old is not None and new is not None:
        keys = sorted(set(old.inputs) | set(new.inputs))
        fields = [
            k for k in keys if k not in _HIDDEN_INPUTS and old.inputs.get(k) != new.inputs.get(k)
        ]
    if new is not None:  # say which changes are only outputs of other resources being updated
        fields = [f"{f} {COMPUTED}" if _is_unknown(new.inputs.get(f)) else f for f in fields]
    return fields, replace


def collect(digest: PreviewDigest, known: Iterable[ResourceState] = ()) -> list[ResourceChange]:
    """One ResourceChange per URN, most dangerous ops first, then in the engine's order.
    `known`: states from `pulumi stack export` to name unchanged spaces."""
    index = _Index(digest, known)
    by_urn: dict[str, list[PreviewStep]] = {}
    for step in digest.steps:
        by_urn.setdefault(step.urn, []).append(step)
    changes: list[ResourceChange] = []
    for urn, steps in by_urn.items():
        op = _op(steps)
        old = next((s.old_state for s in steps if s.old_state is not None), None)
        new = next((s.new_state for s in steps if s.new_state is not None), None)
        if op == "delete":
            new = None
        first = steps[0]
        fields, replace = _fields(steps, old, new)
        changes.append(
            ResourceChange(
                urn=urn,
                op=op,
                type=first.type,
                name=first.name,
                label=_label(next((s for s in steps if s.state), first), index, old),
                fields=fields,
                replace_reasons=replace,
                data_changes=(
                    data_changes(
                        _unknown_free(old.inputs.get("data")),
                        _unknown_free(new.inputs.get("data")),
                    )
                    if old is not None and new is not None and op in ("update", "replace")
                    else []
                ),
                images=image_changes(old, new),
                old_text=state_text(old) if op != "create" else "",
                new_text=state_text(new),
            )
        )
    rank = {op: i for i, op in enumerate(OP_ORDER)}
    return sorted(changes, key=lambda c: rank.get(c.op, len(rank)))
