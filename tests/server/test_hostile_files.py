"""The token and database files (issue 12): no predictable /tmp path, no trust in a token file
the server did not write, no following of planted symlinks, mode 0600 for what it creates."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.support.server import ROOT, free_port

ATTACKER = "chl_attacker_token_0123456789"


@contextmanager
def serve(args: list[str], tmp: Path, port: int) -> Iterator[subprocess.Popen[bytes]]:
    env = {k: v for k, v in os.environ.items() if k != "CONFIGHUB_TOKEN"}
    env |= {
        "XDG_RUNTIME_DIR": str(tmp / "run"),
        "TMPDIR": str(tmp / "tmp"),
        "PYTHONPATH": str(ROOT),
    }
    (tmp / "tmp").mkdir(exist_ok=True)
    with (tmp / "log").open("ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "confighub_local", "serve", "--port", str(port), *args],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield proc
    finally:
        proc.terminate()
        proc.wait(10)


def _status(port: int, token: str) -> int:
    resp = httpx.get(
        f"http://127.0.0.1:{port}/api/me", headers={"Authorization": f"Bearer {token}"}
    )
    return resp.status_code


def _plant(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.write_text(text + "\n")
    path.chmod(0o600)


def test_memory_server_trusts_no_planted_token_and_follows_no_symlink(tmp_path: Path) -> None:
    port = free_port()
    old_path = tmp_path / "tmp" / f"confighub-local-{port}.token"  # the old predictable path
    _plant(old_path, ATTACKER)
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    new_path = tmp_path / "run" / "confighub-local" / f"memory-{port}.token"
    new_path.parent.mkdir(parents=True, mode=0o700)
    new_path.symlink_to(victim)
    with serve(["--db", ":memory:"], tmp_path, port) as proc:
        assert proc.poll() is None, (tmp_path / "log").read_text()
        assert _status(port, ATTACKER) == 401
        assert victim.read_text() == "precious\n"
        st = os.lstat(new_path)
        assert stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600
        assert _status(port, new_path.read_text().strip()) == 200
    assert old_path.read_text().strip() == ATTACKER  # not ours: left alone, never read


def test_db_token_file_is_trusted_only_when_this_server_wrote_it(tmp_path: Path) -> None:
    port = free_port()
    db = tmp_path / "data" / "hub.db"
    token_file = Path(str(db) + ".token")
    _plant(token_file, ATTACKER)  # planted before the first start
    old_umask = os.umask(0o022)
    try:
        with serve(["--db", str(db)], tmp_path, port):
            assert _status(port, ATTACKER) == 401
            token = token_file.read_text().strip()
            assert token != ATTACKER and _status(port, token) == 200
            for path in (db, token_file, Path(str(db) + "-wal")):
                assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    finally:
        os.umask(old_umask)
    with serve(["--db", str(db)], tmp_path, port):  # its own file: reused across restarts
        assert token_file.read_text().strip() == token and _status(port, token) == 200
    victim = tmp_path / "victim"
    victim.write_text("precious\n")
    token_file.unlink()
    token_file.symlink_to(victim)
    with serve(["--db", str(db)], tmp_path, port):
        assert victim.read_text() == "precious\n"
        assert not token_file.is_symlink()
        assert _status(port, token_file.read_text().strip()) == 200


def test_user_token_file_that_others_can_write_is_refused(tmp_path: Path) -> None:
    port = free_port()
    token_file = tmp_path / "token"
    token_file.write_text("chl_user_token_abcdefgh\n")
    token_file.chmod(0o666)
    with serve(["--db", ":memory:", "--token-file", str(token_file)], tmp_path, port) as proc:
        assert proc.wait(20) == 2
    log = (tmp_path / "log").read_text()
    assert "refusing to trust it" in log and "Traceback" not in log


def test_missing_user_token_file_is_created_exclusively(tmp_path: Path) -> None:
    port = free_port()
    token_file = tmp_path / "new-token"
    with serve(["--db", ":memory:", "--token-file", str(token_file)], tmp_path, port):
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
        assert _status(port, token_file.read_text().strip()) == 200
