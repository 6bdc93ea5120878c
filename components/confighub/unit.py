"""ConfigHub Unit as a Pulumi resource (`pulumi-python:dynamic/confighub:Unit`).

What the stack owns of a unit is what it declares, and nothing else:
- `data` (YAML text, multi-document allowed) declares the whole content: source units (the
  base units, the code's output). Diffs compare parsed documents, so formatting never writes;
- `fields` declares only some values inside the data (`fields.py` path language): downstream
  units, whose content comes from their upstream. State, refresh and diff cover only those
  paths (read extracts them from ConfigHub's current data), so a ConfigHub-side change
  anywhere else (a function, a restore, a push-upgrade) is invisible to Pulumi and survives
  `up` with zero writes; a change to a declared field shows as a diff of `fields` naming the
  field, and `up` writes exactly that path onto ConfigHub's current data (one revision);
- a unit with `upstream_unit_id` is created as a clone of that upstream unit (the upstream's
  space is looked up). `upstream_revision_num` is the promotion pin: when it changes, the
  provider merges the upstream's change from the revision the unit holds now
  (`UpstreamRevisionNum`) to the pin, older or newer (`PATCH ?merge_source&merge_base&
  merge_end`), keeping the unit's own edits; state keeps the pin as declared, so a
  push-upgrade done in ConfigHub is not undone. A conflicting merge is retried once after
  resetting the declared fields to the upstream's values (they are re-declared right after);
- after a write, if the unit has a target and `apply` (default: true when a target is set), the
  unit is applied and the step waits (`apply_timeout_seconds`, default 300) until the worker
  reports Completed; failure or timeout fails the step with the unit's slug and the reason. A
  failed apply during create is rolled back (destroy, delete: the engine records nothing for a
  failed create, so anything left would be an orphan); a unit whose live revision lags its head
  (a failed update, or a change made in ConfigHub but not applied) is applied on next up;
- delete destroys the unit's resources first (if it was ever applied), then deletes it.
- Pulumi import cannot work for dynamic resources (the engine reads an imported resource without
  its serialized provider): the `import_` option is refused (`resource.IMPORT_REFUSAL`) and the
  bare `pulumi import` command fails. To take over an existing unit run
  `python -m components.confighub adopt unit <space_id> <slug> --owner <project>/<stack>`,
  then `pulumi up` adopts it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, ClassVar, NotRequired, Required

import pulumi
import pulumi.dynamic
from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    ConfigureRequest,
    CreateResult,
    UpdateResult,
)
from typing_extensions import TypedDict, Unpack

from . import fields as yfields
from .base import EntityProvider, InputField, is_unknown, normalise
from .errors import ApiError, ConfigHubError, ConflictError, NotFoundError, OperationFailedError
from .kinds import UNIT
from .models import Entity, encode_data
from .models import Unit as UnitEntity
from .operations import wait_for
from .resource import resource_props
from .unit_listing import SPACE_UNITS
from .yamldata import DataError, images, same_data

TOOLCHAIN_TYPE = "Kubernetes/YAML"
DEFAULT_APPLY_TIMEOUT = 300


class UnitArgs(TypedDict, total=False):
    space_id: Required[pulumi.Input[str]]
    slug: Required[pulumi.Input[str]]
    data: NotRequired[pulumi.Input[str]]
    fields: NotRequired[pulumi.Input[Mapping[str, Any]]]
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


# Set by `traderx dr rebuild` for the first `up` of several environments: the units are
# written (the state gets the restored IDs the downstream stacks read) but not applied; the next
# `up` applies them, since live != head shows as a change (`extra_changes`).
DEFER_APPLY_ENV = "TRADERX_DEFER_APPLY"


def wants_apply(props: Mapping[str, Any]) -> bool:
    """`apply` defaults to true when a target is set."""
    if not props.get("target_id"):
        return False
    flag = props.get("apply")
    return True if flag is None else bool(flag)


class UnitProvider(EntityProvider):
    kind = UNIT
    id_output = "unit_id"
    extra_outputs = ("head_revision_num", "live_revision_num", "images")
    fields: ClassVar[dict[str, InputField]] = {
        "space_id": InputField("SpaceID", required=True, replace=True),
        "slug": InputField("Slug", required=True, replace=True, slug=True),
        "data": InputField("Data", "yaml", server_default=True),
        "fields": InputField(None, "map", server_default=True),
        "labels": InputField("Labels", "map"),
        "annotations": InputField("Annotations", "map"),
        "target_id": InputField("TargetID"),
        "upstream_unit_id": InputField("UpstreamUnitID", replace=True, server_default=True),
        "upstream_revision_num": InputField(None, "int", compare=False),
        # computed by check (never declared): the data this step leaves in ConfigHub, for the
        # policy pack, and what a promotion changes in it, for the preview
        "planned_data": InputField(None, "yaml", compare=False),
        "promotion": InputField(None, "map", compare=False),
        "apply": InputField(None, "bool", compare=False),
        "apply_timeout_seconds": InputField(None, "int", compare=False),
    }

    def configure(self, req: ConfigureRequest) -> None:
        """In the engine's provider process, checks plan from one listing per space
        (`unit_listing`). Tests that configure a provider in-process reset it afterwards."""
        super().configure(req)
        SPACE_UNITS.enable()

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
        if pin is not None and not is_unknown(pin) and int(pin) < 0:
            failures.append(
                CheckFailure("upstream_revision_num", "Unit: 'upstream_revision_num' must be >= 0")
            )
        declared = news.get("fields")
        if declared and not is_unknown(declared):
            try:
                values = yfields.decode(declared)
                if news.get("data") not in (None, "") and not is_unknown(news.get("data")):
                    yfields.apply(str(news["data"]), values)
            except yfields.FieldError as exc:
                failures.append(CheckFailure("fields", f"Unit: input 'fields': {exc}"))
        timeout = news.get("apply_timeout_seconds")
        if timeout is not None and not is_unknown(timeout) and int(timeout) <= 0:
            failures.append(
                CheckFailure("apply_timeout_seconds", "Unit: 'apply_timeout_seconds' must be > 0")
            )
        return failures

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        """Field values become canonical JSON text (spelling never makes a diff); a unit that
        declares only fields also gets `planned_data` and `promotion` (see `_plan`)."""
        news = {k: v for k, v in news.items() if k not in ("planned_data", "promotion")}
        result = super().check(_olds, news)
        declared = news.get("fields")
        if result.failures or not declared or is_unknown(declared):
            return result
        news = {**news, "fields": yfields.encode(yfields.decode(declared))}
        try:
            news.update(self._plan(_olds, news))
        except NotFoundError as exc:
            return CheckResult(news, [CheckFailure("upstream_revision_num", str(exc))])
        return CheckResult(news, [])

    def _plan(self, olds: Mapping[str, Any], news: Mapping[str, Any]) -> dict[str, Any]:
        """What this step will leave in ConfigHub, computed by reading (and a dry-run merge;
        in the engine's provider process the unit comes from one listing of its space per run,
        `unit_listing`):

        - `planned_data`: the unit's data after the promotion (if any) with the declared fields
          written: what the policy pack judges, since the stack declares only fields;
        - `promotion`: when the pin changes, each path the promotion changes, `old → new`, so
          the preview shows what the promotion brings, not only that the pin moved.
        Nothing is planned while the upstream, the pin or the slug is unknown; a unit whose
        space is not known yet (a first preview) is planned as a create.
        """
        upstream, raw_pin = news.get("upstream_unit_id"), news.get("upstream_revision_num")
        space_id, slug = news.get("space_id"), news.get("slug")
        if not upstream or any(is_unknown(v) for v in (upstream, raw_pin, slug)):
            return {}
        pin = None if raw_pin is None else int(raw_pin)
        client = self.client()
        known_space = space_id and not is_unknown(space_id)  # unknown: a first preview
        existing = SPACE_UNITS.find(client, str(space_id), str(slug)) if known_space else None
        unit = _as_unit(existing) if existing is not None else None
        if unit is not None and unit.upstream_unit_id == str(upstream):
            current = unit.text
            moved = pin is not None and pin != int(olds.get("upstream_revision_num") or 0)
            if pin is not None and moved and pin != unit.upstream_revision_num:
                try:
                    merged = client.merge_unit(
                        str(space_id), unit.unit_id, str(upstream),
                        unit.upstream_revision_num, pin, dry_run=True,
                    ).text  # fmt: skip
                except ConflictError as exc:
                    return {"promotion": {"(conflict)": exc.message}}
            else:
                merged = current
        else:  # a create: the clone starts from the upstream at the pin (else at its head)
            source = client.find_unit(str(upstream))
            current = ""
            merged = (
                client.get_revision(str(source.space_id), str(upstream), pin).text
                if pin is not None
                else source.text
            )
        planned = self._with_fields(merged, news)
        plan: dict[str, Any] = {"planned_data": planned}
        if current and merged != current:
            plan["promotion"] = yfields.changes_between(current, merged)
        return plan

    def extra_changes(self, olds: Mapping[str, Any], news: Mapping[str, Any]) -> list[str]:
        changes: list[str] = []
        pin = news.get("upstream_revision_num")
        if is_unknown(pin) or (
            pin is not None and int(pin) != int(olds.get("upstream_revision_num") or 0)
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
        elif props.get("fields") and "Data" in body:
            body["Data"] = encode_data(self._with_fields(str(props["data"]), props))
        return body

    def declared_from(self, entity: Entity) -> dict[str, Any]:
        out = super().declared_from(entity)
        out["data"] = _as_unit(entity).text
        return out

    @staticmethod
    def _with_fields(text: str, props: Mapping[str, Any]) -> str:
        declared = props.get("fields")
        if not declared:
            return text
        return yfields.apply(text, yfields.decode(declared))

    def patch_for(self, entity: Entity, props: Mapping[str, Any]) -> dict[str, Any]:
        """The generic patch, plus Data when a declared field differs from ConfigHub's data:
        exactly those paths are written onto the current data (or onto declared `data`)."""
        patch = super().patch_for(entity, props)
        if not props.get("fields"):
            return patch
        unit = _as_unit(entity)
        declared_data = props.get("data")
        text = str(declared_data) if declared_data not in (None, "") else unit.text
        wanted = self._with_fields(text, props)
        if not same_data(wanted, unit.text):
            patch["Data"] = encode_data(wanted)
        elif "Data" in patch:
            del patch["Data"]
        return patch

    def extras(self, entity: Entity, props: Mapping[str, Any]) -> dict[str, Any]:
        unit = _as_unit(entity)
        text = unit.text
        try:
            found = images(text)
        except DataError:
            found = {}
        out: dict[str, Any] = {
            "head_revision_num": unit.head_revision_num,
            "live_revision_num": unit.live_revision_num,
            "images": found,
        }
        declared = props.get("fields")
        if declared and not is_unknown(declared):
            try:
                current = yfields.encode(yfields.extract(text, declared))
            except yfields.FieldError:
                current = {}
            # the declared spelling where equal, so refresh shows only real differences
            out["fields"] = {
                k: declared[k]
                if normalise("str", current.get(k)) == normalise("str", declared[k])
                else current.get(k, "null")
                for k in declared
            }
        return out

    # ------------------------------------------------------------------ lifecycle

    def _timeout(self, props: Mapping[str, Any]) -> float:
        return float(props.get("apply_timeout_seconds") or DEFAULT_APPLY_TIMEOUT)

    def _converge_unit(
        self, entity: Entity, props: Mapping[str, Any], promote: bool
    ) -> tuple[UnitEntity, bool]:
        """Promote (if the pin changed) and patch to the declared state. (unit, retarget)."""
        unit = _as_unit(entity)
        pin = props.get("upstream_revision_num")
        if (
            promote
            and unit.upstream_unit_id
            and pin is not None
            and int(pin) != unit.upstream_revision_num
        ):
            unit = self._merge_to(unit, int(pin), props)
        patch = self.patch_for(unit, props)
        if patch:
            unit = _as_unit(self.client().patch(UNIT, str(props["space_id"]), unit.unit_id, patch))
        return unit, "TargetID" in patch

    def _merge_to(self, unit: UnitEntity, pin: int, props: Mapping[str, Any]) -> UnitEntity:
        """Merge the upstream's change from the unit's upstream revision to `pin` (either way).

        On a conflict (the range changes a value the unit also changed), the unit's declared
        fields are first set to the upstream's values at the merge base, which takes them out
        of the conflict; the merge is retried and the fields are declared again right after.
        A conflict on anything else (an edit made in ConfigHub) fails the step with the
        server's reason: resolve it in ConfigHub, then run `up` again.
        """
        client = self.client()
        space_id = str(props["space_id"])
        upstream_id = str(unit.upstream_unit_id)
        base = unit.upstream_revision_num
        try:
            return client.merge_unit(space_id, unit.unit_id, upstream_id, base, pin)
        except ConflictError as exc:
            declared = props.get("fields")
            if not declared:
                raise ConfigHubError(
                    f"promotion of unit {unit.slug!r} ({unit.unit_id}) to upstream revision "
                    f"{pin} conflicts: {exc.message}"
                ) from exc
            first = exc
        upstream_space = unit.upstream_space_id or client.find_unit(upstream_id).space_id
        at_base = client.get_revision(str(upstream_space), upstream_id, base).text
        reset = yfields.apply(unit.text, yfields.extract(at_base, declared))
        if not same_data(reset, unit.text):
            client.patch(UNIT, space_id, unit.unit_id, {"Data": encode_data(reset)})
        try:
            return client.merge_unit(space_id, unit.unit_id, upstream_id, base, pin)
        except ConflictError as exc:
            raise ConfigHubError(
                f"promotion of unit {unit.slug!r} ({unit.unit_id}) to upstream revision {pin} "
                f"conflicts outside the fields this stack declares: {exc.message} (first: "
                f"{first.message}); resolve it in ConfigHub, then run `pulumi up` again"
            ) from exc

    def _apply_if_needed(
        self, unit: UnitEntity, props: Mapping[str, Any], retarget: bool
    ) -> UnitEntity:
        if not wants_apply(props) or not unit.target_id or os.environ.get(DEFER_APPLY_ENV) == "1":
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
            UNIT, space_id, self.create_body(props), params=params, **self.adoption(props)
        )
        unit, retarget = self._converge_unit(entity, props, promote=True)
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
        pin, old_pin = news.get("upstream_revision_num"), _olds.get("upstream_revision_num")
        promote = pin is not None and int(pin) != int(old_pin or 0)
        unit, retarget = self._converge_unit(self._get_existing(_id, news), news, promote)
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
    fields: pulumi.Output[dict[str, str]]
    images: pulumi.Output[dict[str, str]]
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
