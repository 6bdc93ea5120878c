"""Fixtures for the operator CLI tests: a project in the shared server, empty servers to restore
into, and a runner for `traderx` commands in-process (the console script is tested too)."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from operator_cli.app import app
from tests.ops.project import Project, build
from tests.support.server import ServerProcess


@dataclass
class Ran:
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


Run = Callable[..., Ran]


def make_runner(server: ServerProcess) -> Run:
    def run(*args: str, env: dict[str, str] | None = None) -> Ran:
        runner = CliRunner()
        base = {"CONFIGHUB_URL": server.url, "CONFIGHUB_TOKEN": server.token}
        result = runner.invoke(app, list(args), env={**base, **(env or {})}, catch_exceptions=False)
        return Ran(result.exit_code, result.stdout, result.stderr)

    return run


@pytest.fixture(scope="module")
def project(confighub_server: ServerProcess) -> Project:
    with confighub_server.client() as http:
        return build(http)


@pytest.fixture
def empty_server() -> Iterator[ServerProcess]:
    """A fresh server with an empty database: what is left after a wiped DB."""
    with tempfile.TemporaryDirectory(prefix="confighub-empty-") as tmp:
        server = ServerProcess(Path(tmp))
        server.start()
        try:
            yield server
        finally:
            server.stop()


@pytest.fixture
def source(confighub_server: ServerProcess) -> Run:
    return make_runner(confighub_server)
