"""The shared lifecycle of every ConfigHub dynamic provider.

Each resource module declares its inputs as `InputField`s (wire name, value kind, whether a change
replaces the object) and gets from `EntityProvider`:

- check: required inputs present, values of the right type (unknown preview values skipped);
- diff: exact and stable - values are compared in a normal form (None/""/{} are equal, JSON and
  YAML compared semantically), so a no-op `pulumi up` writes nothing; slug and space replace,
  and a replacement that keeps slug and space deletes the old object first (else the create
  would adopt it by slug and the engine's delete of the old resource would then delete it);
- create: idempotent. An object with the same slug is adopted only if it carries this stack's
  managed-by marker (`MANAGED_BY_KEY: marker("<project>/<stack>")`, written on every object a
  stack creates; the `owner` input names the stack), and then patched to the declared state;
  any other same-slug object fails the step naming its owner;
- read: 404 -> gone; otherwise the server's values (refresh shows out-of-band edits, and because
  diff compares against these outputs the next `up` restores the declared state);
- update: read the current object, merge-patch only what differs (map keys removed with null);
- delete: already-gone is success.

Provider instances carry no state (they are pickled into Pulumi state); the connection comes from
`connection` / `client.get_client()` inside the provider process, imported on the first call
(`shared_client`) or by the warm-up that `configure` starts (`warm_up`), so the program process
never loads the HTTP client.
"""

from __future__ import annotations

import atexit
import gc
import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

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
from pulumi.output import Unknown
from pulumi.runtime.rpc import UNKNOWN
from pydantic import TypeAdapter, ValidationError

from . import connection
from .errors import ConfigHubError, NotFoundError
from .kinds import EntityKind
from .models import Entity
from .reporting import ReportsErrors, quiet_tracebacks
from .yamldata import canonical, documents

if TYPE_CHECKING:
    from .client import ConfigHubClient

MANAGED_BY_KEY = "pulumi.com/managed-by"
MANAGED_BY_VALUE = "traderx-confighub"
PROVIDER_KEY = "__provider"
OWNER_INPUT = "owner"  # set on every resource by resource_props: "<project>/<stack>"

SLUG_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"

FieldKind = Literal["str", "map", "json", "yaml", "int", "bool"]

_ADAPTERS: dict[str, TypeAdapter[Any]] = {
    "str": TypeAdapter(str),
    "map": TypeAdapter(dict[str, str]),
    "int": TypeAdapter(int),
    "bool": TypeAdapter(bool),
}


@dataclass(frozen=True)
class InputField:
    """One resource input and how it maps to the API.

    api: PascalCase wire name, or None for provider-only options (e.g. `apply`).
    replace: the server cannot change it in place (slug, space) - a change replaces the object.
    server_default: when undeclared (None) the server's value is accepted without a diff.
    compare: take part in diff at all.
    """

    api: str | None
    kind: FieldKind = "str"
    required: bool = False
    replace: bool = False
    server_default: bool = False
    compare: bool = True
    slug: bool = False


def is_unknown(value: Any) -> bool:
    """True if a preview value (or anything inside it) is not known yet.

    The engine hands a dynamic provider either the wire sentinel string or, after
    deserialisation during a preview, a `pulumi.output.Unknown` object: both mean "not known".
    """
    if isinstance(value, Unknown):
        return True
    if isinstance(value, str):
        return value == UNKNOWN
    if isinstance(value, Mapping):
        return any(is_unknown(v) for v in value.values())
    if isinstance(value, list | tuple):
        return any(is_unknown(v) for v in value)
    return False


def normalise(kind: FieldKind, value: Any) -> Any:
    """The comparison form of a value: equal normal forms mean "no change"."""
    if kind == "map":
        return {str(k): "" if v is None else str(v) for k, v in sorted(dict(value or {}).items())}
    if kind == "json":
        if value in (None, ""):
            return None
        parsed = json.loads(value) if isinstance(value, str) else value
        if parsed in ({}, None):
            return None  # "{}", {} and "" all mean "no parameters"
        return json.dumps(parsed, sort_keys=True, separators=(",", ":"))
    if kind == "yaml":
        return canonical(value)
    if kind == "int":
        return int(value or 0)
    if kind == "bool":
        return bool(value)
    return "" if value is None else str(value)


