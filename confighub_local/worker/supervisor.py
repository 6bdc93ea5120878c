"""Runs a WorkerRunner for every BridgeWorker registered on this server (`serve --kubeconfig`),
talking to the server over loopback HTTP (the real protocol) with the server's own token,
since worker secrets are stored only as hashes."""

from __future__ import annotations

import logging
import threading

from confighub_local.db import Store
from confighub_local.worker.runner import ExecutorFactory, WorkerRunner

log = logging.getLogger("confighub_local.worker")


class Supervisor:
    def __init__(
        self, store: Store, url: str, token: str, factory: ExecutorFactory, interval: float = 1.0
    ) -> None:
        self.token = token  # the server's own token: worker secrets are stored only hashed
        self.store = store
        self.url = url
        self.factory = factory
        self.interval = interval
        self.stop = threading.Event()
        self.runners: dict[str, tuple[WorkerRunner, threading.Thread]] = {}
        self._thread = threading.Thread(target=self._loop, name="worker-supervisor", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _loop(self) -> None:
        while not self.stop.is_set():
            try:
                workers = {w["BridgeWorkerID"]: w for w in self.store.select("BridgeWorker")}
            except Exception:  # the store may be closing during shutdown
                log.exception("supervisor could not list workers")
                workers = {}
            for wid in workers:
                if wid not in self.runners:
                    runner = WorkerRunner(
                        self.url, wid, self.token, self.factory, stop=threading.Event()
                    )
                    thread = threading.Thread(
                        target=runner.run, name=f"worker-{wid[:8]}", daemon=True
                    )
                    thread.start()
                    self.runners[wid] = (runner, thread)
            for wid in [w for w in self.runners if w not in workers]:
                self.runners.pop(wid)[0].shutdown()
            self.stop.wait(self.interval)

    def shutdown(self) -> None:
        self.stop.set()
        for runner, _ in self.runners.values():
            runner.shutdown()
