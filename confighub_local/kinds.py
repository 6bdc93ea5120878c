"""The entity kinds the server stores, with the facts the generic CRUD code needs."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Kind:
    name: str  # schema name, e.g. "Filter"
    segment: str  # URL segment, e.g. "filter"
    id_field: str  # e.g. "FilterID"
    required: tuple[str, ...] = ("Slug",)
    space_scoped: bool = True
    # fields a client may not set: the server owns them
    server_fields: tuple[str, ...] = ()
    # UUID fields that must name an existing entity of the given kind
    refs: dict[str, str] = field(default_factory=dict)


_COMMON_SERVER = (
    "OrganizationID",
    "SpaceID",
    "CreatedAt",
    "UpdatedAt",
    "Version",
    "CursorID",
    "EntityType",
    "SpaceSlug",
)

SPACE = Kind(
    "Space",
    "space",
    "SpaceID",
    space_scoped=False,
    server_fields=("OrganizationID", "CreatedAt", "UpdatedAt", "Version", "CursorID", "EntityType"),
)
UNIT = Kind(
    "Unit",
    "unit",
    "UnitID",
    required=("Slug", "ToolchainType"),
    server_fields=(
        *_COMMON_SERVER,
        "HeadRevisionNum",
        "LiveRevisionNum",
        "LastAppliedRevisionNum",
        "PreviousLiveRevisionNum",
        "HeadMutationNum",
        "HeadUnitActionNum",
        "HeadUnitEventNum",
        "UpstreamRevisionNum",
        "UpstreamUnitID",
        "UpstreamSpaceID",
        "UpstreamOrganizationID",
        "LiveState",
        "LiveData",
        "BridgeState",
        "DataHash",
        "ApprovedBy",
        "BridgeWorkerID",
        "ContentHash",
        "ProviderType",
        "MutationSources",
    ),
    refs={"TargetID": "Target", "ChangeSetID": "ChangeSet"},
)
FILTER = Kind(
    "Filter",
    "filter",
    "FilterID",
    required=("Slug", "From"),
    server_fields=(*_COMMON_SERVER, "Hash"),
    refs={"FromSpaceID": "Space"},
)
LINK = Kind(
    "Link",
    "link",
    "LinkID",
    required=("Slug", "FromUnitID", "ToUnitID"),
    server_fields=(*_COMMON_SERVER, "Hash"),
    refs={"FromUnitID": "Unit", "ToUnitID": "Unit", "ToSpaceID": "Space"},
)
TARGET = Kind(
    "Target",
    "target",
    "TargetID",
    required=("Slug", "BridgeWorkerID", "ProviderType", "ToolchainType"),
    server_fields=_COMMON_SERVER,
    refs={"BridgeWorkerID": "BridgeWorker"},
)
BRIDGE_WORKER = Kind(
    "BridgeWorker",
    "bridge_worker",
    "BridgeWorkerID",
    server_fields=(
        *_COMMON_SERVER,
        "Secret",
        "SecretHash",
        "SecretSealed",
        "LastSeenAt",
        "Condition",
        "IPAddress",
        "ProvidedInfo",
        "UserID",
    ),
)
TAG = Kind("Tag", "tag", "TagID", server_fields=_COMMON_SERVER, refs={"ChangeSetID": "ChangeSet"})
CHANGE_SET = Kind(
    "ChangeSet",
    "change_set",
    "ChangeSetID",
    server_fields=_COMMON_SERVER,
    refs={"StartTagID": "Tag", "EndTagID": "Tag"},
)
TRIGGER = Kind(
    "Trigger",
    "trigger",
    "TriggerID",
    required=("Slug", "Event", "ToolchainType"),
    server_fields=(*_COMMON_SERVER, "Hash"),
    refs={"BridgeWorkerID": "BridgeWorker"},
)
VIEW = Kind("View", "view", "ViewID", server_fields=_COMMON_SERVER)
INVOCATION = Kind(
    "Invocation", "invocation", "InvocationID", server_fields=(*_COMMON_SERVER, "Hash")
)

SIMPLE_KINDS: tuple[Kind, ...] = (
    FILTER,
    LINK,
    TARGET,
    BRIDGE_WORKER,
    TAG,
    CHANGE_SET,
    TRIGGER,
    VIEW,
    INVOCATION,
)
BY_NAME: dict[str, Kind] = {k.name: k for k in (SPACE, UNIT, *SIMPLE_KINDS)}
