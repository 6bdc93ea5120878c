"""The e2e tests' local ConfigHub server (one per test module)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.server import ServerProcess


@pytest.fixture(scope="module")
def hub(kube_cluster: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """The local server with --kubeconfig: it runs the bridge worker for our BridgeWorkers."""
    server = ServerProcess(
        tmp_path_factory.mktemp("hub"), extra_args=["--kubeconfig", str(kube_cluster.kubeconfig)]
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()
