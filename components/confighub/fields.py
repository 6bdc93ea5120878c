"""Fields of a unit's YAML data, addressed by path: the Unit resource's `fields` input.

A Unit may declare only some values inside its data instead of the whole data; the provider
reads, compares and writes exactly those paths and leaves everything else to ConfigHub. A field
is keyed ``<Kind>[/<name>]:<JSON pointer>`` with one extension: a pointer segment ``name=<x>``
selects the list item whose ``name`` is ``x`` (containers, env). Examples::

    Deployment/trade-service:/spec/replicas
    Deployment/trade-service:/spec/template/spec/containers/name=trade-service/resources
    Namespace:/metadata/name

A document selector without a name matches the one document of that kind (a Namespace's name
can itself be a field). A value of ``None`` means "absent". Pure: no Pulumi, no API.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping
from typing import Any

import yaml

# libyaml's C loader and emitter when PyYAML has them: every check of a unit parses and writes
# its data, and the pure-Python ones were most of a no-op `up`'s YAML time. Same documents,
# same text (tests/unit/test_yaml_c.py).
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_Dumper: type[yaml.SafeDumper] = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

Fields = dict[str, Any]


class FieldError(ValueError):
    """A declared field that does not fit the unit's data (names the field and why)."""


def _escape(segment: str) -> str:
    return segment.replace("~", "~0").replace("/", "~1")


def _unescape(segment: str) -> str:
    return segment.replace("~1", "/").replace("~0", "~")


def field_key(doc: str, *segments: str) -> str:
    """`field_key("Deployment/web", "spec", "replicas")` → `Deployment/web:/spec/replicas`."""
    return doc + ":" + "".join("/" + _escape(s) for s in segments)


def parse_key(key: str) -> tuple[str, str | None, list[str]]:
    """(kind, name or None, pointer segments) of a field key."""
    selector, sep, pointer = key.partition(":")
    if not sep or not selector or not pointer.startswith("/"):
        raise FieldError(f"field {key!r}: expected '<Kind>[/<name>]:/<path>'")
    kind, _, name = selector.partition("/")
    return kind, name or None, [_unescape(s) for s in pointer[1:].split("/")]


def _find_doc(docs: list[Any], kind: str, name: str | None, key: str) -> dict[str, Any]:
    found = [
        d
        for d in docs
        if isinstance(d, dict)
        and d.get("kind") == kind
        and (name is None or (d.get("metadata") or {}).get("name") == name)
    ]
    if len(found) != 1:
        what = "no" if not found else f"{len(found)}"
        raise FieldError(f"field {key!r}: the unit's data has {what} {kind} documents matching")
    return found[0]


_ABSENT = object()


def _child(node: Any, segment: str) -> Any:
    if isinstance(node, dict):
        return node.get(segment, _ABSENT)
    if isinstance(node, list):
        if segment.startswith("name="):
            wanted = segment[len("name=") :]
            for item in node:
                if isinstance(item, dict) and item.get("name") == wanted:
                    return item
            return _ABSENT
        if segment.isdigit() and int(segment) < len(node):
            return node[int(segment)]
    return _ABSENT


def get_path(doc: Any, segments: list[str]) -> Any:
    """The value at the path, or None when any part of it is absent."""
    node = doc
    for segment in segments:
        node = _child(node, segment)
        if node is _ABSENT:
            return None
    return node


def set_path(doc: dict[str, Any], segments: list[str], value: Any, key: str) -> None:
    """Set (or with None remove) the value at the path, creating maps and named items."""
    node: Any = doc
    for i, segment in enumerate(segments):
        last = i == len(segments) - 1
        if isinstance(node, dict):
            if last:
                if value is None:
                    node.pop(segment, None)
                else:
                    node[segment] = copy.deepcopy(value)
                return
            nxt = node.get(segment)
            if nxt is None:
                if value is None:
                    return
                nxt = [] if segments[i + 1].startswith("name=") else {}
                node[segment] = nxt
            node = nxt
        elif isinstance(node, list):
            item = _child(node, segment)
            if item is _ABSENT:
                if value is None:
                    return
                if not segment.startswith("name="):
                    raise FieldError(f"field {key!r}: no list item {segment!r}")
                item = {"name": segment[len("name=") :]}
                node.append(item)
            if last:
                if value is None:
                    node.remove(item)
                else:
                    node[node.index(item)] = copy.deepcopy(value)
                return
            node = item
        else:
            raise FieldError(f"field {key!r}: {segment!r} is under a scalar")


