"""pytest plugin: `confighub_server`, a real local ConfigHub server process (see docs/contracts.md).

Session-scoped: one process on a free loopback port with a temp SQLite DB and token file.
Tests isolate by unique slugs. `kill()` sends SIGKILL; `restart()` starts again on the same DB,
port and token. `ServerProcess` is usable outside pytest too (benchmarks).

A server started with `--kubeconfig` runs the official `cub-worker` for its BridgeWorkers;
`official_worker()` finds that binary (the pinned build in the toolchain cache first, then
PATH) and the `cub_worker` fixture gives it, or skips (fails under TRADERX_REQUIRE_REAL=1).
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.procs import child_pids

ROOT = Path(__file__).resolve().parents[2]


def _pinned_sdk_commit() -> str:
    for line in (ROOT / "toolchain" / "versions.env").read_text().splitlines():
        if line.startswith("CONFIGHUB_SDK_COMMIT="):
            return line.partition("=")[2].strip()
    raise RuntimeError("toolchain/versions.env has no CONFIGHUB_SDK_COMMIT")


def official_worker() -> str | None:
    """The official bridge worker binary: $CONFIGHUB_WORKER_BIN, else the pinned build in the
    toolchain cache (what `make bootstrap` builds), else `cub-worker` on PATH."""
    explicit = os.environ.get("CONFIGHUB_WORKER_BIN")
    if explicit:
        return explicit
    cache = Path(
        os.environ.get("TRADERX_CACHE")
        or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "traderx-confighub"
    )
    built = cache / f"confighub-sdk-{_pinned_sdk_commit()[:12]}" / "bin" / "cub-worker"
    if built.is_file() and os.access(built, os.X_OK):
        return str(built)
    return shutil.which("cub-worker")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ServerProcess:
    """One `python -m confighub_local serve` child process."""

    def __init__(
        self, workdir: Path, extra_args: list[str] | None = None, env: dict[str, str] | None = None
    ) -> None:
        self.workdir = workdir
        self.db_path = workdir / "confighub.db"
        self.token_file = workdir / "token"
        self.token = "chl_test_" + secrets.token_urlsafe(24)
        self.token_file.write_text(self.token + "\n")
        os.chmod(self.token_file, 0o600)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.api = self.url + "/api"
        self.extra_args = list(extra_args or [])
        self.env = env or {}
        self.log_path = workdir / "server.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> None:
        cmd = [
            sys.executable,
            "-m",
            "confighub_local",
            "serve",
            "--db",
            str(self.db_path),
            "--port",
            str(self.port),
            "--token-file",
            str(self.token_file),
            *self.extra_args,
        ]
        env = {**os.environ, "PYTHONPATH": str(ROOT), **self.env}
        env.pop("CONFIGHUB_TOKEN", None)
        if "--kubeconfig" in self.extra_args and not env.get("CONFIGHUB_WORKER_BIN"):
            found = official_worker()
            if found:
                env["CONFIGHUB_WORKER_BIN"] = found
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"confighub_local exited with {self.proc.returncode}; log:\n"
                    + self.log_path.read_text()[-4000:]
                )
            try:
                if httpx.get(self.url + "/healthz", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"confighub_local did not answer on {self.url} within {timeout}s")

    def children(self) -> list[int]:
        """PIDs of the server's child processes (its supervised cub-workers)."""
        if self.proc is None or self.proc.poll() is not None:
            return []
        return child_pids(self.proc.pid)

    def kill(self) -> None:
        """SIGKILL: no shutdown hooks, no flush; what was acknowledged must survive."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def restart(self) -> None:
        self.kill()
        self.start()

    def client(self, **kwargs: object) -> httpx.Client:
        return httpx.Client(
            base_url=self.api,
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=kwargs.pop("timeout", 30.0),  # type: ignore[arg-type]
            **kwargs,  # type: ignore[arg-type]
        )


@pytest.fixture(scope="session")
def cub_worker() -> str:
    """The official cub-worker binary (skips when missing; fails under make test)."""
    found = official_worker()
    if found:
        return found
    reason = (
        "no official `cub-worker` (pinned build in the toolchain cache, CONFIGHUB_WORKER_BIN or "
        "PATH): run `make bootstrap`"
    )
    if os.environ.get("TRADERX_REQUIRE_REAL") == "1":
        pytest.fail(f"{reason} (TRADERX_REQUIRE_REAL=1: required here)", pytrace=False)
    print(f"SKIP: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def confighub_server() -> Iterator[ServerProcess]:
    with tempfile.TemporaryDirectory(prefix="confighub-local-") as tmp:
        server = ServerProcess(Path(tmp))
        server.start()
        try:
            yield server
        finally:
            server.stop()
