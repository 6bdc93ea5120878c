"""The vendor's own `cub` CLI against a real local ConfigHub server.

`cub` comes from the toolchain (`make bootstrap` builds it at the pinned SDK commit; it is on the
PATH of `source toolchain/env.sh`). Missing, the suite skips saying so; under
`TRADERX_REQUIRE_REAL=1` (`make test`) it fails instead.

Each `cub` call gets a throwaway HOME holding only `~/.confighub/session.json` with the
server's bearer token (what `cub auth login` would write; see cmd/cub/auth*.go, session.go) and
`CONFIGHUB_URL` pointing at the server. The distinct commands exercised (`unit create`,
`function do`, ...) are counted and printed at the end of the run.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.support.server import ServerProcess
from tests.support.toolchain import toolchain_env

COMMANDS: set[str] = set()
# cub's command groups with a verb below them; everything else is a one-word command
_GROUPS = {
    "auth",
    "changeset",
    "context",
    "filter",
    "function",
    "invocation",
    "link",
    "mutation",
    "organization",
    "organization-member",
    "revision",
    "set",
    "space",
    "tag",
    "target",
    "trigger",
    "unit",
    "unit-event",
    "user",
    "view",
    "worker",
}
# commands that take no --space
_NO_SPACE = {"space", "context", "organization", "organization-member", "user", "info", "version"}
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _unavailable(reason: str) -> None:
    if os.environ.get("TRADERX_REQUIRE_REAL") == "1":
        pytest.fail(f"{reason} (TRADERX_REQUIRE_REAL=1: required here)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def cub_path() -> Path:
    env = toolchain_env()
    found = shutil.which("cub", path=env.get("PATH", ""))
    if found is None:
        _unavailable("no `cub` on the toolchain PATH: run `make bootstrap` (builds the SDK's cub)")
    return Path(str(found))


@dataclass
class Result:
    args: list[str]
    rc: int
    out: str
    err: str

    @property
    def text(self) -> str:
        return self.out + self.err

    def rows(self) -> list[list[str]]:
        """The table cub printed, as rows of cells (header first)."""
        return [line.split() for line in self.out.splitlines() if line.strip()]

    def names(self) -> list[str]:
        return [r[0] for r in self.rows()[1:]]


@dataclass
class Cub:
    """Runs the official `cub` with its own HOME against one server."""

    path: Path
    server: ServerProcess
    home: Path
    space: str = ""
    calls: list[list[str]] = field(default_factory=list)

    def __call__(self, *args: str, stdin: str | None = None, timeout: float = 120) -> Result:
        argv = list(args)
        if self.space and "--space" not in argv and argv[0] not in _NO_SPACE:
            argv += ["--space", self.space]
        env = {
            "HOME": str(self.home),
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "CONFIGHUB_URL": self.server.url,
            "NO_COLOR": "1",
        }
        proc = subprocess.run(
            [str(self.path), *argv],
            env=env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        words = [a for a in args if not a.startswith("-")]
        COMMANDS.add(" ".join(words[:2]) if words[0] in _GROUPS else words[0])
        self.calls.append(argv)
        return Result(argv, proc.returncode, _ANSI.sub("", proc.stdout), _ANSI.sub("", proc.stderr))

    def ok(self, *args: str, stdin: str | None = None, timeout: float = 120) -> Result:
        res = self(*args, stdin=stdin, timeout=timeout)
        assert res.rc == 0, f"cub {' '.join(res.args)} -> rc {res.rc}\n{res.text}"
        assert "panic:" not in res.text, res.text
        return res

    def fails(self, *args: str, stdin: str | None = None) -> Result:
        res = self(*args, stdin=stdin)
        assert res.rc != 0, f"cub {' '.join(res.args)} unexpectedly succeeded\n{res.text}"
        assert "panic:" not in res.text, res.text
        return res

    def json(self, *args: str) -> object:
        return json.loads(self.ok(*args, "--json").out)


def login(home: Path, token: str) -> None:
    """What `cub auth login` leaves behind, for a bearer token (session.go's AuthSession)."""
    folder = home / ".confighub"
    folder.mkdir(parents=True, exist_ok=True)
    session = {
        "user": {"id": "local", "email": "local@localhost"},
        "access_token": token,
        "organization_id": "",
        "auth_type": "JWT",
    }
    (folder / "session.json").write_text(json.dumps(session))
    os.chmod(folder / "session.json", 0o600)


@pytest.fixture(scope="module")
def cub_server() -> Iterator[ServerProcess]:
    """A server of the module's own (tests assert counts and listings over it)."""
    with tempfile.TemporaryDirectory(prefix="cub-conformance-") as tmp:
        server = ServerProcess(Path(tmp))
        server.start()
        try:
            yield server
        finally:
            server.stop()


@pytest.fixture
def cub(cub_path: Path, cub_server: ServerProcess, tmp_path: Path) -> Cub:
    home = tmp_path / "home"
    login(home, cub_server.token)
    return Cub(cub_path, cub_server, home)


@pytest.fixture
def api(cub_server: ServerProcess) -> Iterator[httpx.Client]:
    with cub_server.client() as client:
        yield client


@pytest.fixture
def space(cub: Cub) -> str:
    """A fresh space, made the default of this `cub`."""
    slug = f"cf-{uuid.uuid4().hex[:8]}"
    cub.ok("space", "create", slug)
    cub.ok("context", "set", "--space", slug)  # also records the organization, as login would
    cub.space = slug
    return slug


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if COMMANDS:
        terminalreporter.write_sep("-", f"cub conformance: {len(COMMANDS)} distinct cub commands")
        terminalreporter.write_line(", ".join(sorted(COMMANDS)))
