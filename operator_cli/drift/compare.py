"""Pure comparison of a unit's desired object with the live one, and who wrote each difference.

Only fields the unit declares are compared (what server-side apply would set); the server's
defaults and status are not drift. List items with a `name` (containers, env, ports with names)
are matched by name, other lists compared whole. Kubernetes quantities compare by value
(`1000m` = `1`). Each difference is attributed through `metadata.managedFields`: the manager
whose `fieldsV1` owns the path (the most specific owner wins), with its operation and time.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel

from operator_cli.cost.model import quantity

MISSING = "<object>"  # the path of a drift that is a whole missing object


class Writer(BaseModel):
    manager: str = "(unknown)"
    operation: str = ""
    time: str = ""


class FieldDrift(BaseModel):
    path: str
    desired: Any
    live: Any
    writer: Writer


def _same(a: Any, b: Any) -> bool:
    if a == b:
        return True
    if isinstance(a, str | int | float) and isinstance(b, str | int | float):
        if str(a) == str(b):
            return True
        try:
            return quantity(a) == quantity(b)
        except ValueError:
            return False
    return False


def _named(items: Any) -> bool:
    return isinstance(items, list) and all(isinstance(i, dict) and "name" in i for i in items)


def differences(desired: Any, live: Any, path: str = "") -> Iterator[tuple[str, Any, Any]]:
    """(path, desired, live) for every declared leaf whose live value differs."""
    if isinstance(desired, dict):
        if not isinstance(live, dict):
            yield path, desired, live
            return
        for key, want in desired.items():
            sub = f"{path}.{key}" if path else str(key)
            yield from differences(want, live.get(key), sub)
    elif _named(desired) and _named(live):
        by_name = {i["name"]: i for i in live}
        for item in desired:
            sub = f"{path}[{item['name']}]"
            if item["name"] not in by_name:
                yield sub, item, None
            else:
                yield from differences(item, by_name[item["name"]], sub)
    elif isinstance(desired, list):
        if (
            not isinstance(live, list)
            or len(desired) != len(live)
            or not all(not list(differences(d, v)) for d, v in zip(desired, live, strict=True))
        ):
            yield path, desired, live
    elif not _same(desired, live):
        yield path, desired, live


def _segments(path: str) -> list[tuple[str, str | None]]:
    """`spec.template.spec.containers[web].image` -> [(spec, None), ..., (containers, web), ...]"""
    out: list[tuple[str, str | None]] = []
    for part in path.split("."):
        if "[" in part and part.endswith("]"):
            field, _, name = part[:-1].partition("[")
            out.append((field, name))
        else:
            out.append((part, None))
    return out


def _owns(fields: Any, segments: list[tuple[str, str | None]]) -> int:
    """How deep into `segments` a manager's fieldsV1 reaches (0: not at all)."""
    depth = 0
    node = fields
    for field, name in segments:
        if not isinstance(node, dict) or f"f:{field}" not in node:
            return depth
        node = node[f"f:{field}"]
        depth += 1
        if name is not None:
            match = None
            for key, value in (node or {}).items():
                if key.startswith("k:"):
                    try:
                        ident = json.loads(key[2:])
                    except ValueError:
                        continue
                    if isinstance(ident, dict) and ident.get("name") == name:
                        match = value
                        break
            if match is None:
                return depth
            node = match
            depth += 1
    return depth + 1  # the whole path is owned


def writer_of(live: dict[str, Any], path: str) -> Writer:
    """The manager that owns `path` in the live object's managedFields (most specific wins)."""
    segments = _segments(path)
    full = sum(2 if name is not None else 1 for _, name in segments) + 1
    best: tuple[int, str, Writer] | None = None
    for entry in (live.get("metadata") or {}).get("managedFields") or []:
        depth = _owns(entry.get("fieldsV1") or {}, segments)
        if depth < full:
            continue
        writer = Writer(
            manager=str(entry.get("manager", "(unknown)")),
            operation=str(entry.get("operation", "")),
            time=str(entry.get("time", "")),
        )
        key = (depth, writer.time, writer)
        if best is None or key[:2] > best[:2]:
            best = key
    return best[2] if best else Writer()


def drift(desired: dict[str, Any], live: dict[str, Any] | None) -> list[FieldDrift]:
    """Every declared field of `desired` that differs in `live` (None: the object is gone)."""
    if live is None:
        return [FieldDrift(path=MISSING, desired="present", live=None, writer=Writer())]
    found = []
    for path, want, have in differences({k: v for k, v in desired.items() if k != "status"}, live):
        if path.startswith(("apiVersion", "kind")):
            continue
        found.append(FieldDrift(path=path, desired=want, live=have, writer=writer_of(live, path)))
    return found
