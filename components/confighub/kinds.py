"""How each ConfigHub entity type is addressed (`EntityKind`), without the HTTP client.

The Pulumi program imports the resource modules, which name their kind; keeping these constants
apart from `client` keeps httpx and tenacity out of the program process (they are imported in
the dynamic-provider process, on its first API call). `client` re-exports all of them.
"""

from __future__ import annotations

from dataclasses import dataclass

from .models import (
    BridgeWorker,
    ChangeSet,
    Entity,
    Filter,
    Link,
    Space,
    Tag,
    Target,
    Unit,
)


@dataclass(frozen=True)
class EntityKind:
    """How one entity type is addressed: `/space/{space}/<segment>/{id}`, wrapper key `name`."""

    name: str
    segment: str
    model: type[Entity]
    space_scoped: bool = True


SPACE = EntityKind("Space", "space", Space, space_scoped=False)
UNIT = EntityKind("Unit", "unit", Unit)
FILTER = EntityKind("Filter", "filter", Filter)
LINK = EntityKind("Link", "link", Link)
TARGET = EntityKind("Target", "target", Target)
BRIDGE_WORKER = EntityKind("BridgeWorker", "bridge_worker", BridgeWorker)
TAG = EntityKind("Tag", "tag", Tag)
CHANGE_SET = EntityKind("ChangeSet", "change_set", ChangeSet)


def quote_where(value: str) -> str:
    """A single-quoted string literal for the `where` language."""
    return "'" + value.replace("'", "''") + "'"
