"""Three-way merge of (multi-document) Kubernetes YAML for unit upgrades.

Documents are matched by apiVersion/kind/name, and by namespace too only where a name repeats
across namespaces within one side: a downstream that moved its objects to its own namespace (the
usual set-namespace edit) still merges field by field with its upstream. Maps merge key by key;
lists of named items (containers, env, ports, volumes) merge by name. A key changed differently
on both sides is a conflict; a change on one side only wins over the unchanged other side.
"""

from __future__ import annotations

from typing import Any

import yaml

from confighub_local import unit_yaml

_ABSENT = object()


class MergeConflict(Exception):
    """Both sides changed the same value differently; the message gives the path."""


def load_docs(data: bytes) -> list[Any]:
    """Unit data as documents, parsed within unit_yaml's limits (size, depth, nodes, aliases)."""
    try:
        return unit_yaml.load_docs(data)
    except unit_yaml.YamlLimitError as exc:
        raise MergeConflict(str(exc)) from None


def dump_docs(docs: list[Any]) -> bytes:
    return yaml.safe_dump_all(docs, sort_keys=False, default_flow_style=False).encode()


def doc_key(doc: Any, index: int, with_namespace: bool = True) -> tuple[str, ...]:
    if isinstance(doc, dict) and isinstance(doc.get("metadata"), dict):
        meta = doc["metadata"]
        return (
            str(doc.get("apiVersion", "")),
            str(doc.get("kind", "")),
            *([str(meta.get("namespace", ""))] if with_namespace else []),
            str(meta.get("name", "")),
        )
    return ("#", str(index))


def _names_unique_without_namespace(docs: list[Any]) -> bool:
    keys = [doc_key(d, i, with_namespace=False) for i, d in enumerate(docs)]
    return len(keys) == len(set(keys))


def _named(items: Any) -> bool:
    return isinstance(items, list) and all(isinstance(i, dict) and "name" in i for i in items)


def merge_value(base: Any, theirs: Any, mine: Any, path: str) -> Any:
    if theirs == mine:
        return mine
    if base == theirs:
        return mine
    if base == mine:
        return theirs
    if isinstance(theirs, dict) and isinstance(mine, dict):
        return _merge_maps(base if isinstance(base, dict) else {}, theirs, mine, path)
    if _named(theirs) and _named(mine) and (base is _ABSENT or _named(base)):
        return _merge_named(base if isinstance(base, list) else [], theirs, mine, path)
    raise MergeConflict(f"{path or '/'} changed both upstream and downstream")


def _merge_maps(
    base: dict[str, Any], theirs: dict[str, Any], mine: dict[str, Any], path: str
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in [*mine.keys(), *(k for k in theirs if k not in mine)]:
        value = merge_value(
            base.get(key, _ABSENT),
            theirs.get(key, _ABSENT),
            mine.get(key, _ABSENT),
            f"{path}/{key}",
        )
        if value is not _ABSENT:
            out[key] = value
    return out


def _merge_named(base: list[Any], theirs: list[Any], mine: list[Any], path: str) -> list[Any]:
    b = {i["name"]: i for i in base}
    t = {i["name"]: i for i in theirs}
    m = {i["name"]: i for i in mine}
    out = []
    for name in [*m.keys(), *(n for n in t if n not in m)]:
        value = merge_value(
            b.get(name, _ABSENT), t.get(name, _ABSENT), m.get(name, _ABSENT), f"{path}[name={name}]"
        )
        if value is not _ABSENT:
            out.append(value)
    return out


def three_way_merge(base: bytes, theirs: bytes, mine: bytes) -> bytes:
    """Merge upstream's change (base -> theirs) into the downstream (mine)."""
    if base == mine:
        return theirs
    if base == theirs or theirs == mine:
        return mine
    sides = [load_docs(base), load_docs(theirs), load_docs(mine)]
    ns = not all(_names_unique_without_namespace(docs) for docs in sides)
    bdocs, tdocs, mdocs = ({doc_key(d, i, ns): d for i, d in enumerate(docs)} for docs in sides)
    out = []
    for key in [*mdocs.keys(), *(k for k in tdocs if k not in mdocs)]:
        value = merge_value(
            bdocs.get(key, _ABSENT), tdocs.get(key, _ABSENT), mdocs.get(key, _ABSENT), "/".join(key)
        )
        if value is not _ABSENT:
            out.append(value)
    return dump_docs(out)
