"""Typed views of the ConfigHub entities this package uses (PascalCase on the wire).

Models keep unknown fields (`extra="allow"`) so a round trip never drops what the server sent,
and normalise "no value" (null, "", the zero UUID) to `None` for optional references so that
diffs never flap between spellings of nothing.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

ZERO_UUID = "00000000-0000-0000-0000-000000000000"


def pascal(name: str) -> str:
    """snake_case -> ConfigHub PascalCase (`space_id` -> `SpaceID`)."""
    return "".join(
        "ID" if part == "id" else part[:1].upper() + part[1:] for part in name.split("_")
    )


def _none_if_empty(value: Any) -> Any:
    if value in ("", ZERO_UUID):
        return None
    return value


def decode_data(value: str | None) -> str:
    """Unit/revision `Data` is base64 on the wire; return the text."""
    if not value:
        return ""
    try:
        return base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise ValueError(f"unit data is not base64-encoded UTF-8: {exc}") from exc


def encode_data(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


class Entity(BaseModel):
    """Common shape: PascalCase aliases, extra fields kept, maps never None."""

    model_config = ConfigDict(alias_generator=pascal, populate_by_name=True, extra="allow")

    id_field: ClassVar[str] = ""

    space_id: str | None = None
    slug: str = ""
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    version: int | None = None

    @field_validator("labels", "annotations", mode="before")
    @classmethod
    def _maps(cls, value: Any) -> Any:
        return value or {}

    @property
    def id(self) -> str:
        value = self.wire().get(self.id_field)
        if not value:
            raise ValueError(f"{type(self).__name__} without {self.id_field}")
        return str(value)

    def wire(self) -> dict[str, Any]:
        """The entity as PascalCase JSON (including fields this model does not declare)."""
        return self.model_dump(by_alias=True, mode="json")


class Space(Entity):
    id_field = "SpaceID"
    space_id: str | None = None


class Unit(Entity):
    id_field = "UnitID"
    unit_id: str = ""
    toolchain_type: str = ""
    data: str | None = None
    target_id: str | None = None
    upstream_unit_id: str | None = None
    upstream_space_id: str | None = None
    upstream_revision_num: int = 0
    head_revision_num: int = 0
    live_revision_num: int = 0
    last_applied_revision_num: int = 0

    @field_validator("target_id", "upstream_unit_id", "upstream_space_id", mode="before")
    @classmethod
    def _nullable(cls, value: Any) -> Any:
        return _none_if_empty(value)

    @property
    def text(self) -> str:
        return decode_data(self.data)


class Filter(Entity):
    id_field = "FilterID"
    filter_id: str = ""
    from_: str = Field(default="", alias="From")
    where: str = ""


class Link(Entity):
    id_field = "LinkID"
    link_id: str = ""
    from_unit_id: str = ""
    to_unit_id: str = ""
    to_space_id: str | None = None

    @field_validator("to_space_id", mode="before")
    @classmethod
    def _nullable(cls, value: Any) -> Any:
        return _none_if_empty(value)


class Target(Entity):
    id_field = "TargetID"
    target_id: str = ""
    bridge_worker_id: str = ""
    provider_type: str = ""
    toolchain_type: str = ""
    parameters: str = ""

    @field_validator("parameters", mode="before")
    @classmethod
    def _params(cls, value: Any) -> Any:
        return value or ""


class BridgeWorker(Entity):
    id_field = "BridgeWorkerID"
    bridge_worker_id: str = ""
    secret: str | None = None

    def __repr__(self) -> str:  # never print the secret
        return f"BridgeWorker(slug={self.slug!r}, id={self.bridge_worker_id!r})"

    __str__ = __repr__


class Tag(Entity):
    id_field = "TagID"
    tag_id: str = ""


class ChangeSet(Entity):
    id_field = "ChangeSetID"
    change_set_id: str = ""
    description: str = ""


class Revision(Entity):
    id_field = "RevisionID"
    revision_id: str = ""
    unit_id: str = ""
    revision_num: int = 0
    data: str | None = None

    @property
    def text(self) -> str:
        return decode_data(self.data)


class ErrorItem(BaseModel):
    model_config = ConfigDict(alias_generator=pascal, populate_by_name=True, extra="allow")
    description: str = ""
    item: str = ""


class QueuedOperation(BaseModel):
    """A queued apply/destroy (`QueuedOperation` / `UnitAction` in the spec)."""

    model_config = ConfigDict(alias_generator=pascal, populate_by_name=True, extra="allow")

    queued_operation_id: str = ""
    unit_id: str = ""
    action: str = ""
    status: str = ""
    revision_num: int = 0
    error_details: list[ErrorItem] = Field(default_factory=list)

    @field_validator("error_details", mode="before")
    @classmethod
    def _list(cls, value: Any) -> Any:
        return value or []


class UnitEvent(BaseModel):
    model_config = ConfigDict(alias_generator=pascal, populate_by_name=True, extra="allow")

    queued_operation_id: str = ""
    action: str = ""
    status: str = ""
    result: str = ""
    message: str = ""
    unit_event_num: int = 0
