"""End to end on the real engine, the local server with its worker and the local kwok cluster,
through the `traderx` console script. One deployment of dev, staging and prod serves every test
(in file order; the last one wipes everything and rebuilds it):

- drift: a scaled dev Deployment is detected, classified low and corrected by `drift watch`
  within its interval; an image set by hand in prod is classified high and reported with its
  writer, not corrected; a NetworkPolicy deleted by hand is reported by the Pulumi layer;
- DR: back up the three environments, wipe the server's database and the cluster's Deployments,
  `traderx dr rebuild dev staging prod` (adopted in order, deployed side by side); every
  workload is available, unit data, revision history and tags are identical field by field,
  and the next `pulumi up` changes nothing.

`kubectl` is not part of the toolchain, so the hand edits are the API calls kubectl makes, under
kubectl's field-manager names (`kubectl` for scale, `kubectl-set` for set image).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client as kclient
from kubernetes import config as kconfig

from tests.ops import dr_flow
from tests.ops.compare import differences, normalised

pytestmark = [pytest.mark.engine, pytest.mark.cluster, pytest.mark.slow]

# Live state moves with every apply; the redeploy applies again, so these are not history.
# A unit's BridgeWorkerID is derived from its target's worker, which the redeploy re-creates
# (Pulumi adopts the restored worker, whose secret no one knows, by making a new one); the
# local server keeps the unit's copy from when its TargetID was set.
LIVE = {"LiveRevisionNum", "LastAppliedRevisionNum", "PreviousLiveRevisionNum",
        "HeadUnitActionNum", "HeadUnitEventNum", "LastActionAt", "LiveState", "LiveData",
        "BridgeState", "Values", "ValidationResults", "BridgeWorkerID"}  # fmt: skip
WATCH_INTERVAL = 3.0


@pytest.fixture(scope="module")
def flow(toolchain: Any, kube_cluster: Any) -> Iterator[dr_flow.Flow]:
    with tempfile.TemporaryDirectory(prefix="ops-e2e-") as tmp:
        deployed = dr_flow.deploy(
            Path(tmp), toolchain.env, Path(kube_cluster.kubeconfig), kube_cluster.context
        )
        try:
            yield deployed
        finally:
            dr_flow.teardown(deployed)


def _api(flow: dr_flow.Flow) -> kclient.ApiClient:
    return kconfig.new_client_from_config(config_file=str(flow.kubeconfig))


def test_cost_stack_output_matches_the_cost_command(flow: dr_flow.Flow) -> None:
    report = flow.traderx("cost", "--prefix", flow.prefix)
    for env in dr_flow.ENVS:
        output = flow.stacks.outputs(env)["cost"]
        assert output["unknown"] == [], output
        mine = {u["unit"]: u["monthly"] for u in report["units"] if u["environment"] == env}
        assert output["units"] == {k: v for k, v in mine.items() if v}, env
        assert output["total"] == report["environments"][env] > 0, env


def test_scaled_dev_deployment_is_corrected_within_the_interval(flow: dr_flow.Flow) -> None:
    audit = flow.work / "audit.jsonl"
    took = dr_flow.drift_correction(flow, audit, WATCH_INTERVAL)
    print(
        f"\ndrift detected and corrected {took:.1f} s after kubectl scale "
        f"(interval {WATCH_INTERVAL} s)"
    )
    # drift_correction fails unless the watch corrects it within 3 rounds + 30 s; the design's
    # 15 s goal is a benchmark figure (benchmarks/restore_bench.py), not a timed test
    records = [json.loads(line) for line in audit.read_text().splitlines()]
    (record,) = [r for r in records if r["path"] == "spec.replicas"]
    assert record["rule"] == "replica-count" and record["unit"] == "trade-service"
    assert record["from"] == 3 and record["to"] == 1
    assert record["driftWrittenBy"]["manager"] == "kubectl"
    assert record["by"].startswith("traderx drift (") and record["action"].startswith("corrected")
    assert dr_flow.unavailable(flow, "dev") == []


def test_image_set_by_hand_in_prod_is_reported_with_its_writer_not_corrected(
    flow: dr_flow.Flow,
) -> None:
    image = "ghcr.io/finos/traderx/trade-service:set-by-hand"
    kclient.AppsV1Api(_api(flow)).patch_namespaced_deployment(
        "trade-service",
        flow.namespace("prod"),
        {
            "spec": {
                "template": {"spec": {"containers": [{"name": "trade-service", "image": image}]}}
            }
        },
        field_manager="kubectl-set",
    )
    report = flow.traderx(
        "drift", "check", "prod", "--prefix", flow.prefix, "--context", flow.context, codes=(7,)
    )
    found = [d for d in report["drift"] if d["unit"] == "trade-service"]
    assert [d["path"] for d in found] == ["spec.template.spec.containers[trade-service].image"]
    (drifted,) = found
    assert drifted["risk"] == "high" and drifted["rule"] == "images"
    assert drifted["live"] == image and drifted["writer"]["manager"] == "kubectl-set"
    assert drifted["writer"]["time"] and drifted["action"] == "reported"
    d: Any = flow.apps().read_namespaced_deployment("trade-service", flow.namespace("prod"))
    assert d.spec.template.spec.containers[0].image == image, "high risk is never corrected"


def test_networkpolicy_deleted_by_hand_is_reported_by_pulumi_refresh(flow: dr_flow.Flow) -> None:
    kclient.NetworkingV1Api(_api(flow)).delete_namespaced_network_policy(
        "allow-dns-egress", flow.namespace("dev")
    )
    report = flow.traderx(
        "drift",
        "check",
        "dev",
        "--prefix",
        flow.prefix,
        "--context",
        flow.context,
        "--stack",
        "dev",
        "--project-dir",
        str(flow.stacks.project),
        codes=(7,),
    )
    print(f"\npulumi layer: {report['pulumi']}")
    gone = [c for c in report["pulumi"] if c["op"] == "deleted"]
    assert [c["name"] for c in gone] == ["traderx-dev-platform-np-allow-dns-egress"], report[
        "pulumi"
    ]
    assert [d for d in report["drift"] if d["risk"] == "high"] == []


def test_last_drift_result_in_the_audit_timeline_and_the_stack_output(flow: dr_flow.Flow) -> None:
    dev = flow.traderx("audit", "env", "dev", "--prefix", flow.prefix)["events"]
    replicas = [e for e in dev if e["event"].startswith("drift-") and e["path"] == "spec.replicas"]
    assert [e["event"] for e in replicas] == ["drift-detected", "drift-corrected"], replicas
    for e in replicas:
        assert e["unit"] == "trade-service" and e["rule"] == "replica-count" and e["when"]
        assert e["who"].startswith("traderx drift (") and e["writer"]["manager"] == "kubectl"
    assert replicas[1]["action"].startswith("corrected")
    gone = [e for e in dev if e["event"] == "drift-detected" and e["unit"] == "(pulumi)"]
    assert [e["rule"] for e in gone] == ["pulumi-refresh"] and "allow-dns-egress" in str(gone)
    prod = flow.traderx("audit", "unit", "prod", "trade-service", "--prefix", flow.prefix)
    (image,) = [e for e in prod["events"] if e["event"].startswith("drift-")]
    assert image["event"] == "drift-detected" and image["rule"] == "images"
    assert image["risk"] == "high" and image["writer"]["manager"] == "kubectl-set"
    # the record changed since prod's last up: the output follows, no resource changes
    flow.stacks.up("prod", "--expect-no-changes")
    last = flow.stacks.outputs("prod")["lastDrift"]
    assert last["status"] == "drift" and last["remaining"] == 1 and last["high"] == 1, last
    assert last["latest"][-1]["rule"] == "images" and last["by"].startswith("traderx drift (")


def test_switch_cluster_moves_dev_and_pulumi_agrees(flow: dr_flow.Flow) -> None:
    dr_config = flow.work / "dr-kubeconfig.yaml"
    result = flow.traderx(
        "dr",
        "switch-cluster",
        "dev",
        "--kubeconfig",
        str(dr_config),
        "--context",
        dr_flow.DR_CONTEXT,
        "--prefix",
        flow.prefix,
        "--project-dir",
        str(flow.stacks.project),
    )
    assert result["previous"] == {
        "traderx:kubeconfig": str(flow.kubeconfig),
        "traderx:kubeContext": flow.context,
    }
    assert len(result["apply"]["applied"]) == 11, result["apply"]
    config = yaml.safe_load(flow.stacks.config_file("dev").read_text())["config"]
    assert config["traderx:kubeContext"] == dr_flow.DR_CONTEXT
    assert config["traderx:kubeconfig"] == str(dr_config.resolve())
    with flow.hub.client() as http:
        space = http.get("/space", params={"where": f"Slug = '{flow.prefix}-traderx-dev'"}).json()
        targets = http.get(f"/space/{space[0]['Space']['SpaceID']}/target").json()
    params = json.loads(targets[0]["Target"]["Parameters"])
    assert params["KubeContext"] == dr_flow.DR_CONTEXT, "the Target follows the stack"
    assert dr_flow.unavailable(flow, "dev") == []
    flow.stacks.up("dev", "--expect-no-changes")  # Pulumi and ConfigHub agree


def _strip_live(doc: Any) -> Any:
    if isinstance(doc, dict):
        return {k: _strip_live(v) for k, v in doc.items() if k not in LIVE}
    if isinstance(doc, list):
        return [_strip_live(v) for v in doc]
    return doc


def test_backup_wipe_restore_redeploy(flow: dr_flow.Flow) -> None:
    data = {env: dr_flow.volume_files(v) for env, v in flow.volumes.items()}
    taken = dr_flow.backup(flow, flow.work / "b1")
    assert taken["counts"]["space"] == 5 and taken["counts"]["unit"] == 44, taken["counts"]
    assert taken["counts"].get("database", 0) == len(flow.volumes), taken["counts"]
    workers = [
        w
        for path in sorted((flow.work / "b1" / "spaces").glob("*/bridge_worker.json"))
        for w in json.loads(path.read_text())
    ]
    assert workers, "the backup holds the environments' bridge workers"
    for worker in workers:  # credentials, and what the running worker announces, are not backed up
        assert not {"Secret", "SecretHash", "ProvidedInfo"} & worker.keys(), worker["Slug"]
    dr_flow.wipe(flow)
    with flow.hub.client() as http:
        assert http.get("/space").json() == [], "the database was wiped"
    report = dr_flow.rebuild(flow, flow.work / "b1", *dr_flow.ENVS)  # side by side
    assert report["restore"]["warnings"] == [], report["restore"]
    assert report["environments"] == list(dr_flow.ENVS), report["environments"]
    for env in dr_flow.ENVS:
        # the first up only adopted (applies deferred); the second applied every unit
        assert report["adopt"][env]["result"] == "succeeded", report["adopt"][env]
        assert report["up"][env]["changes"].get("update", 0) >= 11, report["up"][env]
        assert dr_flow.unavailable(flow, env) == [], env
        if env in flow.volumes:  # the database's data directory is back, byte for byte
            db = report["database"][env]
            assert db is not None and db["bytes"] > 64 * 1024, report["database"]
            assert dr_flow.volume_files(flow.volumes[env]) == data[env], env
    print(f"\nDR timings: {flow.timings}")
    dr_flow.backup(flow, flow.work / "b2")
    before, after = normalised(flow.work / "b1"), normalised(flow.work / "b2")
    assert before.keys() == after.keys()
    for rel in before:
        a, b = _strip_live(before[rel]), _strip_live(after[rel])
        assert a == b, (rel, differences(a, b))
    for env in dr_flow.ENVS:
        flow.stacks.up(env, "--expect-no-changes")