def load(text: str | None) -> list[Any]:
    try:
        return [d for d in yaml.load_all(text or "", Loader=_Loader) if d is not None]
    except yaml.YAMLError as exc:
        raise FieldError(f"unit data is not valid YAML: {exc}") from None


def extract(text: str | None, keys: Iterable[str]) -> Fields:
    """The current values of the given fields in the data (None where absent or unmatched)."""
    docs = load(text)
    out: Fields = {}
    for key in keys:
        kind, name, segments = parse_key(key)
        try:
            doc = _find_doc(docs, kind, name, key)
        except FieldError:
            out[key] = None
            continue
        out[key] = get_path(doc, segments)
    return out


def apply(text: str | None, fields: Mapping[str, Any]) -> str:
    """The data with every field set to its declared value (everything else untouched)."""
    docs = load(text)
    for key, value in fields.items():
        kind, name, segments = parse_key(key)
        set_path(_find_doc(docs, kind, name, key), segments, value, key)
    return yaml.dump_all(docs, Dumper=_Dumper, sort_keys=True, default_flow_style=False)


def differing(current: Mapping[str, Any], declared: Mapping[str, Any]) -> list[str]:
    """Keys whose current value is not the declared one (stable order)."""
    return [k for k in sorted(declared) if canonical(current.get(k)) != canonical(declared[k])]


def canonical(value: Any) -> str:
    """The one JSON spelling of a value (how field values travel: the engine would turn a map's
    null into "absent" and its ints into floats, so values are JSON text)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def encode(fields: Mapping[str, Any]) -> dict[str, str]:
    """Field values as canonical JSON text (the Unit's `fields` input and output)."""
    return {k: canonical(v) for k, v in sorted(fields.items())}


def decode(fields: Mapping[str, str]) -> Fields:
    """The values of an encoded field map; FieldError naming the field if one is not JSON."""
    out: Fields = {}
    for key, text in fields.items():
        parse_key(key)
        try:
            out[key] = json.loads(text)
        except (TypeError, json.JSONDecodeError) as exc:
            raise FieldError(f"field {key!r}: value is not JSON text: {exc}") from None
    return out


def changes_between(old_text: str | None, new_text: str | None) -> dict[str, str]:
    """A readable summary of what differs between two versions of a unit's data.

    Keys are field keys; values `old → new` (JSON, shortened). Used to show in a preview what
    a promotion brings into a unit.
    """
    out: dict[str, str] = {}
    old_docs, new_docs = load(old_text), load(new_text)

    def ident(doc: Any) -> str:
        meta = doc.get("metadata") if isinstance(doc, dict) else None
        name = meta.get("name") if isinstance(meta, dict) else None
        return f"{doc.get('kind')}/{name}" if isinstance(doc, dict) else "?"

    olds = {ident(d): d for d in old_docs}
    news = {ident(d): d for d in new_docs}
    for doc_id in sorted(set(olds) | set(news)):
        _walk(olds.get(doc_id), news.get(doc_id), doc_id, [], out)
    return out


def _short(value: Any) -> str:
    if value is None:
        return "absent"
    text = value if isinstance(value, str) else canonical(value)
    return text if len(text) <= 120 else text[:117] + "..."


def _walk(old: Any, new: Any, doc_id: str, path: list[str], out: dict[str, str]) -> None:
    if old == new:
        return
    if isinstance(old, dict) and isinstance(new, dict):
        for k in sorted(set(old) | set(new)):
            _walk(old.get(k), new.get(k), doc_id, [*path, str(k)], out)
        return
    if _named_list(old) and _named_list(new):
        o = {i["name"]: i for i in old}
        n = {i["name"]: i for i in new}
        for k in sorted(set(o) | set(n)):
            _walk(o.get(k), n.get(k), doc_id, [*path, f"name={k}"], out)
        return
    out[field_key(doc_id, *path)] = f"{_short(old)} → {_short(new)}"


def _named_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(i, dict) and "name" in i for i in value)
