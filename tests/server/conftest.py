"""Fixtures of the hostile-input suites (tests/server/test_hostile_*.py, issue 12).

Module-scoped on purpose: each suite gets a server of its own (``own_server``), so a suite that
stalls, grows or crashes its server cannot leak into the next one. A module that needs a
different server (test_restart.py) defines its own ``server``, which takes precedence.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.server.hostile import Hostile, own_server
from tests.support.server import ServerProcess


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    with own_server() as srv:
        yield srv


@pytest.fixture(scope="module")
def client(server: ServerProcess) -> Iterator[httpx.Client]:
    with server.client(timeout=20.0) as c:
        yield c


@pytest.fixture(scope="module")
def hostile(server: ServerProcess, client: httpx.Client) -> Hostile:
    return Hostile(server, client)
