"""Taking over an existing ConfigHub object: the supported replacement for `pulumi import`.

The providers adopt a same-slug object on create only if it carries the managed-by marker of the
declaring stack (see `base`). `mark_managed` writes that marker on one existing object, after
which the next `pulumi up` of that stack that declares the same slug adopts it (same ID, no
duplicate) and patches it to the declared state. Exposed as
`python -m components.confighub adopt <kind> <space_id> <slug> --owner <project>/<stack>`.
"""

from __future__ import annotations

from .base import MANAGED_BY_KEY, marker
from .client import (
    BRIDGE_WORKER,
    CHANGE_SET,
    FILTER,
    LINK,
    SPACE,
    TAG,
    TARGET,
    UNIT,
    ConfigHubClient,
    EntityKind,
)
from .errors import ConfigHubError

KINDS: dict[str, EntityKind] = {
    k.segment: k for k in (SPACE, UNIT, FILTER, LINK, TARGET, BRIDGE_WORKER, TAG, CHANGE_SET)
}


def mark_managed(
    client: ConfigHubClient, segment: str, space_id: str | None, slug: str, owner: str | None
) -> str:
    """Annotate the object as managed by the stack `owner` (`<project>/<stack>`); its ID."""
    kind = KINDS.get(segment)
    if kind is None:
        raise ConfigHubError(f"unknown kind {segment!r}; one of {sorted(KINDS)}")
    scope = None if kind is SPACE else space_id
    if kind is not SPACE and not space_id:
        raise ConfigHubError(f"{kind.name} lives in a space: give its space ID")
    entity = client.find_by_slug(kind, scope, slug)
    if entity is None:
        where = f"space {space_id}" if scope else "the organization"
        raise ConfigHubError(f"no {kind.name} with slug {slug!r} in {where}")
    client.patch(kind, scope, entity.id, {"Annotations": {MANAGED_BY_KEY: marker(owner)}})
    return entity.id