def marker(owner: str | None) -> str:
    """The managed-by value naming the stack that owns an object (`traderx-confighub:<p>/<s>`).

    Per stack, so two stacks in one organization never adopt, overwrite or delete each other's
    objects. Without an owner (state written before owners existed) the bare program name.
    """
    return f"{MANAGED_BY_VALUE}:{owner}" if owner else MANAGED_BY_VALUE


def owner_of(entity: Entity) -> str | None:
    """Who manages the object, as its marker says (None: not managed by any stack of ours)."""
    value = entity.annotations.get(MANAGED_BY_KEY)
    if not value:
        return None
    return value.removeprefix(MANAGED_BY_VALUE + ":") if value != MANAGED_BY_VALUE else value


def is_managed(entity: Entity, owner: str | None = None) -> bool:
    """The adoption rule: only objects this stack created (its marker) are adopted."""
    return entity.annotations.get(MANAGED_BY_KEY) == marker(owner)


def refusal_for(
    kind: EntityKind, space_id: str | None, owner: str | None
) -> Callable[[Entity], str]:
    """The message for a same-slug object that is not this stack's, naming its owner."""

    def message(entity: Entity) -> str:
        other = owner_of(entity)
        held = (
            f"is managed by another stack, {other}"
            if other
            else "is not managed by this Pulumi program (no managed-by marker)"
        )
        me = owner or "<project>/<stack>"
        return (
            f"{kind.name} {entity.slug!r} already exists ({entity.id}) and {held}; this stack "
            f"({me}) adopts only its own objects. Use another traderx:prefix, take it over with "
            f"`python -m components.confighub adopt {kind.segment} {space_id or '-'} "
            f"{entity.slug} --owner {me}`, or delete it first"
        )

    return message


def owner_in(props: Mapping[str, Any]) -> str | None:
    """The owning stack (`<project>/<stack>`) a resource was declared by (input `owner`)."""
    value = props.get(OWNER_INPUT)
    return str(value) if value and not is_unknown(value) else None


def without_managed(annotations: Mapping[str, str] | None) -> dict[str, str]:
    return {k: v for k, v in (annotations or {}).items() if k != MANAGED_BY_KEY}


def map_patch(current: Mapping[str, str], desired: Mapping[str, str]) -> dict[str, str | None]:
    """Merge-patch turning `current` into exactly `desired` (removed keys become null)."""
    patch: dict[str, str | None] = {k: v for k, v in desired.items() if current.get(k) != v}
    patch.update({k: None for k in current if k not in desired})
    return patch


