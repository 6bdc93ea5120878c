"""Typed ConfigHub API client on httpx, following `openapi.json` (paths under `/api`, PascalCase,
base64 unit data, list responses wrapped as `[{"Unit": {...}, ...}]`, merge-patch updates).

Reliability rules, in one place so every provider gets them:
- every call has a timeout;
- idempotent calls (GET, PATCH, DELETE, apply/destroy of the same revision) are retried with
  exponential backoff and jitter on transport errors, 5xx and 429 (honouring `Retry-After`);
- creates are not blindly retried: `create_or_adopt` looks the slug up first and after every failed
  attempt, so a create whose answer was lost is adopted instead of duplicated;
- errors carry the server's message and the failing method + path, never the token;
- each HTTP attempt is counted (see `calls`).
"""

from __future__ import annotations

import email.utils
import json
import random
import re
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential_jitter,
)

from . import calls
from ._httpx import httpx
from .connection import ConnectionSettings, current_settings
from .errors import AdoptionRefusedError, ApiError, ConflictError, NotFoundError
from .kinds import (
    BRIDGE_WORKER,
    CHANGE_SET,
    FILTER,
    LINK,
    SPACE,
    TAG,
    TARGET,
    UNIT,
    EntityKind,
    quote_where,
)
from .models import Entity, QueuedOperation, Revision, Unit, UnitEvent

E = TypeVar("E", bound=Entity)

__all__ = [
    "BRIDGE_WORKER",
    "CHANGE_SET",
    "FILTER",
    "LINK",
    "SPACE",
    "TAG",
    "TARGET",
    "UNIT",
    "ConfigHubClient",
    "EntityKind",
    "get_client",
    "quote_where",
    "writes_sent",
]

_UUIDISH = re.compile(r"/[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")
_MERGE_PATCH = "application/merge-patch+json"


def path_template(path: str) -> str:
    return _UUIDISH.sub("/{id}", path)


def _retry_after(resp: httpx.Response) -> float | None:
    raw = resp.headers.get("Retry-After")
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(raw)
        return max(0.0, parsed.timestamp() - time.time()) if parsed else None


def _server_message(resp: httpx.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        return resp.text[:500] or resp.reason_phrase
    if isinstance(body, dict):
        nested = body.get("Error")
        err: dict[str, Any] = nested if isinstance(nested, dict) else body
        message = str(err.get("Message") or err.get("message") or err.get("detail") or body)
        details = err.get("Details")
        if isinstance(details, list) and details:
            message += " (" + "; ".join(str(d) for d in details) + ")"
        return message[:1000]
    return str(body)[:500]


def _error_for(method: str, path: str, resp: httpx.Response) -> ApiError:
    message = _server_message(resp)
    cls: type[ApiError] = ApiError
    if resp.status_code == 404:
        cls = NotFoundError
    elif resp.status_code == 409:
        cls = ConflictError
    return cls(method, path, resp.status_code, message, retry_after=_retry_after(resp))


_backoff = wait_exponential_jitter(multiplier=0.2, max=4.0, jitter=0.3)


def _wait(state: RetryCallState) -> float:
    exc = state.outcome.exception() if state.outcome else None
    if isinstance(exc, ApiError) and exc.retry_after is not None:
        return min(exc.retry_after, 30.0) + random.uniform(0.0, 0.1)
    return float(_backoff(state))


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, ApiError) and exc.retryable


def _unwrap(item: Any, name: str) -> Any:
    """Extended*/CreateOrUpdate responses wrap the entity under its kind name."""
    if isinstance(item, dict) and isinstance(item.get(name), dict):
        return item[name]
    return item


def _tls_context(base_url: str) -> ssl.SSLContext | bool:
    """Certificate verification for the server: the default (system CAs) for https. A plain
    http server never uses TLS (every path is relative to it and redirects are not followed),
    so it gets a context without CAs, which verifies (and fails) if TLS were ever attempted:
    loading the CA bundle is about 70 ms of every provider process's first call."""
    if base_url.startswith("https://"):
        return True
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


_writes_lock = threading.Lock()
_writes = 0


