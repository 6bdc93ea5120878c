"""Releases in ConfigHub (issue #13): a promotion into an environment, recorded as ConfigHub
objects so that it can be listed, audited and rolled back to.

A release is
- a **ChangeSet** in the environment's space (slug = the release name, its description, label
  `traderx-release: "true"`), annotated with what the stack declared (`traderx/pins`: the
  upstream revision each unit holds, `traderx/services`: the stack's `traderx:services`
  config), which units it promoted, the release it came from, who made it and from which stack;
- a **Tag** of the same slug (`ChangeSetID` = that change set, and the change set's `EndTagID`;
  its `StartTagID` is the previous release's tag), attached to the head revision of **every**
  unit of the environment, so a release is a snapshot: `restore=Tag:<id>` brings any unit back
  to it;
- `traderx/units`: unit slug → the revision number that was tagged.

Nothing here is Pulumi: the `Release` resource (release.py) and the operator CLI share it.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import re
import socket
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from .errors import NotFoundError
from .kinds import quote_where

if TYPE_CHECKING:
    from .client import ConfigHubClient

RELEASE_LABEL = "traderx-release"
ANN_PINS = "traderx/pins"
ANN_SERVICES = "traderx/services"
ANN_UNITS = "traderx/units"
ANN_PROMOTED = "traderx/promoted"
ANN_SOURCE = "traderx/source"
ANN_KIND = "traderx/kind"
ANN_WHO = "traderx/who"
ANN_STACK = "traderx/stack"
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass(frozen=True)
class Release:
    """One release as ConfigHub holds it."""

    name: str
    space_id: str
    change_set_id: str
    tag_id: str
    created_at: str
    description: str
    kind: str  # promotion | rollback
    source: str
    who: str
    stack: str
    pins: dict[str, int] = field(default_factory=dict)
    services: dict[str, Any] = field(default_factory=dict)
    units: dict[str, int] = field(default_factory=dict)
    promoted: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "createdAt": self.created_at,
            "description": self.description,
            "kind": self.kind,
            "source": self.source,
            "who": self.who,
            "stack": self.stack,
            "pins": self.pins,
            "units": self.units,
            "promoted": self.promoted,
            "changeSetId": self.change_set_id,
            "tagId": self.tag_id,
        }


def _json(text: str | None, default: Any) -> Any:
    try:
        return json.loads(text) if text else default
    except ValueError:
        return default


def from_change_set(cs: dict[str, Any]) -> Release:
    ann = cs.get("Annotations") or {}
    return Release(
        name=str(cs.get("Slug")),
        space_id=str(cs.get("SpaceID")),
        change_set_id=str(cs.get("ChangeSetID")),
        tag_id=str(cs.get("EndTagID") or ""),
        created_at=str(cs.get("CreatedAt") or ""),
        description=str(cs.get("Description") or ""),
        kind=str(ann.get(ANN_KIND) or "promotion"),
        source=str(ann.get(ANN_SOURCE) or ""),
        who=str(ann.get(ANN_WHO) or ""),
        stack=str(ann.get(ANN_STACK) or ""),
        pins={str(k): int(v) for k, v in _json(ann.get(ANN_PINS), {}).items()},
        services=_json(ann.get(ANN_SERVICES), {}),
        units={str(k): int(v) for k, v in _json(ann.get(ANN_UNITS), {}).items()},
        promoted=list(_json(ann.get(ANN_PROMOTED), [])),
    )


def list_releases(client: ConfigHubClient, space_id: str) -> list[Release]:
    """The environment's releases, oldest first."""
    body = client.request(
        "GET",
        f"/space/{space_id}/change_set",
        params={"where": f"Labels.{RELEASE_LABEL} = 'true'"},
    )
    found = [from_change_set(item.get("ChangeSet", item)) for item in body or []]
    return sorted(found, key=lambda r: (r.created_at, r.name))


def find_release(client: ConfigHubClient, space_id: str, name: str) -> Release | None:
    return next((r for r in list_releases(client, space_id) if r.name == name), None)


def default_name(environment: str, day: datetime, existing: list[str]) -> str:
    """`<env>-<yyyymmdd>-<n>`, n one more than the highest of that day (1 for the first)."""
    stem = f"{environment}-{day:%Y%m%d}-"
    taken = [
        int(n[len(stem) :]) for n in existing if n.startswith(stem) and n[len(stem) :].isdigit()
    ]
    return f"{stem}{max(taken, default=0) + 1}"


