"""Take a backup: read every space of the project from ConfigHub and write the backup directory.

The directory is written under `<dir>.partial` and renamed into place only once the manifest,
the last file, is complete, so an interrupted backup never looks like a finished one.
"""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from components.confighub.client import ConfigHubClient
from operator_cli.backup import database
from operator_cli.backup.format import FORMAT, FORMAT_VERSION, KINDS, MANIFEST, dumps, sha256_of
from operator_cli.hub import project_spaces
from operator_cli.output import CliError, Exit, Step

# Never written to a backup: credentials, and what a running worker announces when it connects
# (`ProvidedInfo`: its toolchains and functions, in the order it happens to list them). That is
# live state, not configuration: a restore never sends it, and the redeployed worker announces
# its own.
_DROPPED_FIELDS = ("Secret", "SecretHash", "ProvidedInfo")


def _unwrap(item: Any, name: str) -> dict[str, Any]:
    if isinstance(item, dict) and isinstance(item.get(name), dict):
        return dict(item[name])
    return dict(item)


def _list(client: ConfigHubClient, path: str, name: str) -> list[dict[str, Any]]:
    body = client.request("GET", path) or []
    return [_unwrap(item, name) for item in body]


_WRAPPER = {
    "bridge_worker": "BridgeWorker",
    "target": "Target",
    "filter": "Filter",
    "change_set": "ChangeSet",
    "tag": "Tag",
    "trigger": "Trigger",
    "link": "Link",
}


def read_unit(client: ConfigHubClient, space_id: str, unit_id: str) -> dict[str, Any]:
    """A unit and its full revision history (oldest first), each revision with its data."""
    base = f"/space/{space_id}/unit/{unit_id}"
    unit = _unwrap(client.request("GET", base), "Unit")
    revisions = _list(client, base + "/revision", "Revision")
    for rev in revisions:
        if rev.get("Data") is None:  # a server that lists revisions without their data
            full = client.request("GET", f"{base}/revision/{rev['RevisionID']}")
            rev["Data"] = _unwrap(full, "Revision").get("Data", "")
    revisions.sort(key=lambda r: int(r.get("RevisionNum", 0)))
    return {"Unit": unit, "Revisions": revisions}


def plan_files(client: ConfigHubClient, project: str) -> tuple[list[dict[str, Any]], int]:
    spaces = project_spaces(client, project)
    if not spaces:
        raise CliError(
            Exit.NOT_FOUND,
            f"ConfigHub holds no space labelled project={project!r}; nothing to back up",
            "check --prefix/--project (pulumi stack output prefix -s dev) and --url",
        )
    return spaces, len(spaces)


def create_backup(
    client: ConfigHubClient,
    project: str,
    dest: Path,
    step: Step,
    *,
    force: bool = False,
    kube: Any = None,
) -> dict[str, Any]:
    """Write the backup of `project` to `dest`; returns the manifest as written. With `kube`
    (a CoreV1Api), also each deployed environment's database data directory (database.py)."""
    if dest.exists() and any(dest.iterdir()) and not force:
        raise CliError(
            Exit.REFUSED,
            f"{dest} exists and is not empty; a backup is never written over another",
            f"choose a new directory, or pass --force to replace {dest}",
        )
    spaces, _ = plan_files(client, project)
    work = dest.with_name(dest.name + ".partial")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        manifest = _write(client, project, spaces, work, step, kube)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)  # a failed backup leaves nothing behind
        raise
    if dest.exists():
        shutil.rmtree(dest)
    os.replace(work, dest)
    return manifest


def _write(
    client: ConfigHubClient,
    project: str,
    spaces: list[dict[str, Any]],
    work: Path,
    step: Step,
    kube: Any,
) -> dict[str, Any]:
    files: dict[str, dict[str, Any]] = {}
    counts: dict[str, int] = {"space": 0, "unit": 0, "revision": 0, **{k: 0 for k in KINDS}}

    def write(rel: str, value: Any) -> None:
        path = work / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(dumps(value))
        files[rel] = {"sha256": sha256_of(path), "bytes": path.stat().st_size}

    unit_lists: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
    for space in spaces:
        sid = space["SpaceID"]
        units = _list(client, f"/space/{sid}/unit", "Unit")
        unit_lists.append((space, units))
    step.total(sum(len(u) for _, u in unit_lists) + len(spaces))
    for space, units in unit_lists:
        sid, slug = space["SpaceID"], space["Slug"]
        write(f"spaces/{slug}/space.json", space)
        counts["space"] += 1
        for kind in KINDS:
            objs = _list(client, f"/space/{sid}/{kind}", _WRAPPER[kind])
            for obj in objs:
                for field in _DROPPED_FIELDS:
                    obj.pop(field, None)
            objs.sort(key=lambda o: str(o.get("Slug")))
            write(f"spaces/{slug}/{kind}.json", objs)
            counts[kind] += len(objs)
        step.advance(slug)
        for listed in sorted(units, key=lambda u: str(u.get("Slug"))):
            unit = read_unit(client, sid, listed["UnitID"])
            write(f"spaces/{slug}/units/{listed['Slug']}.json", unit)
            counts["unit"] += 1
            counts["revision"] += len(unit["Revisions"])
            step.advance(f"{slug}/{listed['Slug']}")
    databases: dict[str, dict[str, str]] = {}
    if kube is not None:
        for space in spaces:
            db = database.find(client, space["SpaceID"])
            if db is None:
                continue  # base and filters: nothing deployed
            rel = f"database/{space['Slug']}.tar"
            (work / "database").mkdir(exist_ok=True)
            pod, size = database.dump(kube, db, work / rel)
            files[rel] = {"sha256": sha256_of(work / rel), "bytes": size}
            databases[space["Slug"]] = {
                "file": rel, "unit": db.unit, "namespace": db.namespace, "pod": pod,
                "deployment": db.deployment, "container": db.container, "data_dir": db.data_dir,
            }  # fmt: skip
            counts["database"] = counts.get("database", 0) + 1
            step.advance(f"{space['Slug']}/database ({size} bytes from {pod})")
    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "project": project,
        "created_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "source_url": client.base_url.removesuffix("/api"),
        "spaces": [s["Slug"] for s in spaces],
        "counts": counts,
        "files": files,
        **({"database": databases} if databases else {}),
    }
    (work / MANIFEST).write_bytes(dumps(manifest))
    return manifest
