"""`serve --kubeconfig K`: one official ConfigHub bridge worker process (`cub-worker
kubernetes`, from the vendor's SDK) per BridgeWorker registered on this server.

Each process gets the environment the SDK's worker reads (CONFIGHUB_URL without a port,
CONFIGHUB_WORKER_PORT, CONFIGHUB_WORKER_ID, CONFIGHUB_WORKER_SECRET, KUBECONFIG) and talks to
this server over loopback HTTP/2 cleartext with the real protocol. The worker exits when its
stream ends, so a process that exits is started again (with backoff); a deleted BridgeWorker's
process is stopped. Processes die with the server (SIGTERM on shutdown, and the kernel's
parent-death signal if the server is killed). Their output goes to this server's log at debug
level, with the secret's prefix (which the worker prints) redacted.
"""

from __future__ import annotations

import collections
import ctypes
import logging
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from confighub_local.db import Store
from confighub_local.worker_secret import SecretBox

log = logging.getLogger("confighub_local.worker")

WORKER_BINARY_ENV = "CONFIGHUB_WORKER_BIN"
_PR_SET_PDEATHSIG = 1


class WorkerBinaryMissing(RuntimeError):
    """No official worker binary: `serve --kubeconfig` refuses to start (no fallback)."""


def find_worker_binary(explicit: str | None = None) -> str:
    """The official `cub-worker`: --worker-bin, else $CONFIGHUB_WORKER_BIN, else PATH."""
    candidate = explicit or os.environ.get(WORKER_BINARY_ENV) or shutil.which("cub-worker")
    if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
        return str(candidate)
    where = f"'{candidate}' is not an executable file" if candidate else "not on PATH"
    raise WorkerBinaryMissing(
        "serve --kubeconfig runs ConfigHub's official bridge worker `cub-worker`, but it is "
        f"{where}. "
        "Build it with `make bootstrap` (or `bash toolchain/build.sh confighub-sdk`) and "
        "`source toolchain/env.sh`, or pass --worker-bin / set CONFIGHUB_WORKER_BIN to a "
        "cub-worker built from github.com/confighub/sdk (see toolchain/README.md)."
    )


def _die_with_parent() -> None:  # runs in the child between fork and exec
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


@dataclass
class _Proc:
    worker_id: str
    secret: str
    proc: subprocess.Popen[bytes]
    started: float
    tail: collections.deque[str] = field(default_factory=lambda: collections.deque(maxlen=40))


class Supervisor:
    """Keeps one `cub-worker` per BridgeWorker running while the server runs."""

    def __init__(
        self,
        store: Store,
        box: SecretBox,
        port: int,
        kubeconfig: str,
        binary: str,
        interval: float = 1.0,
    ) -> None:
        self.store = store
        self.box = box
        self.port = port
        self.kubeconfig = kubeconfig
        self.binary = binary
        self.interval = interval
        self.stop = threading.Event()
        self.procs: dict[str, _Proc] = {}
        self._next_start: dict[str, float] = {}
        self._backoff: dict[str, float] = {}
        self._warned: set[str] = set()
        self._lock = threading.Lock()
        # the thread that forks must outlive the children (the parent-death signal is per thread)
        self._thread = threading.Thread(target=self._loop, name="worker-supervisor", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _listening(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                return True
        except OSError:
            return False

    def _loop(self) -> None:
        while not self.stop.is_set() and not self._listening():
            self.stop.wait(0.1)
        while not self.stop.is_set():
            try:
                self._reconcile()
            except Exception:  # the store may be closing during shutdown
                if not self.stop.is_set():
                    log.exception("worker supervisor")
            self.stop.wait(self.interval)

    def _reconcile(self) -> None:
        workers = {w["BridgeWorkerID"]: w for w in self.store.select("BridgeWorker")}
        with self._lock:
            for wid in [w for w in self.procs if w not in workers]:
                self._terminate([self.procs.pop(wid)])
            for wid, worker in workers.items():
                running = self.procs.get(wid)
                if running is not None and running.proc.poll() is None:
                    continue
                if running is not None:
                    self._exited(self.procs.pop(wid))
                if time.monotonic() < self._next_start.get(wid, 0.0) or self.stop.is_set():
                    continue
                secret = self.box.secret_of(worker)
                if secret is None:
                    if wid not in self._warned:
                        self._warned.add(wid)
                        log.warning(
                            "BridgeWorker %s (%s) has no readable secret (created before "
                            "secrets were sealed, or another server key): re-create it to run "
                            "its worker",
                            worker.get("Slug"),
                            wid,
                        )
                    continue
                self.procs[wid] = self._spawn(wid, secret)

    def _spawn(self, worker_id: str, secret: str) -> _Proc:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CONFIGHUB_")}
        env.update(
            CONFIGHUB_URL="http://127.0.0.1",
            CONFIGHUB_WORKER_PORT=str(self.port),
            CONFIGHUB_WORKER_ID=worker_id,
            CONFIGHUB_WORKER_SECRET=secret,
            KUBECONFIG=self.kubeconfig,
        )
        proc = subprocess.Popen(
            [self.binary, "kubernetes"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent,  # only prctl in the child
        )
        entry = _Proc(worker_id, secret, proc, time.monotonic())
        threading.Thread(
            target=self._pump, args=(entry,), name=f"worker-log-{worker_id[:8]}", daemon=True
        ).start()
        log.info("started cub-worker for BridgeWorker %s (pid %d)", worker_id, proc.pid)
        return entry

    @staticmethod
    def _pump(entry: _Proc) -> None:
        """The worker's output into our log, without the secret (it prints the first 8 chars)."""
        assert entry.proc.stdout is not None
        prefix = entry.secret[:8]
        for raw in entry.proc.stdout:
            line = raw.decode(errors="replace").rstrip()
            if prefix and prefix in line:
                line = line.replace(entry.secret, "<secret>").replace(prefix, "<secret>")
            entry.tail.append(line)
            log.debug("cub-worker %s: %s", entry.worker_id[:8], line)

    def _exited(self, entry: _Proc) -> None:
        """Schedule the restart: at once after a long run, with growing backoff after a quick
        exit (a worker that cannot connect or is refused)."""
        ran = time.monotonic() - entry.started
        wid = entry.worker_id
        delay = 0.2 if ran > 30 else min(self._backoff.get(wid, 0.25) * 2, 10.0)
        self._backoff[wid] = delay
        self._next_start[wid] = time.monotonic() + delay
        if not self.stop.is_set():
            log.warning(
                "cub-worker for BridgeWorker %s exited with %s after %.1fs; restarting in %.1fs. "
                "Last output:\n%s",
                wid,
                entry.proc.returncode,
                ran,
                delay,
                "\n".join(list(entry.tail)[-10:]),
            )

    @staticmethod
    def _terminate(entries: list[_Proc], grace: float = 3.0) -> None:
        for entry in entries:
            if entry.proc.poll() is None:
                entry.proc.terminate()
        deadline = time.monotonic() + grace
        for entry in entries:
            try:
                entry.proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                entry.proc.kill()
                entry.proc.wait(5)

    def running(self) -> dict[str, int]:
        """BridgeWorkerID -> pid of the processes alive now (tests, diagnostics)."""
        with self._lock:
            return {w: p.proc.pid for w, p in self.procs.items() if p.proc.poll() is None}

    def shutdown(self) -> None:
        self.stop.set()
        with self._lock:
            entries = list(self.procs.values())
            self.procs.clear()
        self._terminate(entries)
