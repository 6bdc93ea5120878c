"""Convergence under failure, through the real engine against the local server.

- 20% of API calls meet an injected fault (500, 429 with Retry-After, an answer lost after the
  server acted, an answer slower than the client timeout) from a real HTTP proxy: `up` of a
  30-unit stack still converges, and listing the server shows exactly the 30 units (no duplicate
  from a retried create), and `destroy` leaves nothing behind (no orphan).
- `pulumi up` killed with SIGKILL mid-way (CLI, language host and provider process), then run
  again: converges with no duplicates (objects created just before the kill are adopted through
  the managed-by annotation rule).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from components.confighub import Space, Unit
from components.confighub.calls import read_call_log, read_call_records
from components.confighub.client import SPACE, UNIT, ConfigHubClient
from components.confighub.connection import ConnectionSettings
from tests.support.server import ServerProcess

from .engine import ROOT, EngineStack, changes
from .faultproxy import FAULTS, FaultProxy

pytestmark = [pytest.mark.engine, pytest.mark.slow]

COUNT = 30


def unit_data(i: int) -> str:
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: svc-{i:02d}}}\ndata: {{i: '{i}'}}\n"


def server_units(hub: ConfigHubClient, space_slug: str) -> list[str]:
    """Slugs of every unit in the space (duplicates kept, so they can be detected)."""
    space = hub.find_by_slug(SPACE, None, space_slug)
    if space is None:
        return []
    return sorted(u.slug for u in hub.list_entities(UNIT, space.id))


def test_thirty_units_converge_under_twenty_percent_faults(
    toolchain: Any,
    pulumi_backend: str,
    confighub_server: Any,
    hub: ConfigHubClient,
    tmp_path: Path,
    unique: str,
) -> None:
    prefix = f"faults-{unique}"

    def program() -> None:
        space = Space("space", slug=prefix)
        for i in range(COUNT):
            Unit(
                f"unit-{i}",
                space_id=space.space_id,
                slug=f"svc-{i:02d}",
                data=unit_data(i),
                labels={"index": str(i)},
            )

    with FaultProxy(confighub_server.url, rate=0.2, slow_seconds=2.5) as proxy:
        st = EngineStack(
            "faults",
            program,
            toolchain=toolchain,
            backend=pulumi_backend,
            url=proxy.url,
            token=confighub_server.token,
            workdir=tmp_path,
            extra_env={"CONFIGHUB_TIMEOUT_SECONDS": "1.5"},
        )
        res = st.up()
        assert changes(res) == {"create": COUNT + 2}
        faults = {f: proxy.counts[f] for f in FAULTS}
        assert all(faults[f] > 0 for f in FAULTS), faults  # every kind of fault really happened
        assert sum(faults.values()) >= 0.1 * sum(proxy.counts.values())
        expected = [f"svc-{i:02d}" for i in range(COUNT)]
        assert server_units(hub, prefix) == expected  # exactly once each: no duplicates

        st.reset_calls()
        assert set(changes(st.up())) == {"same"}
        assert st.calls().writes == 0

        st.destroy()
        assert hub.find_by_slug(SPACE, None, prefix) is None  # no orphan: space (and units) gone
        print(f"faults injected: {faults}; calls seen by proxy: {sum(proxy.counts.values())}")


def test_thirty_units_converge_under_the_servers_own_fault_injection(
    toolchain: Any,
    pulumi_backend: str,
    tmp_path: Path,
    unique: str,
) -> None:
    """Same convergence with confighub_local's fault injection (5xx, 429, dropped connections)."""
    faults = {
        "seed": 11,
        "rules": [
            {
                "route": "^/api/",
                "methods": ["POST", "PATCH", "DELETE"],
                "error_rate": 0.15,
                "error_status": 500,
                "drop_rate": 0.05,
            },
            {
                "route": "^/api/",
                "methods": ["GET"],
                "error_rate": 0.1,
                "error_status": 429,
                "retry_after": 1,
                "drop_rate": 0.1,
            },
        ],
    }
    (tmp_path / "hub").mkdir()
    server = ServerProcess(tmp_path / "hub", env={"CONFIGHUB_FAULTS": json.dumps(faults)})
    server.start()
    prefix = f"srvfaults-{unique}"
    settings = ConnectionSettings(url=server.url, token=SecretStr(server.token))
    checker = ConfigHubClient(settings)  # retries through the same faults
    try:

        def program() -> None:
            space = Space("space", slug=prefix)
            for i in range(COUNT):
                Unit(f"unit-{i}", space_id=space.space_id, slug=f"svc-{i:02d}", data=unit_data(i))

        st = EngineStack(
            "srvfaults",
            program,
            toolchain=toolchain,
            backend=pulumi_backend,
            url=server.url,
            token=server.token,
            workdir=tmp_path,
        )
        assert changes(st.up()) == {"create": COUNT + 2}
        attempts = read_call_log(st.call_log)
        failed = [r for r in read_call_records(st.call_log) if r.status in (None, 500, 429)]
        assert failed, "no fault was injected"
        assert server_units(checker, prefix) == [f"svc-{i:02d}" for i in range(COUNT)]
        st.destroy()
        assert checker.find_by_slug(SPACE, None, prefix) is None
        print(f"attempts {attempts.total}, failed attempts {len(failed)}")
    finally:
        checker.close()
        server.stop()


