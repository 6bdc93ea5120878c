"""A read-only view of one revision of a unit (`pulumi-python:dynamic/confighub:UpstreamRevision`).

Used for promotion: the program pins a downstream environment to revision N of an upstream unit
and reads the images that revision deployed. Creating, updating or deleting this resource never
writes to ConfigHub; it only reads the revision (`GET .../revision?where=RevisionNum = N`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Required

import pulumi
import pulumi.dynamic
from pulumi.dynamic import CheckFailure, CreateResult, ReadResult, UpdateResult
from typing_extensions import TypedDict, Unpack

from .base import PROVIDER_KEY, EntityProvider, InputField, is_unknown
from .errors import ConfigHubError, NotFoundError
from .kinds import EntityKind
from .models import Revision
from .resource import resource_props
from .yamldata import images

REVISION = EntityKind("UpstreamRevision", "revision", Revision)


class UpstreamRevisionArgs(TypedDict, total=False):
    space_id: Required[pulumi.Input[str]]
    unit_id: Required[pulumi.Input[str]]
    revision_num: Required[pulumi.Input[int]]


class UpstreamRevisionProvider(EntityProvider):
    kind = REVISION
    id_output = "revision_id"
    extra_outputs = ("data", "images")
    fields: ClassVar[dict[str, InputField]] = {
        # Another revision is another (read-only) object: replace, so the ID always matches.
        "space_id": InputField(None, required=True, replace=True),
        "unit_id": InputField(None, required=True, replace=True),
        "revision_num": InputField(None, "int", required=True, replace=True),
    }

    def validate(self, news: Mapping[str, Any]) -> list[CheckFailure]:
        num = news.get("revision_num")
        if num is not None and not is_unknown(num) and int(num) < 1:
            return [CheckFailure("revision_num", "UpstreamRevision: 'revision_num' must be >= 1")]
        return []

    def _fetch(self, props: Mapping[str, Any]) -> dict[str, Any]:
        space_id, unit_id, num = props["space_id"], props["unit_id"], int(props["revision_num"])
        revision = self.client().get_revision(str(space_id), str(unit_id), num)
        text = revision.text
        return {
            "space_id": space_id,
            "unit_id": unit_id,
            "revision_num": num,
            "revision_id": revision.revision_id or f"{unit_id}@{num}",
            "data": text,
            "images": images(text),
        }

    def create(self, props: dict[str, Any]) -> CreateResult:
        try:
            outs = self._fetch(props)
        except NotFoundError as exc:
            raise ConfigHubError(
                f"unit {props.get('unit_id')} has no revision {props.get('revision_num')}: "
                f"{exc.message}"
            ) from exc
        return CreateResult(str(outs["revision_id"]), outs)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        props = {k: v for k, v in props.items() if k != PROVIDER_KEY}
        try:
            outs = self._fetch(props)
        except NotFoundError:
            return ReadResult(None, {})
        inputs = {k: outs[k] for k in self.fields}
        return ReadResult(str(outs["revision_id"]), outs, inputs)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(self._fetch(news))

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """Nothing to delete: this resource only reads."""


class UpstreamRevision(pulumi.dynamic.Resource, module="confighub", name="UpstreamRevision"):
    """Revision `revision_num` of a unit: its `data` and `images` (container name -> image)."""

    space_id: pulumi.Output[str]
    unit_id: pulumi.Output[str]
    revision_num: pulumi.Output[int]
    revision_id: pulumi.Output[str]
    data: pulumi.Output[str]
    images: pulumi.Output[dict[str, str]]

    def __init__(
        self,
        resource_name: str,
        args: UpstreamRevisionArgs | None = None,
        opts: pulumi.ResourceOptions | None = None,
        **kwargs: Unpack[UpstreamRevisionArgs],
    ) -> None:
        props = resource_props(UpstreamRevisionProvider, resource_name, args, kwargs, opts)
        super().__init__(UpstreamRevisionProvider(), resource_name, props, opts)
