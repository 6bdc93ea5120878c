"""Mutations: the spec's record of what changed a unit, one per revision here.

Every write of a unit's data makes exactly one revision on this server, so each Revision is
also the unit's Mutation with the same number (MutationNum = RevisionNum). The MutationID is a
stable UUID derived from the RevisionID, so the same mutation always has the same ID.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from confighub_local.db.store import Doc

_NAMESPACE = uuid.UUID("6f1c2a52-3d7e-4b8e-9a51-0c1d2e3f4a5b")
_RESTORED = re.compile(r"Restored revision (\d+)")
_UPGRADED = re.compile(r"Upgraded from upstream revision (\d+)")
_FUNCTION = re.compile(r"^function: (.+)$")


def mutation_id(revision_id: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, revision_id))


def from_revision(rev: Doc) -> Doc:
    """The Mutation that made revision `rev`."""
    description = str(rev.get("Description") or "")
    out: dict[str, Any] = {
        "MutationID": mutation_id(rev["RevisionID"]),
        "MutationNum": rev["RevisionNum"],
        "RevisionID": rev["RevisionID"],
        "RevisionNum": rev["RevisionNum"],
        "UnitID": rev["UnitID"],
        "SpaceID": rev["SpaceID"],
        "SpaceSlug": rev.get("SpaceSlug", ""),
        "OrganizationID": rev["OrganizationID"],
        "CreatedAt": rev["CreatedAt"],
        "UpdatedAt": rev["CreatedAt"],
        "Version": 1,
        "EntityType": "Mutation",
        "Subgroup": "",
        "Source": rev.get("Source", ""),
        "Description": description,
        # the CLI dereferences both; this server records no provided resource/path
        "ProvidedResource": {
            "ResourceName": "",
            "ResourceNameWithoutScope": "",
            "ResourceType": "",
        },
        "ProvidedPath": "",
        "FunctionInvocation": {"FunctionName": ""},
    }
    if m := _RESTORED.search(description):
        out["RestoredRevisionNum"] = int(m.group(1))
    if m := _UPGRADED.search(description):
        out["UpgradedFromUpstreamRevisionNum"] = int(m.group(1))
    if rev.get("Source") == "FunctionInvocation" and (m := _FUNCTION.match(description)):
        out["FunctionInvocation"] = {"FunctionName": m.group(1).split(",")[0].strip()}
    return out
