"""The backup directory's format: what files exist, the manifest, and how they are verified.

```
<dir>/manifest.json                      format, version, project, spaces, counts, files
<dir>/spaces/<space slug>/space.json     the Space
<dir>/spaces/<space slug>/<kind>.json    bridge_worker, target, filter, change_set, tag,
                                         trigger, link: lists of wire objects
<dir>/spaces/<space slug>/units/<unit slug>.json   {"Unit": ..., "Revisions": [...]}
<dir>/database/<space slug>.tar          the database's data directory (`backup create
                                         --database`; format_version 2), see database.py
```

Every file other than the manifest is listed in `manifest.files` with its size and SHA-256.
A reader refuses the backup - before anything is written anywhere - when the manifest is missing
or unreadable, its format is not ours, its version is newer than this code knows, a listed file
is missing, or a file's size or checksum differs; the error names the file.

Objects are stored as the server returned them (PascalCase wire JSON, unit data base64), so
nothing is lost in translation. Bridge worker secrets are never in a backup: the server returns
them only at creation, and a restore makes new ones. Nor is a worker's `ProvidedInfo` (what the
running worker announces: live state, not configuration).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from operator_cli.output import CliError, Exit

FORMAT = "traderx-confighub-backup"
FORMAT_VERSION = 2  # 2: the optional `database` section (a version-1 backup reads the same)
MANIFEST = "manifest.json"

# Space-scoped kinds in a backup, in restore order (a kind only references earlier ones; the
# ChangeSet <-> Tag cycle is closed after both exist). Units come between triggers and links.
KINDS: tuple[str, ...] = (
    "bridge_worker",
    "target",
    "filter",
    "change_set",
    "tag",
    "trigger",
    "link",
)


class FileEntry(BaseModel):
    model_config = ConfigDict(frozen=True)
    sha256: str
    bytes: int


class DatabaseEntry(BaseModel):
    """Where a space's database data came from, and its archive (listed in `files` too)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    file: str
    unit: str
    namespace: str
    deployment: str
    container: str
    data_dir: str
    pod: str


class Manifest(BaseModel):
    """manifest.json. Unknown fields are refused so a typo or foreign file is not half-read."""

    model_config = ConfigDict(extra="forbid")

    format: str
    format_version: int
    project: str
    created_at: str
    source_url: str
    spaces: list[str]
    counts: dict[str, int] = Field(default_factory=dict)
    files: dict[str, FileEntry]
    database: dict[str, DatabaseEntry] = Field(default_factory=dict)  # by space slug


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def dumps(value: Any) -> bytes:
    """Stable JSON bytes (sorted keys) so identical content gives identical checksums."""
    return (json.dumps(value, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def bad(path: Path | str, reason: str) -> CliError:
    return CliError(
        Exit.BAD_INPUT,
        f"backup refused, nothing was written: {path}: {reason}",
        "restore from an intact backup (traderx backup verify <dir> checks one), "
        "or take a new one with traderx backup create",
    )


def read_manifest(root: Path) -> Manifest:
    path = root / MANIFEST
    if not root.is_dir():
        raise bad(root, "no such backup directory")
    if not path.is_file():
        raise bad(path, "missing (an interrupted or partial backup has no manifest)")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise bad(path, f"not readable JSON ({exc})") from exc
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        got = raw.get("format") if isinstance(raw, dict) else type(raw).__name__
        raise bad(path, f"not a {FORMAT} manifest (format {got!r})")
    version = raw.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise bad(path, f"format_version must be a positive integer, got {version!r}")
    if version > FORMAT_VERSION:
        raise bad(
            path,
            f"format_version {version} is newer than this traderx understands "
            f"({FORMAT_VERSION}); upgrade the tool to restore it",
        )
    try:
        return Manifest.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err.get("loc", ()))
        raise bad(path, f"field {where!r}: {err.get('msg')}") from exc


def verify(root: Path) -> Manifest:
    """The manifest, after every listed file was checked (size, SHA-256); raises naming the
    first bad file. Files that are not listed are refused too: they were not part of the
    backup that was checksummed."""
    manifest = read_manifest(root)
    for rel, entry in sorted(manifest.files.items()):
        path = root / rel
        if Path(rel).is_absolute() or ".." in Path(rel).parts:
            raise bad(root / MANIFEST, f"lists a path outside the backup: {rel!r}")
        if not path.is_file():
            raise bad(path, "missing (listed in the manifest)")
        size = path.stat().st_size
        if size != entry.bytes:
            raise bad(path, f"size {size} bytes, the manifest says {entry.bytes}")
        actual = sha256_of(path)
        if actual != entry.sha256:
            raise bad(path, f"checksum mismatch (sha256 {actual}, manifest {entry.sha256})")
    for space, db in sorted(manifest.database.items()):
        if db.file not in manifest.files:
            raise bad(root / MANIFEST, f"database of {space}: {db.file} is not a listed file")
    listed = set(manifest.files) | {MANIFEST}
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.relative_to(root).as_posix() not in listed:
            raise bad(path, "not listed in the manifest (foreign or leftover file)")
    return manifest


def load_json(root: Path, rel: str) -> Any:
    """A verified file's JSON (call after `verify`)."""
    path = root / rel
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise bad(path, f"not readable JSON ({exc})") from exc