def _pulumi(
    env: dict[str, str], cwd: Path, *args: str, check: bool = True, timeout: int = 600
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [shutil.which("pulumi", path=env["PATH"]) or "pulumi", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=check,
        timeout=timeout,
    )


def _kill_left_in(directory: Path) -> None:
    """SIGKILL every process still running in `directory` (the language host and the dynamic
    provider, which the engine starts in their own sessions, so killing its group misses them)."""
    for proc_dir in Path("/proc").glob("[0-9]*"):
        try:
            cwd = (proc_dir / "cwd").resolve()
        except OSError:
            continue
        if cwd == directory.resolve() and int(proc_dir.name) != os.getpid():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(proc_dir.name), signal.SIGKILL)


def test_sigkill_mid_up_then_rerun_converges_without_duplicates(
    toolchain: Any,
    pulumi_backend: str,
    confighub_server: Any,
    hub: ConfigHubClient,
    tmp_path: Path,
    unique: str,
) -> None:
    prefix = f"crash-{unique}"
    project = tmp_path / "project"
    shutil.copytree(Path(__file__).parent / "many_units", project)
    (project / "Pulumi.yaml").write_text(
        f"name: chtest\nruntime:\n  name: python\n  options:\n    virtualenv: {ROOT / '.venv'}\n"
    )
    call_log = tmp_path / "calls.jsonl"
    env = {
        **toolchain.env,
        "PULUMI_BACKEND_URL": pulumi_backend,
        "PULUMI_CONFIG_PASSPHRASE": "crash-test",
        "PYTHONPATH": str(ROOT),
        "CONFIGHUB_CALL_LOG": str(call_log),
    }
    env.pop("PULUMI_CONFIG_PASSPHRASE_FILE", None)
    _pulumi(env, project, "stack", "init", "crash")
    _pulumi(env, project, "config", "set", "chtest:prefix", prefix)
    _pulumi(env, project, "config", "set", "chtest:count", str(COUNT))
    _pulumi(env, project, "config", "set", "confighub:url", confighub_server.url)
    _pulumi(env, project, "config", "set", "--secret", "confighub:token", confighub_server.token)

    proc = subprocess.Popen(
        [str(toolchain.pulumi), "up", "--yes", "--skip-preview", "--parallel", "4"],
        cwd=project,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        creates = read_call_log(call_log).by_route.get("POST /space/{id}/unit", 0)
        if creates >= COUNT // 3:
            break
        assert proc.poll() is None, "up finished before it could be killed"
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(30)
    _kill_left_in(project)  # plugins run in sessions of their own: a crash takes them down too
    created_before_kill = len(server_units(hub, prefix))
    assert 0 < created_before_kill < COUNT, created_before_kill
    space = hub.find_by_slug(SPACE, None, prefix)
    assert space is not None
    ids_before = {u.id for u in hub.list_entities(UNIT, space.id)}

    # Rerun as an operator does after a crash on the file backend: `pulumi cancel` removes the
    # dead process's lock, then `up` again. Pending creates of the killed run are dropped by the
    # engine; the objects they made are adopted (same slug + managed-by annotation).
    # The checkpoint itself is never torn: the backend URL has `metadata=skip` (see
    # toolchain/env.sh), so each write is one atomic rename with no sidecar rewritten in place.
    stacks_dir = Path(pulumi_backend.removeprefix("file://").split("?")[0]) / ".pulumi" / "stacks"
    rerun = _pulumi(env, project, "up", "--yes", "--skip-preview", check=False)
    said = rerun.stderr + rerun.stdout
    assert rerun.returncode != 0 and "locked" in said, said[-2000:]
    assert not list(stacks_dir.rglob("*.attrs")), "metadata=skip should write no sidecars"
    _pulumi(env, project, "cancel", "--yes")
    rerun = _pulumi(env, project, "up", "--yes", "--skip-preview", check=False)
    assert rerun.returncode == 0, rerun.stdout[-3000:] + rerun.stderr[-3000:]
    assert server_units(hub, prefix) == [f"svc-{i:02d}" for i in range(COUNT)]
    ids_after = {u.id for u in hub.list_entities(UNIT, space.id)}
    assert ids_before <= ids_after  # objects of the killed run were adopted, not replaced
    spaces = [s for s in hub.list_entities(SPACE) if s.slug == prefix]
    assert len(spaces) == 1
    noop = _pulumi(env, project, "preview", "--expect-no-changes", check=False)
    assert noop.returncode == 0, noop.stdout[-2000:]
    _pulumi(env, project, "destroy", "--yes", "--skip-preview")
    assert hub.find_by_slug(SPACE, None, prefix) is None
