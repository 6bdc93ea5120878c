"""The per-process listing of a space's units that Unit checks plan from (pure: a fake client).

It must answer exactly what a read by slug answers, and stop answering (fall back to the read
by slug) as soon as this process has written anything or the listing is old.
"""

from __future__ import annotations

from typing import Any

import pytest

from components.confighub.errors import ApiError
from components.confighub.kinds import UNIT
from components.confighub.models import Entity
from components.confighub.models import Unit as UnitEntity
from components.confighub.unit_listing import SpaceUnits


class FakeClient:
    """Counts listings and reads by slug; units per space."""

    base_url = "http://hub.test/api"

    def __init__(self, spaces: dict[str, list[str]]) -> None:
        self.spaces = {
            space: [
                UnitEntity(unit_id=f"{space}-{slug}-{i}", slug=slug) for i, slug in enumerate(s)
            ]
            for space, s in spaces.items()
        }
        self.listings: list[str] = []
        self.finds: list[tuple[str, str]] = []

    def list_entities(self, kind: Any, space_id: str) -> list[Entity]:
        assert kind is UNIT
        self.listings.append(space_id)
        return list(self.spaces.get(space_id, []))

    def find_by_slug(self, kind: Any, space_id: str, slug: str) -> Entity | None:
        assert kind is UNIT
        self.finds.append((space_id, slug))
        found = [u for u in self.spaces.get(space_id, []) if u.slug == slug]
        if len(found) > 1:
            raise ApiError("GET", f"/space/{space_id}/unit", 200, "shared slug")
        return found[0] if found else None


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Writes:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> int:
        return self.count


def cache(clock: Clock, writes: Writes) -> SpaceUnits:
    units = SpaceUnits(clock=clock, writes=writes, max_age=30.0)
    units.enable()
    return units


def test_disabled_reads_each_unit_by_slug_as_before() -> None:
    client = FakeClient({"s": ["a", "b"]})
    units = SpaceUnits(clock=Clock(), writes=Writes())
    assert units.find(client, "s", "a").unit_id == "s-a-0"  # type: ignore[union-attr]
    assert units.find(client, "s", "x") is None
    assert client.listings == [] and client.finds == [("s", "a"), ("s", "x")]


def test_one_listing_per_space_answers_every_slug_including_absent_ones() -> None:
    client = FakeClient({"s": ["a", "b", "c"], "t": ["a"]})
    units = cache(Clock(), Writes())
    assert [units.find(client, "s", slug).unit_id for slug in "abc"] == [  # type: ignore[union-attr]
        "s-a-0",
        "s-b-1",
        "s-c-2",
    ]
    assert units.find(client, "s", "missing") is None
    assert units.find(client, "t", "a").unit_id == "t-a-0"  # type: ignore[union-attr]
    assert client.listings == ["s", "t"] and client.finds == []


def test_a_write_by_this_process_ends_the_listing_for_good() -> None:
    client = FakeClient({"s": ["a", "b"]})
    writes = Writes()
    units = cache(Clock(), writes)
    units.find(client, "s", "a")
    writes.count += 1  # e.g. an update of another unit
    assert units.find(client, "s", "b").unit_id == "s-b-1"  # type: ignore[union-attr]
    assert units.find(client, "s", "a") is not None
    assert client.listings == ["s"]  # never listed again: read by slug, as before
    assert client.finds == [("s", "b"), ("s", "a")]


def test_a_listing_older_than_max_age_is_not_used() -> None:
    client = FakeClient({"s": ["a"]})
    clock = Clock()
    units = cache(clock, Writes())
    units.find(client, "s", "a")
    clock.now += 30.5
    units.find(client, "s", "a")
    assert client.listings == ["s"] and client.finds == [("s", "a")]


def test_a_shared_slug_fails_as_the_read_by_slug_does() -> None:
    client = FakeClient({"s": ["a", "a"]})
    units = cache(Clock(), Writes())
    with pytest.raises(ApiError, match="shared slug"):
        units.find(client, "s", "a")


def test_listings_are_per_server() -> None:
    one, other = FakeClient({"s": ["a"]}), FakeClient({"s": []})
    other.base_url = "http://other.test/api"
    units = cache(Clock(), Writes())
    assert units.find(one, "s", "a") is not None
    assert units.find(other, "s", "a") is None
    assert one.listings == ["s"] and other.listings == ["s"]
