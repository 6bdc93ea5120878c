"""toolchain/cluster.sh on a cluster of its own: up twice, recovery after a crash, clean down.

Uses a separate cluster name so the suite's shared cluster is not disturbed.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import yaml

from tests.support.toolchain import TOOLCHAIN_DIR, Toolchain

pytestmark = [pytest.mark.engine, pytest.mark.slow]


def cluster_sh(
    env: dict[str, str], *args: str, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(TOOLCHAIN_DIR / "cluster.sh"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def component_pids(cluster_dir: Path) -> dict[str, int]:
    """Component name -> pid, as kwokctl recorded them."""
    return {p.stem: int(p.read_text().strip()) for p in (cluster_dir / "pids").glob("*.pid")}


def alive(pid: int) -> bool:
    """Running, that is: present and not a zombie waiting for init to reap it."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def runs_from(pid: int, directory: Path) -> bool:
    """The process runs one of the cluster's binaries or files (its command line names the
    cluster's directory). This machine's PIDs wrap at 32768, so a recorded PID may already
    belong to another process seconds after the component exited."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return f"{directory}/" in cmdline


def processes_of(directory: Path) -> list[int]:
    """Every running process whose command line names the cluster's directory."""
    return [
        int(proc.name)
        for proc in Path("/proc").glob("[0-9]*")
        if alive(int(proc.name)) and runs_from(int(proc.name), directory)
    ]


def apiserver_port(kubeconfig: Path) -> int:
    server = yaml.safe_load(kubeconfig.read_text())["clusters"][0]["cluster"]["server"]
    return int(server.rsplit(":", 1)[1])


def listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_up_twice_crash_recovery_and_clean_down(toolchain: Toolchain) -> None:
    name = f"lifecycle-{uuid.uuid4().hex[:6]}"
    env = {**toolchain.env, "TRADERX_CLUSTER_NAME": name}
    workdir = Path(env["TRADERX_CACHE"]) / "kwok-state"
    cluster_dir = workdir / "clusters" / name
    try:
        first = cluster_sh(env, "up")
        assert first.returncode == 0, first.stderr
        kubeconfig = Path(first.stdout.strip().splitlines()[-1])
        assert kubeconfig == cluster_dir / "kubeconfig.yaml" and kubeconfig.is_file()
        assert cluster_sh(env, "status").returncode == 0

        started = time.monotonic()
        again = cluster_sh(env, "up")
        assert again.returncode == 0, again.stderr
        assert "already running" in again.stderr
        assert time.monotonic() - started < 15

        # Crash: the API server dies without kwokctl knowing; `up` must bring it back.
        pids = component_pids(cluster_dir)
        os.kill(pids["kube-apiserver"], signal.SIGKILL)
        time.sleep(1)
        assert cluster_sh(env, "status").returncode == 1
        recovered = cluster_sh(env, "up")
        assert recovered.returncode == 0, recovered.stderr
        assert cluster_sh(env, "status").returncode == 0
    finally:
        pids = component_pids(cluster_dir) if cluster_dir.exists() else {}
        port = apiserver_port(cluster_dir / "kubeconfig.yaml") if cluster_dir.exists() else None
        down = cluster_sh(env, "down")
    assert down.returncode == 0, down.stderr
    assert pids, "the cluster recorded no component pids"
    assert [n for n, pid in pids.items() if alive(pid) and runs_from(pid, cluster_dir)] == []
    assert processes_of(cluster_dir) == [], "a process of the cluster outlived `down`"
    assert port is not None and not listening(port)
    assert not cluster_dir.exists()
