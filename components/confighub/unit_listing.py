"""One listing of a space's units per provider process, for planning only (`UnitProvider._plan`).

Why: a downstream unit's check reads the unit to plan the data the policy pack judges
(`planned_data`), and the engine runs checks one at a time: eleven reads by slug per stack in
a row. One listing of the space answers all of them.

What keeps the semantics (planned_data is ConfigHub's current data; a no-op writes nothing):
- only in the dynamic-provider process, i.e. within one engine operation (`pulumi up` starts a
  new provider process for its update after the preview): `enable()` is called by the
  providers' `configure`, which only the engine's provider host calls. Anywhere else (tests
  calling a provider directly, the CLI) every unit is read by slug, as before;
- a space is listed at most once per process, at its first planned unit. The listing answers
  only while this process has sent no write since it was taken (`client.writes_sent()`) and for
  at most `MAX_AGE_S`; after that each unit is read by slug again, exactly as before;
- read, create, update and delete never use it: they always read ConfigHub itself.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from .kinds import UNIT
from .models import Entity

MAX_AGE_S = 30.0


class UnitReader(Protocol):
    """What this needs of `ConfigHubClient`."""

    base_url: str

    def list_entities(self, kind: Any, space_id: str) -> list[Entity]: ...

    def find_by_slug(self, kind: Any, space_id: str, slug: str) -> Entity | None: ...


@dataclass
class Listing:
    """A space's units by slug, as listed at `taken` with `writes` writes sent before it."""

    taken: float
    writes: int
    by_slug: dict[str, list[Entity]] = field(default_factory=dict)

    def fresh(self, now: float, writes: int, max_age: float) -> bool:
        return writes == self.writes and 0 <= now - self.taken <= max_age


class SpaceUnits:
    """The per-process cache (see the module docstring); `clock` and `writes` for tests."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        writes: Callable[[], int] | None = None,
        max_age: float = MAX_AGE_S,
    ) -> None:
        self._clock = clock
        self._writes = writes
        self._max_age = max_age
        self._lock = threading.Lock()
        self._listings: dict[tuple[str, str], Listing] = {}
        self.enabled = False

    def enable(self) -> None:
        self.enabled = True

    def reset(self) -> None:
        """Off and empty again (tests that configure a provider in their own process)."""
        with self._lock:
            self._listings.clear()
            self.enabled = False

    def _writes_sent(self) -> int:
        if self._writes is not None:
            return self._writes()
        from .client import writes_sent  # the provider process has loaded the client already

        return writes_sent()

    def find(self, client: UnitReader, space_id: str, slug: str) -> Entity | None:
        """The unit with `slug` in the space (None if absent), as `client.find_by_slug`."""
        if not self.enabled:
            return client.find_by_slug(UNIT, space_id, slug)
        key = (client.base_url, space_id)
        with self._lock:
            listing = self._listings.get(key)
            if listing is None:
                listing = self._list(client, space_id)
                self._listings[key] = listing
        matches = listing.by_slug.get(slug, [])
        if len(matches) > 1 or not listing.fresh(self._clock(), self._writes_sent(), self._max_age):
            return client.find_by_slug(UNIT, space_id, slug)  # also raises on a shared slug
        return matches[0] if matches else None

    def _list(self, client: UnitReader, space_id: str) -> Listing:
        listing = Listing(taken=self._clock(), writes=self._writes_sent())
        for unit in client.list_entities(UNIT, space_id):
            listing.by_slug.setdefault(unit.slug, []).append(unit)
        return listing


SPACE_UNITS = SpaceUnits()
