"""Every promotion into an environment is a release (`pulumi-python:dynamic/confighub:Release`).

One `Release` resource per downstream environment, declared after all of its units. Its input
`pins` is the stack's `traderx:promote`; when the pins change (a promotion, or a rollback that
puts earlier pins back), the step runs after every unit has been merged and applied, and records
the release in ConfigHub (`releases.record_release`: a ChangeSet, a Tag on every unit's head
revision). Name, description and source come from `traderx:release.*` and are read only when a
release is made, so changing them alone changes nothing.

`check` refuses, before anything changes: a `source` that names no existing release (for a
promotion, a release of the upstream environment whose tagged revisions the pins must equal;
for a rollback, one of this environment's own releases with the same pins), and an explicit
name that is already taken. It also computes `source_verified`, which the prod gate requires.
The releases stay in ConfigHub as history; destroying the stack removes them with the space.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NotRequired, Required

import pulumi
import pulumi.dynamic
from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    ConfigureRequest,
    CreateResult,
    DiffResult,
    ReadResult,
    ResourceProvider,
    UpdateResult,
)
from typing_extensions import TypedDict, Unpack

from . import connection
from .base import MANAGED_BY_KEY, OWNER_INPUT, is_unknown, marker, owner_in
from .base import shared_client as get_client
from .errors import ApiError, ConfigHubError, NotFoundError
from .releases import check_source, delete_releases, find_release, list_releases, record_release
from .reporting import ReportsErrors, quiet_tracebacks

INPUTS = (
    "space_id", "environment", "pins", "services", "name", "description", "source",
    "upstream_space_id", "unit_ids",
)  # fmt: skip
OUTPUTS = ("release", "change_set_id", "tag_id", "source_kind", "source_verified", "changed")


class ReleaseArgs(TypedDict, total=False):
    space_id: Required[pulumi.Input[str]]
    environment: Required[str]
    pins: Required[pulumi.Input[Mapping[str, int]]]
    services: NotRequired[pulumi.Input[Mapping[str, Any]]]
    name: NotRequired[str | None]
    description: NotRequired[str]
    source: NotRequired[str | None]
    upstream_space_id: NotRequired[pulumi.Input[str]]
    unit_ids: NotRequired[pulumi.Input[Mapping[str, pulumi.Input[str]]]]


def _pins(value: Any) -> dict[str, int]:
    return {str(k): int(v) for k, v in dict(value or {}).items()}


class ReleaseProvider(ReportsErrors, ResourceProvider):
    """Records releases; holds no client or token (they come from `configure`)."""

    def configure(self, req: ConfigureRequest) -> None:
        quiet_tracebacks()
        connection.configure_from_config(req.config)

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        news = {k: v for k, v in news.items() if k not in OUTPUTS}
        if any(is_unknown(news.get(k)) for k in ("space_id", "pins", "upstream_space_id")):
            return CheckResult(news, [])
        pins = _pins(news.get("pins"))
        changed = bool(pins) and pins != _pins(_olds.get("pins"))
        news["changed"] = changed
        news["source_kind"], news["source_verified"] = "", False
        source = news.get("source")
        if not changed:
            return CheckResult(news, [])
        client = get_client()
        failures: list[CheckFailure] = []
        space_id = str(news["space_id"])
        own = list_releases(client, space_id)
        name = news.get("name")
        if name and name in [r.name for r in own]:
            failures.append(
                CheckFailure(
                    "name",
                    f"traderx:release.name = {name!r}: that release already exists in "
                    f"{news.get('environment')} (releases: {', '.join(r.name for r in own)}); "
                    "choose another name, or unset it for the default name",
                )
            )
        if source:
            mine = next((r for r in own if r.name == source), None)
            if mine is not None:  # a rollback to one of this environment's releases
                news["source_kind"] = "rollback"
                problem = check_source(mine, source, "this environment", [], pins, mine.pins)
            else:
                news["source_kind"] = "upstream"
                upstream = str(news.get("upstream_space_id") or "")
                theirs = list_releases(client, upstream) if upstream else []
                found = next((r for r in theirs if r.name == source), None)
                # the units this promotion moves must hold what that release tagged
                old = _pins(_olds.get("pins"))
                moved = {c: p for c, p in pins.items() if old.get(c) != p}
                problem = check_source(
                    found, source, "the upstream environment or this one",
                    [r.name for r in theirs] + [r.name for r in own], moved,
                    found.units if found else {},
                )  # fmt: skip
            if problem:
                failures.append(CheckFailure("source", f"traderx:release.source: {problem}"))
            else:
                news["source_verified"] = True
        return CheckResult(news, failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        if is_unknown(news.get("pins")) or is_unknown(news.get("space_id")):
            return DiffResult(changes=True)
        replace = ["space_id"] if str(olds.get("space_id")) != str(news.get("space_id")) else []
        return DiffResult(
            changes=bool(replace) or _pins(olds.get("pins")) != _pins(news.get("pins")),
            replaces=replace,
        )

    def _record(self, props: Mapping[str, Any], old_pins: dict[str, int]) -> dict[str, Any]:
        pins = _pins(props.get("pins"))
        out: dict[str, Any] = {k: props.get(k) for k in INPUTS}
        out[OWNER_INPUT] = props.get(OWNER_INPUT)
        for k in OUTPUTS:
            out[k] = props.get(k)
        if not pins or pins == old_pins:
            return out
        promoted = sorted(c for c, p in pins.items() if old_pins.get(c) != p)
        try:
            release = record_release(
                get_client(),
                space_id=str(props["space_id"]),
                environment=str(props["environment"]),
                name=props.get("name") or None,
                description=str(props.get("description") or ""),
                pins=pins,
                services=dict(props.get("services") or {}),
                promoted=promoted,
                source=str(props.get("source") or ""),
                kind="rollback" if props.get("source_kind") == "rollback" else "promotion",
                stack=str(owner_in(props) or ""),
                owner_annotations={MANAGED_BY_KEY: marker(owner_in(props))},
            )
        except ValueError as exc:
            raise ConfigHubError(str(exc)) from exc
        out.update(release=release.name, change_set_id=release.change_set_id, tag_id=release.tag_id)
        return out

    def create(self, props: dict[str, Any]) -> CreateResult:
        # Idempotent create: a release record already in the space whose pins are the declared
        # ones (the state was lost, or the space was restored from a backup with new IDs) is
        # adopted, not recorded a second time under the next default name.
        pins = _pins(props.get("pins"))
        found = list_releases(get_client(), str(props["space_id"])) if pins else []
        latest = found[-1] if found else None
        if (
            latest is not None
            and latest.pins == pins
            and props.get("name") in (None, "", latest.name)
        ):
            out = self._record(props, pins)
            out.update(
                release=latest.name, change_set_id=latest.change_set_id, tag_id=latest.tag_id
            )
        else:
            out = self._record(props, {})
        return CreateResult(f"release-{props['space_id']}", out)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        out = self._record(news, _pins(olds.get("pins")))
        if out.get("release") is None:
            out.update({k: olds.get(k) for k in ("release", "change_set_id", "tag_id")})
        return UpdateResult(out)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        try:
            get_client().request("GET", f"/space/{props.get('space_id')}")
        except NotFoundError:
            return ReadResult(None, {})
        return ReadResult(id_, props)

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        try:
            delete_releases(get_client(), str(props["space_id"]))
        except NotFoundError:
            return
        except ApiError as exc:
            if exc.status != 404:
                raise


class Release(pulumi.dynamic.Resource, module="confighub", name="Release"):
    """The environment's release record (see the module docstring)."""

    release: pulumi.Output[str | None]
    change_set_id: pulumi.Output[str | None]
    tag_id: pulumi.Output[str | None]

    def __init__(
        self,
        resource_name: str,
        args: ReleaseArgs | None = None,
        opts: pulumi.ResourceOptions | None = None,
        **kwargs: Unpack[ReleaseArgs],
    ) -> None:
        merged: dict[str, Any] = {**dict(args or {}), **dict(kwargs)}
        unknown = sorted(set(merged) - set(INPUTS))
        if unknown:
            raise TypeError(f"Release {resource_name!r}: unknown input(s) {unknown}")
        for name in (*INPUTS, *OUTPUTS):
            merged.setdefault(name, None)
        merged[OWNER_INPUT] = f"{pulumi.get_project()}/{pulumi.get_stack()}"
        super().__init__(ReleaseProvider(), resource_name, merged, opts)


__all__ = ["Release", "ReleaseProvider", "find_release"]
