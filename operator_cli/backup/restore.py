"""Restore a verified backup into ConfigHub with new IDs, re-creating every unit's history.

Order (each step only references what exists already): spaces; bridge workers, targets,
filters, change sets (without their tag ends), tags, then the change sets' `StartTagID`/`EndTagID`;
triggers (before units, so validating triggers gate the replayed revisions as they gated the
originals); units; links.

A unit's history is replayed revision by revision through the public API: revision 1 is the
create (a clone of the already restored upstream, when the unit had one), each later revision a
data write carrying that revision's description and change set, each revision's tags attached
while it is head. A downstream unit is cloned at the moment its upstream's head equals the
`UpstreamRevisionNum` it had, so the next upgrade merges from the same base as before. A
revision whose data equals its predecessor's (a restore that changed nothing) can only be
re-created by a restore of the head; its description then reads "Restored revision N-1".
After every write the server's `HeadRevisionNum` and `DataHash` are checked against the backup.

What is not the same afterwards, by nature: IDs, timestamps, `CursorID`, who made each revision
(`UserID`), `Source`, and live state (nothing is applied: redeploy with `pulumi up --refresh`,
which adopts the restored objects by slug). Bridge workers get new secrets.

Restoring into a server that already holds any of the backed-up spaces is refused unless
`force`; with `force`, every object that exists (same slug in the same space) is kept as it is
and only the missing ones are created, so nothing is duplicated or overwritten.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import itertools
import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from components.confighub.client import (
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
    quote_where,
)
from components.confighub.errors import ConfigHubError, NotFoundError
from operator_cli.backup.format import KINDS, Manifest, bad, load_json, verify
from operator_cli.hub import TRIGGER
from operator_cli.output import CliError, Exit, Step

ENTITY_KINDS: dict[str, EntityKind] = {
    "bridge_worker": BRIDGE_WORKER,
    "target": TARGET,
    "filter": FILTER,
    "change_set": CHANGE_SET,
    "tag": TAG,
    "trigger": TRIGGER,
    "link": LINK,
}
_UUID = re.compile(r"[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")
# Fields the server owns or derives; never sent on create.
_SERVER_FIELDS = {
    "OrganizationID",
    "SpaceID",
    "SpaceSlug",
    "CreatedAt",
    "UpdatedAt",
    "Version",
    "CursorID",
    "EntityType",
    "Hash",
    "Secret",
    "SecretHash",
    "LastSeenAt",
    "Condition",
    "IPAddress",
    "ProvidedInfo",
    "UserID",
    "ToSpaceID",
}
_UNIT_FIELDS = ("Slug", "DisplayName", "ToolchainType", "Labels", "Annotations")
_MERGE_PATCH = "application/merge-patch+json"


@dataclass
class UnitEntry:
    space: str
    rel: str
    unit: dict[str, Any]
    revisions: list[dict[str, Any]]

    @property
    def old_id(self) -> str:
        return str(self.unit["UnitID"])


@dataclass
class Loaded:
    """A verified backup in memory, checked for internal consistency."""

    root: Path
    manifest: Manifest
    spaces: dict[str, dict[str, Any]]  # slug -> space
    objects: dict[str, dict[str, list[dict[str, Any]]]]  # space slug -> kind -> objects
    units: list[UnitEntry]
    index: dict[str, tuple[str, str, str]] = field(
        default_factory=dict
    )  # old id -> kind, space, slug


def _decode(value: Any, where: Path, what: str) -> bytes:
    if not isinstance(value, str):
        raise bad(where, f"{what}: Data is missing")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise bad(where, f"{what}: Data is not base64 ({exc})") from exc


def _check_unit(path: Path, raw: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    if not isinstance(raw, dict) or not isinstance(raw.get("Unit"), dict):
        raise bad(path, "not a unit file (expected {'Unit': ..., 'Revisions': [...]})")
    unit, revisions = raw["Unit"], raw.get("Revisions")
    for name in ("UnitID", "Slug", "ToolchainType", "SpaceID"):
        if not unit.get(name):
            raise bad(path, f"Unit.{name} is missing")
    if not isinstance(revisions, list) or not revisions:
        raise bad(path, "no revisions (a unit always has revision 1)")
    nums = [r.get("RevisionNum") if isinstance(r, dict) else None for r in revisions]
    if nums != list(range(1, len(revisions) + 1)):
        raise bad(path, f"revisions are not 1..{len(revisions)} in order (got {nums[:8]}...)")
    head = int(unit.get("HeadRevisionNum") or 0)
    if head != len(revisions):
        raise bad(path, f"Unit.HeadRevisionNum is {head} but the file has {len(revisions)}")
    for rev in revisions:
        data = _decode(rev.get("Data"), path, f"revision {rev['RevisionNum']}")
        want = rev.get("DataHash")
        if want and hashlib.sha256(data).hexdigest() != want:
            raise bad(path, f"revision {rev['RevisionNum']}: Data does not match its DataHash")
    return unit, revisions


def load(root: Path) -> Loaded:
    """Verify checksums, then parse and cross-check every file; raises before any write."""
    manifest = verify(root)
    spaces: dict[str, dict[str, Any]] = {}
    objects: dict[str, dict[str, list[dict[str, Any]]]] = {}
    units: list[UnitEntry] = []
    index: dict[str, tuple[str, str, str]] = {}
    for slug in manifest.spaces:
        rel = f"spaces/{slug}/space.json"
        if rel not in manifest.files:
            raise bad(root / rel, "missing (the manifest lists the space but not its file)")
        space = load_json(root, rel)
        if not isinstance(space, dict) or space.get("Slug") != slug or not space.get("SpaceID"):
            raise bad(root / rel, f"not the Space {slug!r}")
        spaces[slug] = space
        index[space["SpaceID"]] = ("space", slug, slug)
        objects[slug] = {}
        for kind in KINDS:
            rel = f"spaces/{slug}/{kind}.json"
            if rel not in manifest.files:
                raise bad(root / rel, "missing (every space has one file per kind)")
            listed = load_json(root, rel)
            if not isinstance(listed, list) or not all(isinstance(o, dict) for o in listed):
                raise bad(root / rel, "expected a JSON list of objects")
            id_field = ENTITY_KINDS[kind].model.id_field
            for obj in listed:
                if not obj.get(id_field) or not obj.get("Slug"):
                    raise bad(root / rel, f"an object without {id_field} or Slug")
                index[obj[id_field]] = (kind, slug, obj["Slug"])
            objects[slug][kind] = listed
        prefix = f"spaces/{slug}/units/"
        for rel in sorted(r for r in manifest.files if r.startswith(prefix)):
            unit, revisions = _check_unit(root / rel, load_json(root, rel))
            units.append(UnitEntry(slug, rel, unit, revisions))
            index[unit["UnitID"]] = ("unit", slug, unit["Slug"])
    return Loaded(root, manifest, spaces, objects, units, index)


class Restorer:
    """Carries out one restore; `ids` maps every old ID to the new one."""

    def __init__(
        self,
        client: ConfigHubClient,
        backup: Loaded,
        selected: list[str],
        step: Step,
        *,
        force: bool = False,
    ) -> None:
        self.client = client
        self.b = backup
        self.selected = selected
        self.step = step
        self.force = force
        self.ids: dict[str, str] = {}
        self.kept_spaces: set[str] = set()
        self.created: Counter[str] = Counter()
        self.kept: Counter[str] = Counter()
        self.warnings: list[str] = []
        self.last_description: str | None = None  # the unit being restored, after its last write

    # ------------------------------------------------------------------ planning

    def work(self) -> int:
        total = len(self.selected)
        for slug in self.selected:
            total += sum(len(v) for v in self.b.objects[slug].values())
        total += sum(len(u.revisions) for u in self.b.units if u.space in self.selected)
        return total

    def existing_spaces(self) -> list[str]:
        found = []
        for slug in self.selected:
            if self.client.find_by_slug(SPACE, None, slug) is not None:
                found.append(slug)
        return found

    # ------------------------------------------------------------------ ID mapping

    def new_id(self, old: str | None) -> str | None:
        """The new ID of an old one; outside the restored spaces, the same object (by slug) on
        the server; None when it exists nowhere."""
        if not old:
            return None
        if old in self.ids:
            return self.ids[old]
        where = self.b.index.get(old)
        if where is None:
            return None
        kind, space_slug, slug = where
        found: Any
        if kind == "space":
            found = self.client.find_by_slug(SPACE, None, slug)
        else:
            space = self.client.find_by_slug(SPACE, None, space_slug)
            if space is None:
                return None
            entity_kind = UNIT if kind == "unit" else ENTITY_KINDS[kind]
            found = self.client.find_by_slug(entity_kind, space.id, slug)
        if found is None:
            return None
        self.ids[old] = found.id
        return found.id

    def remap(self, value: Any, where: str) -> Any:
        """Every known old UUID inside `value` (IDs, where expressions) replaced by its new one."""
        if isinstance(value, dict):
            return {k: self.remap(v, where) for k, v in value.items()}
        if isinstance(value, list):
            return [self.remap(v, where) for v in value]
        if isinstance(value, str):

            def sub(match: re.Match[str]) -> str:
                old = match.group(0)
                if old not in self.b.index and old not in self.ids:
                    return old
                new = self.new_id(old)
                if new is None:
                    raise CliError(
                        Exit.FAILED,
                        f"{where} references {old}, which is neither in the restored spaces "
                        "nor on the server",
                        "restore the spaces it references too (omit --space)",
                    )
                return new

            return _UUID.sub(sub, value)
        return value

    # ------------------------------------------------------------------ spaces and entities

    def restore_spaces(self) -> None:
        for slug in self.selected:
            space = self.b.spaces[slug]
            existing = self.client.find_by_slug(SPACE, None, slug)
            if existing is not None:
                self.ids[space["SpaceID"]] = existing.id
                self.kept_spaces.add(slug)
                self.kept["space"] += 1
            else:
                body = {
                    k: space[k]
                    for k in ("Slug", "DisplayName", "Labels", "Annotations")
                    if space.get(k) is not None
                }
                created = self.client.create(SPACE, None, body)
                self.ids[space["SpaceID"]] = created.id
                self.created["space"] += 1
            self.step.advance(slug)

    def _existing(self, kind: EntityKind, space_slug: str, slug: str) -> str | None:
        if space_slug not in self.kept_spaces:
            return None
        found = self.client.find_by_slug(kind, self.ids[self.b.spaces[space_slug]["SpaceID"]], slug)
        return found.id if found is not None else None

    def restore_kind(self, kind: str, drop: tuple[str, ...] = ()) -> None:
        entity_kind = ENTITY_KINDS[kind]
        id_field = entity_kind.model.id_field
        for space_slug in self.selected:
            space_id = self.ids[self.b.spaces[space_slug]["SpaceID"]]
            for obj in self.b.objects[space_slug][kind]:
                what = f"{entity_kind.name} {space_slug}/{obj['Slug']}"
                existing = self._existing(entity_kind, space_slug, obj["Slug"])
                if existing is not None:
                    self.ids[obj[id_field]] = existing
                    self.kept[kind] += 1
                else:
                    body = {
                        k: v
                        for k, v in obj.items()
                        if k not in _SERVER_FIELDS and k != id_field and k not in drop
                    }
                    created = self.client.create(entity_kind, space_id, self.remap(body, what))
                    self.ids[obj[id_field]] = created.id
                    self.created[kind] += 1
                self.step.advance(what)

    def close_change_sets(self) -> None:
        """Set the change sets' tag ends, now that the tags exist."""
        for space_slug in self.selected:
            space_id = self.ids[self.b.spaces[space_slug]["SpaceID"]]
            for obj in self.b.objects[space_slug]["change_set"]:
                ends = {k: obj[k] for k in ("StartTagID", "EndTagID") if obj.get(k)}
                if not ends or obj["ChangeSetID"] not in self.ids:
                    continue
                new = self.ids[obj["ChangeSetID"]]
                what = f"ChangeSet {space_slug}/{obj['Slug']}"
                self.client.patch(CHANGE_SET, space_id, new, self.remap(ends, what))

    # ------------------------------------------------------------------ units

    def restore_units(self) -> None:
        chosen = [u for u in self.b.units if u.space in self.selected]
        chosen_ids = {u.old_id for u in chosen}
        children: dict[str, list[UnitEntry]] = defaultdict(list)
        roots: list[UnitEntry] = []
        for entry in chosen:
            upstream = entry.unit.get("UpstreamUnitID")
            if upstream and upstream in chosen_ids:
                children[upstream].append(entry)
            else:
                roots.append(entry)
        done: set[str] = set()
        for entry in roots:
            self.restore_unit(entry, children, done)
        missing = [u.rel for u in chosen if u.old_id not in done]
        if missing:  # an upstream cycle cannot happen on a real server; say so if it does
            raise CliError(Exit.FAILED, f"units never restored (upstream cycle?): {missing}")

    def _upstream_param(self, entry: UnitEntry) -> dict[str, str] | None:
        upstream = entry.unit.get("UpstreamUnitID")
        if not upstream:
            return None
        new = self.new_id(upstream)
        if new is None and upstream not in self.b.index:
            try:
                new = self.client.find_unit(upstream).id  # outside the project, still there
            except NotFoundError:
                new = None
        if new is None:
            self.warnings.append(
                f"unit {entry.space}/{entry.unit['Slug']}: its upstream unit {upstream} exists "
                "nowhere; restored without an upstream"
            )
            return None
        return {"upstream_unit_id": new}

    def restore_unit(
        self, entry: UnitEntry, children: dict[str, list[UnitEntry]], done: set[str]
    ) -> None:
        unit, revisions = entry.unit, entry.revisions
        what = f"unit {entry.space}/{unit['Slug']}"
        space_id = self.ids[self.b.spaces[entry.space]["SpaceID"]]
        by_base: dict[int, list[UnitEntry]] = defaultdict(list)
        for child in children.get(entry.old_id, []):
            base = int(child.unit.get("UpstreamRevisionNum") or 0)
            by_base[min(max(base, 1), len(revisions))].append(child)
            if not 1 <= base <= len(revisions):
                self.warnings.append(
                    f"unit {child.space}/{child.unit['Slug']}: UpstreamRevisionNum {base} is not a "
                    f"revision of its upstream; cloned at revision {len(revisions)}"
                )
        existing = self._existing(UNIT, entry.space, unit["Slug"])
        if existing is not None:
            self.ids[entry.old_id] = existing
            self.kept["unit"] += 1
            self.step.advance(what, len(revisions))
            done.add(entry.old_id)
            for group in by_base.values():
                for child in group:
                    self.restore_unit(child, children, done)
            return
        first = revisions[0]
        body: dict[str, Any] = {k: unit[k] for k in _UNIT_FIELDS if unit.get(k) is not None}
        body["Data"] = first["Data"]
        if first.get("Description"):
            body["LastChangeDescription"] = first["Description"]
        target = self.new_id(unit.get("TargetID"))
        if target:
            body["TargetID"] = target
        change_set = self.new_id(first.get("ChangeSetID"))
        if change_set:
            body["ChangeSetID"] = change_set
        created = self.client.create(UNIT, space_id, body, self._upstream_param(entry))
        new_id = created.id
        self.ids[entry.old_id] = new_id
        self.created["unit"] += 1
        self._check(what, created.wire(), first)
        was, now = (
            int(unit.get("UpstreamRevisionNum") or 0),
            created.wire().get("UpstreamRevisionNum"),
        )
        if unit.get("UpstreamUnitID") and now is not None and int(now) != was:
            self.warnings.append(
                f"{what}: cloned from its upstream's current head, so UpstreamRevisionNum is "
                f"{now} (was {was}); the next upgrade merges upstream changes after {now} only"
            )
        self.last_description = created.wire().get("LastChangeDescription") or None
        self._tag(new_id, first, what)
        self.step.advance(f"{what} r1")
        self.created["revision"] += 1
        current_cs = change_set
        for child in by_base.get(1, []):
            self.restore_unit(child, children, done)
        for prev, rev in itertools.pairwise(revisions):
            current_cs = self._write_revision(space_id, new_id, prev, rev, current_cs, what)
            self._tag(new_id, rev, what)
            self.created["revision"] += 1
            self.step.advance(f"{what} r{rev['RevisionNum']}")
            for child in by_base.get(int(rev["RevisionNum"]), []):
                self.restore_unit(child, children, done)
        final: dict[str, Any] = {}
        last_cs = self.new_id(unit.get("ChangeSetID"))
        if last_cs != current_cs:
            final["ChangeSetID"] = last_cs
        if (unit.get("LastChangeDescription") or None) != self.last_description:
            final["LastChangeDescription"] = unit.get("LastChangeDescription") or None
        if final:
            self.client.patch(UNIT, space_id, new_id, final)
        done.add(entry.old_id)

    def _write_revision(
        self,
        space_id: str,
        unit_id: str,
        prev: dict[str, Any],
        rev: dict[str, Any],
        current_cs: str | None,
        what: str,
    ) -> str | None:
        """Make `rev` the new head; returns the unit's change set afterwards."""
        change_set = self.new_id(rev.get("ChangeSetID"))
        path = f"/space/{space_id}/unit/{unit_id}"
        if rev["Data"] != prev["Data"]:
            patch: dict[str, Any] = {
                "Data": rev["Data"],
                "LastChangeDescription": rev.get("Description") or None,  # null: none
            }
            if change_set != current_cs:
                patch["ChangeSetID"] = change_set
            answer = self.client.patch(UNIT, space_id, unit_id, patch).wire()
        else:
            if change_set != current_cs:
                self.client.patch(UNIT, space_id, unit_id, {"ChangeSetID": change_set})
            # Same data as the previous revision: only a restore of the head makes a revision.
            raw = self.client.request(
                "PATCH",
                path,
                retry=False,
                params={"restore": "HeadRevisionNum"},
                content=b"null",
                content_type=_MERGE_PATCH,
            )
            answer = raw.get("Unit", raw) if isinstance(raw, dict) else {}
        self._check(what, answer, rev)
        self.last_description = answer.get("LastChangeDescription") or None
        return change_set

    def _check(self, what: str, unit: dict[str, Any], rev: dict[str, Any]) -> None:
        head = int(unit.get("HeadRevisionNum") or 0)
        if head != int(rev["RevisionNum"]):
            raise CliError(
                Exit.FAILED,
                f"{what}: the server's head is revision {head} after writing revision "
                f"{rev['RevisionNum']} (another writer, or a server that skips revisions)",
                "restore into an empty ConfigHub that nothing else writes to",
            )
        want = rev.get("DataHash")
        got = unit.get("DataHash")
        if want and got and want != got:
            raise CliError(
                Exit.FAILED,
                f"{what}: revision {rev['RevisionNum']} data differs from the backup after "
                "the write (a mutating trigger?)",
                "disable mutating triggers in the backup's spaces and restore again",
            )

    def _tag(self, unit_id: str, rev: dict[str, Any], what: str) -> None:
        for old_tag in sorted(rev.get("Tags") or {}):
            tag = self.new_id(old_tag)
            if tag is None:
                self.warnings.append(f"{what} r{rev['RevisionNum']}: tag {old_tag} is not restored")
                continue
            body = {"TagID": tag, "Revision": "HeadRevisionNum"}
            answer = self.client.request(
                "POST",
                "/unit/tag",
                params={"where": f"UnitID = {quote_where(unit_id)}"},
                json_body=body,
            )
            errors = [a["Error"] for a in answer or [] if isinstance(a, dict) and a.get("Error")]
            if errors:
                raise CliError(Exit.FAILED, f"{what}: tagging revision failed: {errors[0]}")

    # ------------------------------------------------------------------ all of it

    def run(self) -> dict[str, Any]:
        try:
            self.restore_spaces()
            for kind in ("bridge_worker", "target", "filter"):
                self.restore_kind(kind)
            self.restore_kind("change_set", drop=("StartTagID", "EndTagID"))
            self.restore_kind("tag")
            self.close_change_sets()
            self.restore_kind("trigger")
            self.restore_units()
            self.restore_kind("link")
        except ConfigHubError as exc:
            raise CliError(
                Exit.FAILED,
                f"restore stopped part-way: {exc}",
                "fix the cause, then run the same restore with --force: it keeps what was "
                "restored and creates the rest",
            ) from exc
        return {
            "project": self.b.manifest.project,
            "spaces": self.selected,
            "created": dict(sorted(self.created.items())),
            "kept": dict(sorted(self.kept.items())),
            "warnings": self.warnings,
            "idMap": len(self.ids),
        }


def select_spaces(backup: Loaded, wanted: list[str] | None) -> list[str]:
    """Backed-up space slugs to restore, in backup order; names a slug the backup lacks."""
    if not wanted:
        return list(backup.manifest.spaces)
    chosen: list[str] = []
    for item in wanted:
        matches = [s for s in backup.manifest.spaces if s == item or s.endswith(f"-{item}")]
        if not matches:
            raise CliError(
                Exit.NOT_FOUND,
                f"the backup has no space {item!r}; it has {backup.manifest.spaces}",
                "pass --space with one of those slugs (or an environment suffix such as dev)",
            )
        chosen.extend(m for m in matches if m not in chosen)
    return [s for s in backup.manifest.spaces if s in chosen]


def summary(manifest: Manifest) -> str:
    return json.dumps(manifest.counts, sort_keys=True)