class EntityProvider(ReportsErrors, ResourceProvider):
    """Generic provider for a space-scoped ConfigHub entity; subclasses set the class vars."""

    kind: ClassVar[EntityKind]
    id_output: ClassVar[str]
    fields: ClassVar[dict[str, InputField]]
    extra_outputs: ClassVar[tuple[str, ...]] = ()

    # ------------------------------------------------------------------ hooks

    def configure(self, req: ConfigureRequest) -> None:
        quiet_tracebacks()
        connection.configure_from_config(req.config)
        warm_up()

    def client(self) -> ConfigHubClient:
        return shared_client()

    def space_of(self, props: Mapping[str, Any]) -> str | None:
        """Space ID used in API paths (None for Space itself)."""
        value = props.get("space_id")
        return str(value) if value else None

    def validate(self, news: Mapping[str, Any]) -> list[CheckFailure]:
        """Cross-field checks (override)."""
        return []

    def extra_changes(self, olds: Mapping[str, Any], news: Mapping[str, Any]) -> list[str]:
        """Changes not visible as an input difference (override)."""
        return []

    def describe(self, props: Mapping[str, Any]) -> str:
        return f"{self.kind.name} {props.get('slug')!r}"

    # ------------------------------------------------------------------ check / diff

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures: list[CheckFailure] = []
        for name, spec in self.fields.items():
            value = news.get(name)
            if is_unknown(value):
                continue
            if value is None or (spec.kind == "str" and value == ""):
                if spec.required:
                    failures.append(
                        CheckFailure(name, f"{self.kind.name}: input '{name}' is required")
                    )
                continue
            reason = self._invalid(spec, value)
            if reason:
                failures.append(CheckFailure(name, f"{self.kind.name}: input '{name}' {reason}"))
        if not failures:
            failures.extend(self.validate(news))
        return CheckResult(news, failures)

    @staticmethod
    def _invalid(spec: InputField, value: Any) -> str | None:
        try:
            if spec.kind == "yaml":
                _ADAPTERS["str"].validate_python(value, strict=True)
                documents(value)
            elif spec.kind == "json":
                if isinstance(value, str):
                    json.loads(value)
                elif not isinstance(value, Mapping):
                    return "must be a JSON object or a JSON string"
            else:
                _ADAPTERS[spec.kind].validate_python(value, strict=spec.kind in ("str", "bool"))
            if spec.slug and not _is_slug(value):
                return f"must match {SLUG_PATTERN} (got {value!r})"
        except ValidationError as exc:
            err = exc.errors()[0]
            loc = ".".join(str(p) for p in err.get("loc", ()))
            return f"is invalid{' at ' + loc if loc else ''}: {err.get('msg')}"
        except ValueError as exc:
            return f"is invalid: {exc}"
        return None

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed: list[str] = []
        replaces: list[str] = []
        for name, spec in self.fields.items():
            if not spec.compare:
                continue
            new = news.get(name)
            if is_unknown(new):
                differs = True
            elif new is None and spec.server_default:
                differs = False
            else:
                differs = normalise(spec.kind, olds.get(name)) != normalise(spec.kind, new)
            if differs:
                changed.append(name)
                if spec.replace:
                    replaces.append(name)
        changed.extend(self.extra_changes(olds, news))
        stables = [n for n, s in self.fields.items() if s.replace and n not in replaces]
        return DiffResult(
            changes=bool(changed),
            replaces=replaces,
            stables=stables,
            delete_before_replace=self.keeps_identity(replaces),
        )

    def keeps_identity(self, replaces: list[str]) -> bool:
        """A replacement whose new object has the old one's slug (and space) must delete first.

        Otherwise the create would find the old object by slug and adopt it (skipping the
        replace-only fields), and the engine's delete of the old resource would then delete
        that very object, leaving the new resource pointing at nothing.
        """
        identity = {n for n, s in self.fields.items() if s.slug or n == "space_id"}
        return bool(replaces) and not identity & set(replaces)

    # ------------------------------------------------------------------ wire mapping

    def wire_value(self, spec: InputField, value: Any) -> Any:
        if spec.kind == "map":
            return {str(k): str(v) for k, v in dict(value or {}).items()}
        if spec.kind == "json":
            if value in (None, ""):
                return ""
            return value if isinstance(value, str) else json.dumps(value, sort_keys=True)
        return value

    def create_body(self, props: Mapping[str, Any]) -> dict[str, Any]:
        body: dict[str, Any] = {}
        for name, spec in self.fields.items():
            value = props.get(name)
            if spec.api is None or value is None:
                continue
            body[spec.api] = self.wire_value(spec, value)
        annotations = dict(body.get("Annotations") or {})
        annotations[MANAGED_BY_KEY] = marker(owner_in(props))
        body["Annotations"] = annotations
        return body

    def declared_from(self, entity: Entity) -> dict[str, Any]:
        """The server object in input terms (annotations without our managed-by key)."""
        wire = entity.wire()
        out: dict[str, Any] = {}
        for name, spec in self.fields.items():
            if spec.api is None:
                continue
            value = wire.get(spec.api)
            if spec.api == "Annotations":
                value = without_managed(value)
            elif spec.kind == "map":
                value = dict(value or {})
            out[name] = value
        return out

    def patch_for(self, entity: Entity, props: Mapping[str, Any]) -> dict[str, Any]:
        """Merge-patch that makes `entity` match the declared `props` (empty if it does)."""
        current = self.declared_from(entity)
        patch: dict[str, Any] = {}
        for name, spec in self.fields.items():
            if spec.api is None or spec.replace or not spec.compare:
                continue
            desired = props.get(name)
            if desired is None and spec.server_default:
                continue
            if normalise(spec.kind, current.get(name)) == normalise(spec.kind, desired):
                continue
            if spec.kind == "map":
                patch[spec.api] = map_patch(current.get(name) or {}, dict(desired or {}))
            else:
                patch[spec.api] = self.wire_value(spec, desired)
        owner = owner_in(props)
        if "Annotations" in patch or not is_managed(entity, owner):
            patch.setdefault("Annotations", {})[MANAGED_BY_KEY] = marker(owner)
        return patch

    def outputs(self, entity: Entity, props: Mapping[str, Any]) -> dict[str, Any]:
        """State outputs: the inputs as the server has them now, plus the ID and extras.

        Where the server's value equals the declared one semantically, the declared spelling is
        kept, so refresh never reports formatting-only differences.
        """
        server = self.declared_from(entity)
        outs: dict[str, Any] = {}
        for name, spec in self.fields.items():
            declared = props.get(name)
            if name not in server:
                outs[name] = declared
                continue
            if declared is None and spec.server_default:
                outs[name] = None
            elif normalise(spec.kind, server[name]) == normalise(spec.kind, declared):
                outs[name] = declared
            else:
                outs[name] = server[name]
        outs[self.id_output] = entity.id
        outs[OWNER_INPUT] = owner_in(props)
        outs.update(self.extras(entity, props))
        return outs

    def extras(self, entity: Entity, props: Mapping[str, Any]) -> dict[str, Any]:
        """Outputs beyond inputs and ID (override)."""
        return {}

    # ------------------------------------------------------------------ lifecycle

    def converge(self, entity: Entity, props: Mapping[str, Any]) -> Entity:
        patch = self.patch_for(entity, props)
        if not patch:
            return entity
        return self.client().patch(self.kind, self.space_of(props), entity.id, patch)

    def adoption(self, props: Mapping[str, Any]) -> dict[str, Any]:
        """`create_or_adopt` keywords: adopt only this stack's objects, refuse naming the owner."""
        owner = owner_in(props)
        return {
            "is_ours": lambda e: is_managed(e, owner),
            "refusal": refusal_for(self.kind, self.space_of(props), owner),
        }

    def create(self, props: dict[str, Any]) -> CreateResult:
        entity, adopted = self.client().create_or_adopt(
            self.kind, self.space_of(props), self.create_body(props), **self.adoption(props)
        )
        if adopted:
            entity = self.converge(entity, props)
        return CreateResult(entity.id, self.outputs(entity, props))

    def _get_existing(self, id_: str, props: Mapping[str, Any]) -> Entity:
        try:
            return self.client().get(self.kind, self.space_of(props), id_)
        except NotFoundError as exc:
            raise ConfigHubError(
                f"{self.describe(props)} ({id_}) no longer exists in ConfigHub; "
                f"run `pulumi refresh` so Pulumi recreates it"
            ) from exc

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        entity = self.converge(self._get_existing(_id, news), news)
        return UpdateResult(self.outputs(entity, news))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        props = {k: v for k, v in props.items() if k != PROVIDER_KEY}
        id_, props = self.split_import_id(id_, props)
        try:
            entity = self.client().get(self.kind, self.space_of(props), id_)
        except NotFoundError:
            return ReadResult(None, {})
        outs = self.outputs(entity, props)
        inputs = {name: outs.get(name) for name in self.fields}
        return ReadResult(entity.id, outs, inputs)

    def split_import_id(self, id_: str, props: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """`pulumi import` IDs may be `<space_id>/<id>` when no space_id input is known."""
        if "/" in id_ and "space_id" in self.fields:
            space_id, _, entity_id = id_.partition("/")
            return entity_id, {**props, "space_id": props.get("space_id") or space_id}
        if "space_id" in self.fields and not props.get("space_id"):
            raise ConfigHubError(
                f"cannot read {self.kind.name} {id_}: no space_id input is known; "
                f"give the ID as '<space_id>/{id_}'"
            )
        return id_, props

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        self.client().delete(self.kind, self.space_of(_props), _id)


_warm_lock = threading.Lock()
_warming = False


def warm_up() -> None:
    """Load the HTTP client and build the shared client in a background thread, once per
    provider process (from `configure`, which only the engine's provider host calls).

    The first call that reads ConfigHub otherwise pays for it in the engine's serial chain of
    checks (httpx, httpcore, h11/h2 imports and the client: about 0.1 s); started at the
    first configure, it runs while the provider waits for the engine's next call. Best effort:
    a failure here is ignored, and the first real call reports it.
    """
    global _warming
    with _warm_lock:
        if _warming:
            return
        _warming = True
    atexit.register(gc.freeze)
    threading.Thread(target=_prepare_client, name="confighub-warm-up", daemon=True).start()


def _prepare_client() -> None:
    try:
        shared_client()
        import encodings.idna  # noqa: F401  (the first request encodes the host name with it)
    except Exception:  # best effort, see warm_up
        pass


def shared_client() -> ConfigHubClient:
    """The provider process's client. Imported on first use: the program process, which
    imports every resource module, never needs httpx (about 0.2 s of each `up` and preview)."""
    from .client import get_client

    return get_client()


def _is_slug(value: Any) -> bool:
    import re

    return isinstance(value, str) and re.fullmatch(SLUG_PATTERN, value) is not None