def _count_write(method: str, params: Mapping[str, Any] | None) -> None:
    """Count an attempted write once its attempt is over (answered or not: either may have
    changed something). A dry run (`dry_run=true`) changes nothing and is not counted."""
    global _writes
    if method.upper() in ("GET", "HEAD") or (params and params.get("dry_run") == "true"):
        return
    with _writes_lock:
        _writes += 1


def writes_sent() -> int:
    """How many write attempts this process has made through any client (monotonic, never
    reset): a read cached while this number stays the same saw every write of this process."""
    with _writes_lock:
        return _writes


class ConfigHubClient:
    """One connection to a ConfigHub server. Thread-safe (httpx.Client is)."""

    def __init__(
        self,
        settings: ConnectionSettings,
        *,
        timeout: float | None = None,
        max_attempts: int = 8,
        retry_deadline: float = 120.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        headers = {"Accept": "application/json", "User-Agent": "traderx-confighub-pulumi/0.1"}
        if settings.token is not None:
            headers["Authorization"] = f"Bearer {settings.token.get_secret_value()}"
        self.base_url = settings.api
        timeout = settings.timeout_seconds if timeout is None else timeout
        self._http = httpx.Client(
            base_url=settings.api,
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            transport=transport,
            verify=_tls_context(settings.api),
        )
        self._max_attempts = max_attempts
        self._retry_deadline = retry_deadline

    def close(self) -> None:
        self._http.close()

    # ------------------------------------------------------------------ transport

    def _retrying(self) -> Retrying:
        return Retrying(
            stop=stop_after_attempt(self._max_attempts) | stop_after_delay(self._retry_deadline),
            wait=_wait,
            retry=retry_if_exception(_retryable),
            reraise=True,
        )

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        content: bytes | None = None,
        content_type: str | None = None,
    ) -> httpx.Response:
        template = path_template(path)
        headers = {"Content-Type": content_type} if content_type else None
        try:
            resp = self._http.request(
                method, path, params=params, json=json_body, content=content, headers=headers
            )
        except httpx.TransportError as exc:
            calls.record(method, template, None)
            _count_write(method, params)
            raise ApiError(method, path, None, f"{type(exc).__name__}: {exc}") from exc
        calls.record(method, template, resp.status_code)
        _count_write(method, params)
        if resp.status_code >= 400:
            raise _error_for(method, path, resp)
        return resp

    def request(
        self,
        method: str,
        path: str,
        *,
        retry: bool = True,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        content: bytes | None = None,
        content_type: str | None = None,
    ) -> Any:
        """Send one API call (retried if `retry`), return the decoded JSON body (or None)."""

        def once() -> httpx.Response:
            return self._send(
                method,
                path,
                params=params,
                json_body=json_body,
                content=content,
                content_type=content_type,
            )

        resp = self._retrying()(once) if retry else once()
        if not resp.content:
            return None
        try:
            return resp.json()
        except ValueError as exc:
            raise ApiError(method, path, resp.status_code, "response is not JSON") from exc

    # ------------------------------------------------------------------ generic entities

    @staticmethod
    def collection_path(kind: EntityKind, space_id: str | None) -> str:
        if not kind.space_scoped:
            return f"/{kind.segment}"
        if space_id is None:
            return f"/{kind.segment}"  # org-wide listing
        return f"/space/{space_id}/{kind.segment}"

    def entity_path(self, kind: EntityKind, space_id: str | None, entity_id: str) -> str:
        return f"{self.collection_path(kind, space_id)}/{entity_id}"

    def list_entities(
        self,
        kind: EntityKind,
        space_id: str | None = None,
        where: str | None = None,
        **params: str,
    ) -> list[Entity]:
        query = dict(params)
        if where:
            query["where"] = where
        body = self.request("GET", self.collection_path(kind, space_id), params=query or None)
        if body is None:
            return []
        if not isinstance(body, list):
            raise ApiError("GET", self.collection_path(kind, space_id), 200, "expected a JSON list")
        return [kind.model.model_validate(_unwrap(item, kind.name)) for item in body]

    def get(self, kind: EntityKind, space_id: str | None, entity_id: str) -> Entity:
        path = self.entity_path(kind, space_id, entity_id)
        return kind.model.model_validate(_unwrap(self.request("GET", path), kind.name))

    def find_by_slug(self, kind: EntityKind, space_id: str | None, slug: str) -> Entity | None:
        """Slug -> entity via `?where=Slug = '...'` (None if absent)."""
        found = self.list_entities(kind, space_id, where=f"Slug = {quote_where(slug)}")
        matches = [e for e in found if e.slug == slug]
        if len(matches) > 1:
            raise ApiError(
                "GET",
                self.collection_path(kind, space_id),
                200,
                f"{len(matches)} {kind.name} objects share slug {slug!r}",
            )
        return matches[0] if matches else None

    def create(
        self,
        kind: EntityKind,
        space_id: str | None,
        body: Mapping[str, Any],
        params: Mapping[str, str] | None = None,
    ) -> Entity:
        """One create attempt (retried only on 429, which the server rejects before acting)."""
        path = self.collection_path(kind, space_id)

        def once() -> Entity:
            answer = self.request("POST", path, retry=False, params=params, json_body=dict(body))
            return kind.model.model_validate(_unwrap(answer, kind.name))

        return Retrying(
            stop=stop_after_attempt(self._max_attempts),
            wait=_wait,
            retry=retry_if_exception(lambda e: isinstance(e, ApiError) and e.status == 429),
            reraise=True,
        )(once)

    def create_or_adopt(
        self,
        kind: EntityKind,
        space_id: str | None,
        body: Mapping[str, Any],
        *,
        is_ours: Callable[[Entity], bool],
        params: Mapping[str, str] | None = None,
        refusal: Callable[[Entity], str] | None = None,
    ) -> tuple[Entity, bool]:
        """Create, or adopt an existing object with the same slug if `is_ours` says so.

        Returns (entity, adopted). A same-slug object that is not ours raises
        AdoptionRefusedError. After a failed attempt whose outcome is unknown (5xx, timeout,
        connection drop) the slug is looked up again before retrying, so a create is never
        duplicated.
        """
        slug = str(body["Slug"])

        def adopt_existing() -> Entity | None:
            existing = self.find_by_slug(kind, space_id, slug)
            if existing is None:
                return None
            if not is_ours(existing):
                if refusal is not None:
                    raise AdoptionRefusedError(refusal(existing))
                where = f"space {space_id}" if space_id else "the organization"
                raise AdoptionRefusedError(
                    f"{kind.name} {slug!r} already exists in {where} and is not managed by this "
                    f"Pulumi program (no managed-by annotation); to take it over run `python -m "
                    f"components.confighub adopt {kind.segment} {space_id or '-'} {slug}`, "
                    "or delete it first"
                )
            return existing

        found = adopt_existing()
        if found is not None:
            return found, True
        for attempt in self._retrying():
            with attempt:
                try:
                    return self.create(kind, space_id, body, params), False
                except ApiError as exc:
                    if not (exc.retryable or isinstance(exc, ConflictError)):
                        raise
                    # Did the failed attempt (or a concurrent run) create it after all?
                    found = adopt_existing()
                    if found is not None:
                        return found, True
                    raise  # retried if retryable (5xx, 429, no answer); a 409 is final
        raise AssertionError("unreachable")  # pragma: no cover

    def patch(
        self,
        kind: EntityKind,
        space_id: str | None,
        entity_id: str,
        patch: Mapping[str, Any] | None,
        params: Mapping[str, str] | None = None,
    ) -> Entity:
        """JSON merge-patch (null removes a map key); retried: applying it twice is harmless."""
        path = self.entity_path(kind, space_id, entity_id)
        answer = self.request(
            "PATCH",
            path,
            params=params,
            content=json.dumps(patch).encode("utf-8"),
            content_type=_MERGE_PATCH,
        )
        return kind.model.model_validate(_unwrap(answer, kind.name))

    def delete(self, kind: EntityKind, space_id: str | None, entity_id: str) -> bool:
        """Delete; False if it was already gone (a retried delete may see its own success)."""
        try:
            self.request("DELETE", self.entity_path(kind, space_id, entity_id))
        except NotFoundError:
            return False
        return True

    # ------------------------------------------------------------------ units

    def find_unit(self, unit_id: str) -> Unit:
        """A unit by ID in any space (org-wide listing), e.g. to learn an upstream's space."""
        listed = self.list_entities(UNIT, None, where=f"UnitID = {quote_where(unit_id)}")
        found = [u for u in listed if isinstance(u, Unit)]
        if not found:
            raise NotFoundError("GET", "/unit", 404, f"no Unit with ID {unit_id}")
        return found[0]

    def get_unit(self, space_id: str, unit_id: str) -> Unit:
        unit = self.get(UNIT, space_id, unit_id)
        if not isinstance(unit, Unit):  # pragma: no cover - UNIT.model is Unit
            raise TypeError("expected a Unit")
        return unit

    def _operation(self, action: str, space_id: str, unit_id: str) -> QueuedOperation:
        path = f"/space/{space_id}/unit/{unit_id}/{action}"
        answer = self.request("POST", path)
        if isinstance(answer, list):
            answer = answer[0] if answer else {}
        return QueuedOperation.model_validate(answer or {})

    def apply_unit(self, space_id: str, unit_id: str) -> QueuedOperation:
        return self._operation("apply", space_id, unit_id)

    def destroy_unit(self, space_id: str, unit_id: str) -> QueuedOperation:
        return self._operation("destroy", space_id, unit_id)

    def get_unit_action(self, space_id: str, unit_id: str, operation_id: str) -> QueuedOperation:
        path = f"/space/{space_id}/unit/{unit_id}/unit_action/{operation_id}"
        return QueuedOperation.model_validate(_unwrap(self.request("GET", path), "UnitAction"))

    def list_unit_events(
        self, space_id: str, unit_id: str, where: str | None = None
    ) -> list[UnitEvent]:
        path = f"/space/{space_id}/unit/{unit_id}/unit_event"
        body = self.request("GET", path, params={"where": where} if where else None) or []
        return [UnitEvent.model_validate(_unwrap(item, "UnitEvent")) for item in body]

    def upgrade_unit(self, space_id: str, unit_id: str) -> Unit:
        """Server-side three-way merge of upstream changes (PATCH ?upgrade=true, body null)."""
        path = f"/space/{space_id}/unit/{unit_id}"
        answer = self.request(
            "PATCH", path, params={"upgrade": "true"}, content=b"null", content_type=_MERGE_PATCH
        )
        return Unit.model_validate(_unwrap(answer, "Unit"))

    def merge_unit(
        self,
        space_id: str,
        unit_id: str,
        source_unit_id: str,
        base: int,
        end: int,
        *,
        dry_run: bool = False,
    ) -> Unit:
        """Merge the source unit's change from revision `base` to `end` into the unit
        (PATCH ?merge_source&merge_base&merge_end, body null); `end < base` goes back.
        `dry_run`: only answer the unit the merge would make."""
        path = f"/space/{space_id}/unit/{unit_id}"
        params = {"merge_source": source_unit_id, "merge_base": str(base), "merge_end": str(end)}
        if dry_run:
            params["dry_run"] = "true"
        answer = self.request(
            "PATCH", path, params=params, content=b"null", content_type=_MERGE_PATCH
        )
        return Unit.model_validate(_unwrap(answer, "Unit"))

    def get_revision(self, space_id: str, unit_id: str, revision_num: int) -> Revision:
        path = f"/space/{space_id}/unit/{unit_id}/revision"
        body = self.request("GET", path, params={"where": f"RevisionNum = {int(revision_num)}"})
        revisions = [Revision.model_validate(_unwrap(item, "Revision")) for item in body or []]
        for revision in revisions:
            if revision.revision_num == revision_num:
                return revision
        raise NotFoundError("GET", path, 404, f"unit {unit_id} has no revision {revision_num}")


_client_lock = threading.Lock()
_client: ConfigHubClient | None = None
_client_settings: ConnectionSettings | None = None


def get_client() -> ConfigHubClient:
    """The provider process's shared client for the current settings (module-level cache)."""
    global _client, _client_settings
    settings = current_settings()
    with _client_lock:
        if _client is None or _client_settings != settings:
            if _client is not None:
                _client.close()
            _client = ConfigHubClient(settings)
            _client_settings = settings
        return _client
