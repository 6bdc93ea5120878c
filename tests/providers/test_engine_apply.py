"""Unit apply/destroy through the real engine, the real local server and its real worker protocol.

The bridge worker is tests/support/sdk_worker.py, which speaks the official worker's wire
protocol (h2c stream + action_result, worker secret from the BridgeWorker resource's secret
output); only the last step - talking to a Kubernetes cluster - is replaced by a recording
executor that can be told to fail, so apply success, failure (reason surfaced, unit named) and
timeout are all exercised without a cluster (test_cluster_apply.py runs the official worker).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pulumi
import pytest
from pulumi.automation import CommandError

from components.confighub import BridgeWorker, Space, Target, Unit
from components.confighub.client import ConfigHubClient
from tests.support.sdk_worker import Outcome, SdkWorker

from .engine import EngineStack, changes

pytestmark = pytest.mark.engine

FAIL_MARKER = "reject-me"


class RecordingExecutor:
    """Stands in for the cluster: records what was applied/destroyed, fails on a marker."""

    def __init__(self, log: list[tuple[str, str]]) -> None:
        self.log = log

    def apply(self, data: bytes) -> Outcome:
        text = data.decode()
        if FAIL_MARKER in text:
            return Outcome(False, "ApplyFailed", f"admission denied: found {FAIL_MARKER}")
        self.log.append(("apply", text))
        return Outcome(True, "ApplyCompleted", "applied")

    def destroy(self, data: bytes) -> Outcome:
        self.log.append(("destroy", data.decode()))
        return Outcome(True, "DestroyCompleted", "destroyed")

    def refresh(self, data: bytes) -> Outcome:
        return Outcome(True, "RefreshAndNoDrift", "no drift")


class Worker:
    def __init__(self, url: str, worker_id: str, secret: str, log: list[tuple[str, str]]):
        self.stop = threading.Event()
        self.runner = SdkWorker(
            url, worker_id, secret, lambda _p: RecordingExecutor(log), stop=self.stop
        )
        self.thread = threading.Thread(target=self.runner.run, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.runner.shutdown()
        self.thread.join(15)


def cm(name: str, value: str) -> str:
    return f"apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}}}\ndata: {{v: '{value}'}}\n"


def test_apply_wait_failure_timeout_and_destroy(
    toolchain: Any,
    pulumi_backend: str,
    confighub_server: Any,
    hub: ConfigHubClient,
    tmp_path: Path,
    unique: str,
) -> None:
    spec: dict[str, Any] = {"units": {}, "timeout": 60}

    def program() -> None:
        space = Space("space", slug=f"apply-{unique}")
        worker = BridgeWorker("worker", space_id=space.space_id, slug="worker")
        target = Target(
            "target",
            space_id=space.space_id,
            slug="cluster",
            bridge_worker_id=worker.worker_id,
            provider_type="Kubernetes",
            toolchain_type="Kubernetes/YAML",
        )
        pulumi.export("space_id", space.space_id)
        pulumi.export("worker_id", worker.worker_id)
        pulumi.export("secret", worker.secret)
        for slug, data in spec["units"].items():
            unit = Unit(
                slug,
                space_id=space.space_id,
                slug=slug,
                data=data,
                target_id=target.target_id,
                apply_timeout_seconds=spec["timeout"],
            )
            pulumi.export(f"{slug}_id", unit.unit_id)

    st = EngineStack(
        "apply",
        program,
        toolchain=toolchain,
        backend=pulumi_backend,
        url=confighub_server.url,
        token=confighub_server.token,
        workdir=tmp_path,
    )
    out = {k: v.value for k, v in st.up().outputs.items()}
    space_id = out["space_id"]
    log: list[tuple[str, str]] = []
    worker = Worker(confighub_server.url, out["worker_id"], out["secret"], log)
    try:
        # create + apply: the step waits until the worker reports Completed
        spec["units"] = {"web": cm("web", "1"), "db": cm("db", "1")}
        out = {k: v.value for k, v in st.up().outputs.items()}
        for slug in ("web", "db"):
            unit = hub.get_unit(space_id, out[f"{slug}_id"])
            assert unit.live_revision_num == unit.head_revision_num == 1, slug
        assert sorted(t for a, t in log if a == "apply") == sorted(spec["units"].values())

        # no-op: no API call, no apply
        st.reset_calls()
        applies = len(log)
        assert set(changes(st.up())) == {"same"}
        assert st.calls().writes == 0 and len(log) == applies

        # change one unit: exactly it is written and re-applied
        spec["units"]["web"] = cm("web", "2")
        res = st.up()
        assert changes(res).get("update") == 1
        assert log[-1] == ("apply", cm("web", "2"))
        web = hub.get_unit(space_id, out["web_id"])
        assert web.live_revision_num == web.head_revision_num == 2

        # the worker rejects: the step fails naming the unit and the worker's reason
        spec["units"]["web"] = cm("web", FAIL_MARKER)
        with pytest.raises(CommandError) as err:
            st.up()
        assert "'web'" in str(err.value) and f"admission denied: found {FAIL_MARKER}" in str(
            err.value
        )
        spec["units"]["web"] = cm("web", "3")
        st.up()
        web = hub.get_unit(space_id, out["web_id"])
        assert web.live_revision_num == web.head_revision_num

        # no worker: the apply times out, naming the unit; once the worker is back, up converges
        worker.close()
        spec["timeout"] = 3
        spec["units"]["db"] = cm("db", "2")
        with pytest.raises(CommandError) as err:
            st.up()
        assert "'db'" in str(err.value) and "did not finish within 3s" in str(err.value)
        worker = Worker(confighub_server.url, out["worker_id"], out["secret"], log)
        spec["timeout"] = 60
        st.up()
        db = hub.get_unit(space_id, out["db_id"])
        assert db.live_revision_num == db.head_revision_num
        st.reset_calls()
        assert set(changes(st.up())) == {"same"} and st.calls().writes == 0

        # a create whose apply fails is rolled back: no orphan the engine does not know of
        spec["units"]["bad"] = cm("bad", FAIL_MARKER)
        with pytest.raises(CommandError) as err:
            st.up()
        assert "'bad'" in str(err.value) and "rolled back" in str(err.value)
        assert ("destroy", cm("bad", FAIL_MARKER)) in log
        with confighub_server.client() as c:
            left = c.get(f"/space/{space_id}/unit", params={"where": "Slug = 'bad'"}).json()
        assert left == []
        del spec["units"]["bad"]
        st.reset_calls()
        assert set(changes(st.up())) == {"same"} and st.calls().writes == 0

        # destroy: each applied unit is destroyed on the target, then deleted
        destroys_before = sum(1 for a, _ in log if a == "destroy")
        st.destroy()
        assert sum(1 for a, _ in log if a == "destroy") - destroys_before == 2
    finally:
        worker.close()
