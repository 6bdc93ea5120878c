"""ConfigHub Unit as a Pulumi resource (`pulumi-python:dynamic/confighub:Unit`).

Lifecycle beyond the generic one (see `base`):
- data is YAML text (multi-document allowed), stored base64 by the server; diffs compare parsed
  documents, so formatting never causes a write;
- a unit with `upstream_unit_id` is created as a clone of that upstream unit (the upstream's space
  is looked up), then its declared `data` is written if it differs from the cloned data;
- when `upstream_revision_num` (the promotion pin) rises above the revision the unit was last
  upgraded to, the provider upgrades it (server-side three-way merge) and then writes the
  declared data if it still differs. A pin lower than the current upstream revision is ignored
  (upgrades only move forward);
- after a write, if the unit has a target and `apply` (default: true when a target is set), the
  unit is applied and the step waits (`apply_timeout_seconds`, default 300) until the worker
  reports Completed; failure or timeout fails the step with the unit's slug and the reason. A
  failed apply during create is rolled back (destroy, delete: the engine records nothing for a
  failed create, so anything left would be an orphan); a unit whose live revision lags its head
  (a failed update or an out-of-band change) is applied on next up;
- delete destroys the unit's resources first (if it was ever applied), then deletes it.
- Pulumi import cannot work for dynamic resources (the engine reads an imported resource without
  its serialized provider): the `import_` option is refused (`resource.IMPORT_REFUSAL`) and the
  bare `pulumi import` command fails. To take over an existing unit run
  `python -m components.confighub adopt unit <space_id> <slug>`, then `pulumi up` adopts it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, NotRequired, Required

import pulumi
import pulumi.dynamic
from pulumi.dynamic import CheckFailure, CreateResult, UpdateResult
from typing_extensions import TypedDict, Unpack

from .base import EntityProvider, InputField, is_managed, is_unknown
from .client import UNIT
from .errors import ApiError, ConfigHubError, ConflictError, NotFoundError, OperationFailedError
from .models import Entity, encode_data
from .models import Unit as UnitEntity
from .operations import wait_for
from .resource import resource_props

TOOLCHAIN_TYPE = "Kubernetes/YAML"
DEFAULT_APPLY_TIMEOUT = 300


class UnitArgs(TypedDict, total=False):
    space_id: Required[pulumi.Input[str]]
    slug: Required[pulumi.Input[str]]
    data: NotRequired[pulumi.Input[str]]
    labels: NotRequired[pulumi.Input[Mapping[str, pulumi.Input[str]]]]
    annotations: NotRequired[pulumi.Input[Mapping[str, pulumi.Input[str]]]]
    target_id: NotRequired[pulumi.Input[str] | None]
    upstream_unit_id: NotRequired[pulumi.Input[str] | None]
    upstream_revision_num: NotRequired[pulumi.Input[int] | None]
    apply: NotRequired[pulumi.Input[bool] | None]
    apply_timeout_seconds: NotRequired[pulumi.Input[int] | None]


def _as_unit(entity: Entity) -> UnitEntity:
    if not isinstance(entity, UnitEntity):
        raise TypeError(f"expected a Unit, got {type(entity).__name__}")
    return entity


def wants_apply(props: Mapping[str, Any]) -> bool:
    """`apply` defaults to true when a target is set."""
    if not props.get("target_id"):
        return False
    flag = props.get("apply")
    return True if flag is None else bool(flag)


class UnitProvider(EntityProvider):
    kind = UNIT
    id_output = "unit_id"
    extra_outputs = ("head_revision_num", "live_revision_num")
    fields: ClassVar[dict[str, InputField]] = {
        "space_id": InputField("SpaceID", required=True, replace=True),
        "slug": InputField("Slug", required=True, replace=True, slug=True),
        "data": InputField("Data", "yaml", server_default=True),
        "labels": InputField("Labels", "map"),
        "annotations": InputField("Annotations", "map"),
        "target_id": InputField("TargetID"),
        "upstream_unit_id": InputField("UpstreamUnitID", replace=True, server_default=True),
        "upstream_revision_num": InputField(None, "int", compare=False),
        "apply": InputField(None, "bool", compare=False),
        "apply_timeout_seconds": InputField(None, "int", compare=False),
    }

    def describe(self, props: Mapping[str, Any]) -> str:
        return f"unit {props.get('slug')!r}"

    # ------------------------------------------------------------------ check / diff

    def validate(self, news: Mapping[str, Any]) -> list[CheckFailure]:
        failures: list[CheckFailure] = []
        upstream = news.get("upstream_unit_id")
        if news.get("data") in (None, "") and not upstream and not is_unknown(upstream):
            failures.append(
                CheckFailure(
                    "data", "Unit: input 'data' is required unless upstream_unit_id is set"
                )
            )
        pin = news.get("upstream_revision_num")
        if pin and not is_unknown(pin) and not upstream:
            failures.append(
                CheckFailure(
                    "upstream_revision_num",
                    "Unit: 'upstream_revision_num' needs 'upstream_unit_id'",
                )
            )
        timeout = news.get("apply_timeout_seconds")
        if timeout is not None and not is_unknown(timeout) and int(timeout) <= 0:
            failures.append(
                CheckFailure("apply_timeout_seconds", "Unit: 'apply_timeout_seconds' must be > 0")
            )
        return failures

    def extra_changes(self, olds: Mapping[str, Any], news: Mapping[str, Any]) -> list[str]:
        changes: list[str] = []
        pin = news.get("upstream_revision_num")
        if is_unknown(pin) or (
            pin is not None and int(pin) > int(olds.get("upstream_revision_num") or 0)
        ):
            changes.append("upstream_revision_num")
        if (
            wants_apply(news)
            and not is_unknown(news.get("target_id"))
            and olds.get("live_revision_num") != olds.get("head_revision_num")
        ):
            changes.append("live_revision_num")
        return changes

    # ------------------------------------------------------------------ wire mapping

    def wire_value(self, spec: InputField, value: Any) -> Any:
        if spec.kind == "yaml":
            return encode_data(str(value))
        return super().wire_value(spec, value)

    def create_body(self, props: Mapping[str, Any]) -> dict[str, Any]:
        body = super().create_body(props)
        body.pop("UpstreamUnitID", None)  # read-only: set through the clone query parameters
        body["ToolchainType"] = TOOLCHAIN_TYPE
        if props.get("upstream_unit_id"):
            body.pop("Data", None)  # a clone starts from the upstream's data
        return body

    def declared_from(self, entity: Entity) -> dict[str, Any]:
        out = super().declared_from(entity)
        out["data"] = _as_unit(entity).text
        return out

    def extras(self, entity: Entity, props: Mapping[str, Any]) -> dict[str, Any]:
        unit = _as_unit(entity)
        return {
            "head_revision_num": unit.head_revision_num,
            "live_revision_num": unit.live_revision_num,
            "upstream_revision_num": unit.upstream_revision_num,
        }

    # ------------------------------------------------------------------ lifecycle

    def _timeout(self, props: Mapping[str, Any]) -> float:
        return float(props.get("apply_timeout_seconds") or DEFAULT_APPLY_TIMEOUT)

    def _converge_unit(self, entity: Entity, props: Mapping[str, Any]) -> tuple[UnitEntity, bool]:
        """Upgrade (if the pin rose) and patch to the declared state. Returns (unit, retarget)."""
        unit = _as_unit(entity)
        client = self.client()
        space_id = str(props["space_id"])
        pin = props.get("upstream_revision_num")
        if unit.upstream_unit_id and pin is not None and int(pin) > unit.upstream_revision_num:
            unit = self._upgrade(unit, props)
        patch = self.patch_for(unit, props)
        if patch:
            unit = _as_unit(client.patch(UNIT, space_id, unit.unit_id, patch))
        return unit, "TargetID" in patch

    def _upgrade(self, unit: UnitEntity, props: Mapping[str, Any]) -> UnitEntity:
        """Server-side upgrade to the upstream's head.

        If the three-way merge conflicts (both sides changed the same resource) and the unit
        declares its data, the declared data wins anyway, so the conflict is resolved by first
        resetting the unit to the merge base (the upstream revision it was last upgraded to):
        the upgrade then has no downstream edits to merge, and the declared data is written
        right after. Without declared data the conflict fails the step with the server's reason.
        """
        client = self.client()
        space_id = str(props["space_id"])
        try:
            return client.upgrade_unit(space_id, unit.unit_id)
        except ConflictError as exc:
            if props.get("data") in (None, ""):
                raise ConfigHubError(
                    f"upgrade of unit {unit.slug!r} ({unit.unit_id}) conflicts and the unit "
                    f"declares no data to resolve it with: {exc.message}"
                ) from exc
        upstream_id = str(unit.upstream_unit_id)
        upstream_space = unit.upstream_space_id or client.find_unit(upstream_id).space_id
        merge_base = client.get_revision(
            str(upstream_space), upstream_id, unit.upstream_revision_num
        )
        client.patch(UNIT, space_id, unit.unit_id, {"Data": merge_base.data or ""})
        return client.upgrade_unit(space_id, unit.unit_id)

    def _apply_if_needed(
        self, unit: UnitEntity, props: Mapping[str, Any], retarget: bool
    ) -> UnitEntity:
        if not wants_apply(props) or not unit.target_id:
            return unit
        if not retarget and unit.live_revision_num == unit.head_revision_num > 0:
            return unit
        what = f"apply of unit {unit.slug!r} ({unit.unit_id}, revision {unit.head_revision_num})"
        self._run_operation("apply", unit, props, what)
        return _as_unit(self.client().get(UNIT, str(props["space_id"]), unit.unit_id))

    def _run_operation(
        self, action: str, unit: UnitEntity, props: Mapping[str, Any], what: str
    ) -> None:
        """Queue apply/destroy for the unit's worker and wait until it reports the outcome."""
        client = self.client()
        space_id = str(props["space_id"])
        queue = client.apply_unit if action == "apply" else client.destroy_unit
        try:
            op = queue(space_id, unit.unit_id)
        except ApiError as exc:
            raise OperationFailedError(f"{what} was refused: {exc}") from exc
        wait_for(client, space_id, unit.unit_id, op, what=what, timeout=self._timeout(props))

    def create(self, props: dict[str, Any]) -> CreateResult:
        client = self.client()
        space_id = str(props["space_id"])
        params: dict[str, str] | None = None
        upstream = props.get("upstream_unit_id")
        if upstream:
            upstream_unit = client.find_unit(str(upstream))
            params = {
                "upstream_space_id": str(upstream_unit.space_id),
                "upstream_unit_id": str(upstream),
            }
        entity, _adopted = client.create_or_adopt(
            UNIT, space_id, self.create_body(props), is_ours=is_managed, params=params
        )
        unit, retarget = self._converge_unit(entity, props)
        try:
            unit = self._apply_if_needed(unit, props, retarget)
        except OperationFailedError as exc:
            raise OperationFailedError(f"{exc}; {self._roll_back(unit, props)}") from exc
        return CreateResult(unit.unit_id, self.outputs(unit, props))

    def _roll_back(self, unit: UnitEntity, props: Mapping[str, Any]) -> str:
        """Undo a create whose apply failed, and say how that went.

        A Python dynamic provider cannot report a partially created resource, so the engine
        records nothing for a failed create: left in place, the unit would be an orphan that
        `pulumi destroy` never removes. Rolling back keeps "create failed" meaning "nothing
        created"; the failure's reason is in the error.
        """
        try:
            # destroy even though nothing went live: a failed apply may have created objects
            if unit.target_id:
                self._destroy(unit, props)
            self.client().delete(UNIT, str(props["space_id"]), unit.unit_id)
        except NotFoundError:
            pass
        except ConfigHubError as exc:
            return (
                f"rolling back also failed ({exc}); the unit is left in place and the next "
                "`pulumi up` adopts it"
            )
        return (
            "rolled back: its objects were destroyed and the unit deleted; "
            "fix the cause and run `pulumi up` again"
        )

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        unit, retarget = self._converge_unit(self._get_existing(_id, news), news)
        unit = self._apply_if_needed(unit, news, retarget)
        return UpdateResult(self.outputs(unit, news))

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        client = self.client()
        space_id = str(_props["space_id"])
        try:
            unit = _as_unit(client.get(UNIT, space_id, _id))
        except NotFoundError:
            return
        if unit.target_id and (unit.live_revision_num > 0 or unit.last_applied_revision_num > 0):
            self._destroy(unit, _props)
        client.delete(UNIT, space_id, _id)

    def _destroy(self, unit: UnitEntity, props: Mapping[str, Any]) -> None:
        """Destroy the unit's objects on its target and wait until the worker reports it."""
        self._run_operation(
            "destroy", unit, props, f"destroy of unit {unit.slug!r} ({unit.unit_id})"
        )


class Unit(pulumi.dynamic.Resource, module="confighub", name="Unit"):
    """A unit of configuration (Kubernetes YAML) in a space, optionally applied to a target."""

    space_id: pulumi.Output[str]
    slug: pulumi.Output[str]
    data: pulumi.Output[str]
    labels: pulumi.Output[dict[str, str]]
    annotations: pulumi.Output[dict[str, str]]
    target_id: pulumi.Output[str | None]
    upstream_unit_id: pulumi.Output[str | None]
    upstream_revision_num: pulumi.Output[int]
    apply: pulumi.Output[bool | None]
    apply_timeout_seconds: pulumi.Output[int | None]
    unit_id: pulumi.Output[str]
    head_revision_num: pulumi.Output[int]
    live_revision_num: pulumi.Output[int]

    def __init__(
        self,
        resource_name: str,
        args: UnitArgs | None = None,
        opts: pulumi.ResourceOptions | None = None,
        **kwargs: Unpack[UnitArgs],
    ) -> None:
        props = resource_props(UnitProvider, resource_name, args, kwargs, opts)
        super().__init__(UnitProvider(), resource_name, props, opts)
