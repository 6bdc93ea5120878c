"""Fixtures for the ConfigHub provider tests (components/confighub).

Server tests use the real local server (`confighub_server`); provider methods are called
in-process after `configure()` with the stack-config keys, exactly as the dynamic-provider host
does. Isolation is by unique slugs.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from pulumi.dynamic import ConfigureRequest
from pulumi.dynamic.config import Config
from pydantic import SecretStr

from components.confighub import calls, connection
from components.confighub.client import ConfigHubClient


def configure(provider: Any, url: str, token: str) -> None:
    """What the provider host does: configure(req) with the stack config."""
    raw = {"confighub:url": url, "confighub:token": token}
    provider.configure(ConfigureRequest(Config(raw_config=raw, project_name="test")))


@pytest.fixture
def unique() -> str:
    return uuid.uuid4().hex[:8]


@pytest.fixture
def hub(confighub_server: Any) -> Iterator[ConfigHubClient]:
    """A client on the local server, with the module-level connection configured to it."""
    settings = connection.ConnectionSettings(
        url=confighub_server.url, token=SecretStr(confighub_server.token)
    )
    connection.configure_from_config(
        {"confighub:url": confighub_server.url, "confighub:token": confighub_server.token}
    )
    calls.reset()
    client = ConfigHubClient(settings)
    yield client
    client.close()
    connection.reset()
