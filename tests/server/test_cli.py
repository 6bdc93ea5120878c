"""The serve command: a generated token is written beside the DB with mode 0600 and never
logged in full; CONFIGHUB_TOKEN is honoured; bad fault flags are refused clearly."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.support.server import ROOT, free_port


def _serve(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "confighub_local", "serve", *args],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _wait(url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"no server on {url}")


def test_generated_token_file_and_redacted_log(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "CONFIGHUB_TOKEN"}
    port = free_port()
    db = tmp_path / "hub.db"
    proc = _serve(["--db", str(db), "--port", str(port)], env, tmp_path / "log")
    try:
        _wait(f"http://127.0.0.1:{port}")
        token_file = tmp_path / "hub.db.token"
        token = token_file.read_text().strip()
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
        me = httpx.get(
            f"http://127.0.0.1:{port}/api/me", headers={"Authorization": f"Bearer {token}"}
        )
        assert me.status_code == 200
    finally:
        proc.terminate()
        proc.wait(10)
    log = (tmp_path / "log").read_text()
    assert str(token_file) in log and token not in log and token[4:12] not in log


def test_token_from_environment(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "CONFIGHUB_TOKEN": "env-token-123456"}
    proc = _serve(["--db", ":memory:", "--port", str(port)], env, tmp_path / "log")
    try:
        _wait(f"http://127.0.0.1:{port}")
        ok = httpx.get(
            f"http://127.0.0.1:{port}/api/me", headers={"Authorization": "Bearer env-token-123456"}
        )
        assert ok.status_code == 200
    finally:
        proc.terminate()
        proc.wait(10)


def test_bad_fault_flag_is_refused(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "confighub_local",
            "serve",
            "--db",
            ":memory:",
            "--port",
            str(free_port()),
            "--fault-error-rate",
            "2",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "CONFIGHUB_TOKEN": "t"},
    )
    assert result.returncode != 0
    assert "error_rate" in result.stdout + result.stderr
