"""Comparing two backups field by field: IDs replaced by names that survive a restore (kind,
space slug, slug), and the fields the server assigns on every write dropped."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

UUID = re.compile(r"[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")
# Assigned by the server on every write, so never equal after a restore (see restore.py).
VOLATILE = {
    "CreatedAt",
    "UpdatedAt",
    "CursorID",
    "Version",
    "OrganizationID",
    "UserID",
    "Source",
    "LiveAt",
    "LastSeenAt",
    "Condition",
    "ProvidedInfo",  # what a connected worker announces (backups of older tools hold it)
}


def _index(root: Path) -> dict[str, str]:
    """Every ID in a backup -> a name that survives a restore (kind, space slug, slug)."""
    names: dict[str, str] = {}
    for path in sorted((root / "spaces").rglob("*.json")):
        data = json.loads(path.read_text())
        space = path.relative_to(root / "spaces").parts[0]
        if path.name == "space.json":
            names[data["SpaceID"]] = f"space:{space}"
        elif path.parent.name == "units":
            unit = data["Unit"]
            names[unit["UnitID"]] = f"unit:{space}/{unit['Slug']}"
            for rev in data["Revisions"]:
                names[rev["RevisionID"]] = f"rev:{space}/{unit['Slug']}#{rev['RevisionNum']}"
        else:
            for obj in data:
                id_field = next(
                    k for k in obj if k.endswith("ID") and k[:-2] == obj.get("EntityType")
                )
                names[obj[id_field]] = f"{path.stem}:{space}/{obj['Slug']}"
    return names


def normalised(root: Path) -> dict[str, Any]:
    """The backup's content with IDs replaced by names and server-assigned fields dropped."""
    names = _index(root)

    def norm(value: Any) -> Any:
        if isinstance(value, dict):
            return {names.get(k, k): norm(v) for k, v in value.items() if k not in VOLATILE}
        if isinstance(value, list):
            return [norm(v) for v in value]
        if isinstance(value, str):
            return UUID.sub(lambda m: names.get(m.group(0), "<foreign id>"), value)
        return value

    return {
        path.relative_to(root).as_posix(): norm(json.loads(path.read_text()))
        for path in sorted((root / "spaces").rglob("*.json"))
    }


def differences(a: Any, b: Any, path: str = "") -> list[str]:
    """Where two JSON values differ (for readable assertion messages)."""
    if isinstance(a, dict) and isinstance(b, dict):
        out: list[str] = []
        for key in sorted(set(a) | set(b)):
            out += differences(a.get(key), b.get(key), f"{path}.{key}")
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [
            d
            for i, (x, y) in enumerate(zip(a, b, strict=True))
            for d in differences(x, y, f"{path}[{i}]")
        ]
    return [] if a == b else [f"{path}: {a!r} != {b!r}"]
