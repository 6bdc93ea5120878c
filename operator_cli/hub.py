"""The ConfigHub side of the CLI: one `ConfigHubClient` (the project's typed client, with its one
retry policy) built from the same settings `cub` and the providers use, and the project's spaces.

A project is the set of spaces labelled `project = <prefix>-traderx` (components/layout.py).
"""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr, ValidationError

from components.confighub.client import SPACE, ConfigHubClient, EntityKind, quote_where
from components.confighub.connection import DEFAULT_URL, ConnectionSettings
from components.confighub.errors import ApiError, ConfigHubError
from components.confighub.models import Entity
from components.model.layout import project_of
from operator_cli.output import CliError, Exit


class Trigger(Entity):
    """Triggers are not used by the providers, so the shared models lack them; same shape rules."""

    id_field = "TriggerID"
    trigger_id: str = ""


TRIGGER = EntityKind("Trigger", "trigger", Trigger)


def connect(url: str | None, token: str | None, *, timeout: float = 30.0) -> ConfigHubClient:
    """A client for `url` (else `$CONFIGHUB_URL`, else the local default) with `token`."""
    if not token:
        raise CliError(
            Exit.UNREACHABLE,
            "no ConfigHub token: neither --token nor CONFIGHUB_TOKEN is set",
            "export CONFIGHUB_TOKEN=<token> (local server: the file <db>.token next to its DB)",
        )
    try:
        settings = ConnectionSettings(
            url=url or DEFAULT_URL, token=SecretStr(token), timeout_seconds=timeout
        )
    except ValidationError as exc:
        reason = exc.errors()[0].get("msg", str(exc))
        raise CliError(
            Exit.UNREACHABLE,
            f"invalid ConfigHub URL {url!r}: {reason}",
            "pass --url scheme://host:port (no /api), e.g. http://127.0.0.1:8765",
        ) from exc
    # A CLI should fail in seconds when the server is down, not retry for two minutes.
    return ConfigHubClient(settings, max_attempts=4, retry_deadline=15.0)


def api_failure(exc: ConfigHubError, doing: str) -> CliError:
    """Map a client error to the CLI's exit codes, naming what was being done."""
    if isinstance(exc, ApiError) and exc.status is None:
        return CliError(
            Exit.UNREACHABLE,
            f"{doing}: ConfigHub did not answer ({exc.message})",
            "check --url / CONFIGHUB_URL and that the server runs (make server)",
        )
    if isinstance(exc, ApiError) and exc.status in (401, 403):
        return CliError(
            Exit.UNREACHABLE,
            f"{doing}: ConfigHub refused the token (HTTP {exc.status})",
            "set CONFIGHUB_TOKEN to a valid token for this server",
        )
    return CliError(Exit.FAILED, f"{doing}: {exc}")


def project_name(prefix: str | None, project: str | None) -> str:
    if project:
        return project
    if prefix:
        return project_of(prefix)
    raise CliError(
        Exit.USAGE,
        "which project? give --prefix (the dev stack's traderx:prefix) or --project",
        "pulumi stack output prefix -s dev   # then: traderx ... --prefix <that>",
    )


def project_spaces(client: ConfigHubClient, project: str) -> list[dict[str, Any]]:
    """Every space of the project (raw wire objects), base and filters first."""
    body = client.request(
        "GET", "/space", params={"where": f"Labels.project = {quote_where(project)}"}
    )
    spaces = [item.get("Space", item) for item in body or []]
    order = {"base": 0, "filters": 1, "dev": 2, "staging": 3, "prod": 4, "prod-eu": 5}

    def key(space: dict[str, Any]) -> tuple[int, str]:
        labels = space.get("Labels") or {}
        kind = labels.get("environment") or labels.get("type") or ""
        return order.get(kind, 9), str(space.get("Slug"))

    return sorted(spaces, key=key)


def space_kind() -> EntityKind:
    return SPACE