def who() -> str:
    """The operator, as the provider or CLI process sees it (user@host)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def check_source(
    release: Release | None, name: str, where: str, names: list[str], pins: dict[str, int],
    expected: dict[str, int],
) -> str | None:  # fmt: skip
    """Why `pins` do not reference release `name` (None when they do): the release must exist
    and every pin must be the revision that release holds (`expected`)."""
    if release is None:
        listed = ", ".join(names) if names else "none"
        return f"release {name!r} does not exist in {where} (releases there: {listed})"
    wrong = {c: p for c, p in pins.items() if c in expected and expected[c] != p}
    missing = sorted(c for c in pins if c not in expected)
    if wrong or missing:
        detail = ", ".join(f"{c}={p} (release has {expected[c]})" for c, p in sorted(wrong.items()))
        if missing:
            detail += (", " if detail else "") + f"not in the release: {', '.join(missing)}"
        return f"traderx:promote does not match release {name!r} in {where}: {detail}"
    return None


def record_release(
    client: ConfigHubClient,
    *,
    space_id: str,
    environment: str,
    name: str | None,
    description: str,
    pins: dict[str, int],
    services: dict[str, Any],
    promoted: list[str],
    source: str,
    kind: str,
    stack: str,
    owner_annotations: dict[str, str],
) -> Release:
    """Create the release's ChangeSet and Tag and tag every unit's head revision with it."""
    existing = list_releases(client, space_id)
    names = [r.name for r in existing]
    chosen = name or default_name(environment, datetime.now(UTC), names)
    if chosen in names:
        raise ValueError(
            f"release {chosen!r} already exists in {environment} (releases: {', '.join(names)}); "
            "choose another traderx:release.name, or unset it for the default name"
        )
    labels = {RELEASE_LABEL: "true", "environment": environment}
    annotations = {
        **owner_annotations,
        ANN_PINS: json.dumps(pins, sort_keys=True),
        ANN_SERVICES: json.dumps(services, sort_keys=True),
        ANN_PROMOTED: json.dumps(sorted(promoted)),
        ANN_SOURCE: source,
        ANN_KIND: kind,
        ANN_WHO: who(),
        ANN_STACK: stack,
    }
    cs = client.request(
        "POST",
        f"/space/{space_id}/change_set",
        json_body={
            "Slug": chosen,
            "Description": description
            or f"{kind} into {environment}: {', '.join(sorted(promoted)) or 'no unit'}",
            "Labels": labels,
            "Annotations": annotations,
        },
        retry=False,
    )
    cs = cs.get("ChangeSet", cs)
    tag = client.request(
        "POST",
        f"/space/{space_id}/tag",
        json_body={
            "Slug": chosen,
            "ChangeSetID": cs["ChangeSetID"],
            "Labels": labels,
            "Annotations": dict(owner_annotations),
        },
        retry=False,
    )
    tag = tag.get("Tag", tag)
    client.request(
        "POST",
        "/unit/tag",
        params={"where": f"SpaceID = {quote_where(space_id)}"},
        json_body={"TagID": tag["TagID"]},
    )
    units = {
        str(u.get("Slug")): int(u.get("HeadRevisionNum") or 0)
        for u in (item.get("Unit", item) for item in client.request(
            "GET", f"/space/{space_id}/unit") or [])
    }  # fmt: skip
    patch: dict[str, Any] = {
        "EndTagID": tag["TagID"],
        "Annotations": {ANN_UNITS: json.dumps(units, sort_keys=True)},
    }
    if existing and existing[-1].tag_id:
        patch["StartTagID"] = existing[-1].tag_id
    cs = client.request(
        "PATCH",
        f"/space/{space_id}/change_set/{cs['ChangeSetID']}",
        content=json.dumps(patch).encode(),
        content_type="application/merge-patch+json",
    )
    return from_change_set(cs.get("ChangeSet", cs))


def delete_releases(client: ConfigHubClient, space_id: str) -> None:
    """Remove the environment's releases (its stack is being destroyed)."""
    for release in list_releases(client, space_id):
        if release.tag_id:
            with contextlib.suppress(NotFoundError):
                client.request("DELETE", f"/space/{space_id}/tag/{release.tag_id}")
        with contextlib.suppress(NotFoundError):
            client.request("DELETE", f"/space/{space_id}/change_set/{release.change_set_id}")
