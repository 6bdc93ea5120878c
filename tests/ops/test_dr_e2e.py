"""End to end (real engine, local server with its worker, local kwok cluster): back up the three
environments, wipe the server's database and the cluster's Deployments, restore and redeploy
each environment with `traderx dr rebuild`; every workload is available, unit data, revision
history and tags are identical field by field, and the next `pulumi up` changes nothing."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest

from tests.ops import dr_flow
from tests.ops.compare import differences, normalised

pytestmark = [pytest.mark.engine, pytest.mark.cluster, pytest.mark.slow]

# Live state moves with every apply; the redeploy applies again, so these are not history.
LIVE = {
    "LiveRevisionNum",
    "LastAppliedRevisionNum",
    "PreviousLiveRevisionNum",
    "HeadUnitActionNum",
    "HeadUnitEventNum",
    "LastActionAt",
    "LiveState",
    "LiveData",
    "BridgeState",
    "Values",
    "ValidationResults",
}


def _strip_live(doc: Any) -> Any:
    if isinstance(doc, dict):
        return {k: _strip_live(v) for k, v in doc.items() if k not in LIVE}
    if isinstance(doc, list):
        return [_strip_live(v) for v in doc]
    return doc


def test_backup_wipe_restore_redeploy(toolchain: Any, kube_cluster: Any) -> None:
    with tempfile.TemporaryDirectory(prefix="dr-e2e-") as tmp:
        work = Path(tmp)
        flow = dr_flow.deploy(
            work, toolchain.env, Path(kube_cluster.kubeconfig), kube_cluster.context
        )
        try:
            for env in dr_flow.ENVS:
                assert dr_flow.unavailable(flow, env) == [], env
            taken = dr_flow.backup(flow, work / "b1")
            assert taken["counts"]["space"] == 5 and taken["counts"]["unit"] == 44
            dr_flow.wipe(flow)
            with flow.hub.client() as http:
                assert http.get("/space").json() == [], "the database was wiped"
            for env in dr_flow.ENVS:
                report = dr_flow.rebuild(flow, work / "b1", env)
                assert report["restore"]["warnings"] == [], report["restore"]
                assert dr_flow.unavailable(flow, env) == [], env
            dr_flow.backup(flow, work / "b2")
            before, after = normalised(work / "b1"), normalised(work / "b2")
            assert before.keys() == after.keys()
            for rel in before:
                a, b = _strip_live(before[rel]), _strip_live(after[rel])
                assert a == b, (rel, differences(a, b))
            for env in dr_flow.ENVS:
                flow.stacks.up(env, "--expect-no-changes")
        finally:
            dr_flow.teardown(flow)
