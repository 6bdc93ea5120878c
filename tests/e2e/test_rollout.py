"""Issue #14 must-show, end to end: real engine (dev, staging, prod from empty), the local server
with the official worker, a kwok cluster with the failure stages; `traderx rollout` as an
operator runs it. One deployment serves every test, in file order (canary first: it steps
traffic off the stable Deployment; blue-green then moves the Service to the slots).

Short delays via options (pause 1 s, delay 3-20 s), so the module takes a few minutes.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from components.confighub.yamldata import documents
from operator_cli.rollout.hub_io import RECORD
from tests.e2e import rollout_flow as rf
from tests.ops import dr_flow

pytestmark = [pytest.mark.engine, pytest.mark.cluster, pytest.mark.slow]

FAST = ["--interval", "0.3", "--ready-timeout", "20", "--check-command", "true"]


@pytest.fixture(scope="module")
def flow(toolchain: Any) -> Iterator[dr_flow.Flow]:
    with (
        tempfile.TemporaryDirectory(prefix="rollout-e2e-") as tmp,
        rf.deployed(Path(tmp), toolchain.env) as deployed,
    ):
        yield deployed


def cli(flow: dr_flow.Flow, *args: str, codes: tuple[int, ...] = (0,)) -> dict[str, Any]:
    return flow.traderx("rollout", *args, "--prefix", flow.prefix, "--kubeconfig",
                        str(flow.kubeconfig), "--context", flow.context, codes=codes)  # fmt: skip


def prod_units(flow: dr_flow.Flow) -> dict[str, Any]:
    with flow.hub.client() as http:
        space = http.get("/space", params={"where": f"Slug = '{flow.prefix}-traderx-prod'"}).json()
        sid = space[0].get("Space", space[0])["SpaceID"]
        units = [u.get("Unit", u) for u in http.get(f"/space/{sid}/unit").json()]
        return {u["Slug"]: http.get(f"/space/{sid}/unit/{u['UnitID']}").json() for u in units}


def unit_docs(unit: dict[str, Any]) -> list[Any]:
    import base64

    body = unit.get("Unit", unit)
    return [d for d in documents(base64.b64decode(body["Data"]).decode()) if d]


def stable_image(flow: dr_flow.Flow) -> str:
    d: Any = flow.apps().read_namespaced_deployment("trade-service", flow.namespace("prod"))
    return str(d.spec.template.spec.containers[0].image)


def replicas(flow: dr_flow.Flow, name: str) -> int | None:
    try:
        d: Any = flow.apps().read_namespaced_deployment(name, flow.namespace("prod"))
    except Exception:
        return None
    return int(d.spec.replicas)


def no_changes(flow: dr_flow.Flow) -> None:
    """`pulumi preview -s prod` plans nothing: Pulumi, ConfigHub and the cluster agree."""
    flow.stacks.preview("prod", "--expect-no-changes")


def test_bad_input_is_refused_before_anything_changes(flow: dr_flow.Flow) -> None:
    before = prod_units(flow)
    bad = cli(flow, "bluegreen", "--image", f"{rf.IMAGE}:9", "--slot", "purple", codes=(4,))
    assert "allowed slots are blue, green" in bad["error"]
    bad = cli(flow, "canary", "--image", f"{rf.IMAGE}:9", "--steps", "10,30,100", codes=(4,))
    assert "weight 30 is not a configured step: allowed 0, 10, 25, 50, 100" in bad["error"]
    bad = cli(flow, "canary", "--image", f"{rf.IMAGE}:9", "--check-command", "no-such-smoke",
              codes=(4,))  # fmt: skip
    assert "'no-such-smoke' does not exist" in bad["error"]
    bad = cli(flow, "canary", "--image", f"{rf.IMAGE}:latest", codes=(4,))
    assert "is not pinned" in bad["error"]
    after = prod_units(flow)
    assert set(after) == set(before)
    assert {s: u.get("Unit", u)["HeadRevisionNum"] for s, u in after.items()} == {
        s: u.get("Unit", u)["HeadRevisionNum"] for s, u in before.items()
    }


def test_canary_success_steps_all_weights_and_promotes(flow: dr_flow.Flow) -> None:
    staging = flow.stacks.outputs("staging")["unitRevisions"]["trade-service"]
    image = f"{rf.IMAGE}:3.0.0"
    result = cli(flow, "canary", "--staging-revision", str(staging), "--image", image,
                 "--pause", "1", *FAST)  # fmt: skip
    assert result["ok"] and result["state"]["phase"] == "Done"
    weights = [h["weight"] for h in result["history"] if h["event"] == "phase Stepping"]
    assert weights == [10, 25, 50, 100]
    assert stable_image(flow) == image
    assert rf.canary_weight(flow) is None and replicas(flow, "trade-service-canary") is None
    units = prod_units(flow)
    assert "trade-service-canary" not in units
    (dep,) = [d for d in unit_docs(units["trade-service"]) if d["kind"] == "Deployment"]
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == image
    # the audit: every step is a revision of the record
    record = units[RECORD].get("Unit", units[RECORD])
    assert record["HeadRevisionNum"] >= 7
    no_changes(flow)


def test_canary_failure_at_25_aborts_to_zero_and_prod_is_as_before(flow: dr_flow.Flow) -> None:
    before = prod_units(flow)
    image_before = stable_image(flow)
    # a long pause, so the failure always lands in step 1 on a busy machine (the abort ends it)
    proc = rf.start(flow, "canary", "--image", f"{rf.IMAGE}:3.1.0", "--pause", "60", *FAST)
    rf.wait("canary at 25 %", lambda: rf.canary_weight(flow) == 25, 120, proc)
    # the weight is exact: only the canary Ingress reaches canary pods, never the stable Service
    canary_pods = rf.pod_names(flow, "app.kubernetes.io/name=trade-service,"
                               "traderx.finos.org/track=canary")  # fmt: skip
    stable_pods = rf.pod_names(flow, "app.kubernetes.io/name=trade-service,"
                               "traderx.finos.org/track=stable")  # fmt: skip
    assert canary_pods and stable_pods and not canary_pods & stable_pods
    rf.wait("canary endpoints", lambda: rf.endpoint_pods(flow, "trade-service-canary") ==
            canary_pods, 10, proc)  # fmt: skip
    rf.wait("stable endpoints", lambda: rf.endpoint_pods(flow, "trade-service") ==
            stable_pods, 10, proc)  # fmt: skip
    assert not rf.endpoint_pods(flow, "trade-service") & canary_pods
    failed_at = rf.inject_failure(
        flow, "app.kubernetes.io/name=trade-service,traderx.finos.org/track=canary"
    )
    code, out, err = rf.finish(proc)
    assert code == 1, err[-3000:]
    result = json.loads(out)
    state = result["state"]
    assert state["phase"] == "Aborted" and state["weight"] == 0 and state["step"] == 1
    assert "not Ready" in state["reason"]
    (zero,) = [h for h in result["history"] if h["event"] == "canary at weight 0, scaled to 0"]
    abort_s = zero["at"] - failed_at
    print(f"\ncanary abort: {abort_s:.1f} s from failure to weight 0")
    # the design's 15 s goal is a benchmark figure (benchmarks/rollout_bench.py); here the abort
    # must come from the health check, well before the pause would have ended
    assert abort_s < 45, "the abort followed the failure"
    assert rf.canary_weight(flow) is None and replicas(flow, "trade-service-canary") is None
    after = prod_units(flow)
    assert set(after) == set(before)
    for slug in before:
        if slug != RECORD:
            assert unit_docs(after[slug]) == unit_docs(before[slug]), slug
    assert stable_image(flow) == image_before
    no_changes(flow)


def test_blue_green_success_switches_and_scales_the_old_slot_down(flow: dr_flow.Flow) -> None:
    assert replicas(flow, "trade-service") == 3
    first = cli(flow, "bluegreen", "--image", f"{rf.IMAGE}:4.0.0", "--delay", "1", *FAST)
    assert first["ok"] and first["state"]["active"] == "blue" and rf.service_slot(flow) == "blue"
    # prod's stack handed the stable's replicas over: once blue serves, the stable goes to 0
    events = [h["event"] for h in first["history"]]
    assert events.index("traffic on blue") < events.index("stable scaled to 0")
    assert replicas(flow, "trade-service") == 0 and replicas(flow, "trade-service-blue") == 3
    flow.stacks.preview("prod", "--refresh", "--expect-no-changes")
    result = cli(flow, "bluegreen", "--image", f"{rf.IMAGE}:4.1.0", "--delay", "3", *FAST)
    assert result["ok"] and result["state"]["active"] == "green"
    assert rf.service_slot(flow) == "green"
    events = [h["event"] for h in result["history"]]
    assert events.index("traffic on green") < events.index("slot blue scaled to 0")
    (switched,) = [h for h in result["history"] if h["event"] == "traffic on green"]
    (down,) = [h for h in result["history"] if h["event"] == "slot blue scaled to 0"]
    assert down["at"] - switched["at"] >= 3, "blue stayed warm for the delay"
    assert replicas(flow, "trade-service-blue") == 0
    assert replicas(flow, "trade-service-green") == 3
    no_changes(flow)


def test_blue_green_validation_failure_keeps_traffic(flow: dr_flow.Flow) -> None:
    result = cli(flow, "bluegreen", "--image", f"{rf.IMAGE}:4.2.0", "--delay", "3",
                 "--interval", "0.3", "--ready-timeout", "20", "--check-command", "false",
                 codes=(1,))  # fmt: skip
    state = result["state"]
    assert state["phase"] == "Failed" and state["active"] == "green"
    assert "check command false exited 1" in state["reason"]
    assert "traffic on blue" not in [h["event"] for h in result["history"]]
    assert rf.service_slot(flow) == "green"
    assert replicas(flow, "trade-service-blue") == 0


def test_blue_green_late_failure_switches_back(flow: dr_flow.Flow) -> None:
    # a long warm delay, so a busy machine still sees the failure inside it (the switch-back
    # ends the rollout)
    proc = rf.start(flow, "bluegreen", "--image", f"{rf.IMAGE}:4.3.0", "--delay", "120", *FAST)
    rf.wait("traffic on blue", lambda: rf.service_slot(flow) == "blue", 120, proc)
    failed_at = rf.inject_failure(
        flow, "app.kubernetes.io/name=trade-service,traderx.finos.org/slot=blue"
    )
    back = rf.wait("traffic back on green", lambda: rf.service_slot(flow) == "green", 90)
    code, out, err = rf.finish(proc)
    assert code == 1, err[-3000:]
    state = json.loads(out)["state"]
    assert state["phase"] == "SwitchedBack" and state["active"] == "green"
    back_wall = time.time() - (time.monotonic() - back)
    print(f"\nblue-green switch-back: {back_wall - failed_at:.1f} s from failure to traffic back")
    assert replicas(flow, "trade-service-blue") == 0
    no_changes(flow)


def test_second_rollout_refused_and_manual_abort(flow: dr_flow.Flow) -> None:
    proc = rf.start(flow, "bluegreen", "--image", f"{rf.IMAGE}:4.4.0", "--delay", "60", *FAST)
    rf.wait("traffic on blue", lambda: rf.service_slot(flow) == "blue", 120, proc)
    second = cli(flow, "canary", "--image", f"{rf.IMAGE}:5", codes=(3,))
    assert "only one rollout runs at a time" in second["error"]
    flow.traderx("rollout", "abort", "--prefix", flow.prefix, "--reason", "test")
    code, out, _err = rf.finish(proc)
    state = json.loads(out)["state"]
    assert code == 1 and state["phase"] == "SwitchedBack"
    assert state["reason"].startswith("aborted by operator: test")
    assert rf.service_slot(flow) == "green"
    status = flow.traderx("rollout", "status", "--prefix", flow.prefix)
    assert status["activeSlot"] == "green" and status["record"]["state"]["phase"] == "SwitchedBack"


def unit_head(flow: dr_flow.Flow, slug: str) -> tuple[int, str]:
    body = prod_units(flow)[slug].get("Unit", prod_units(flow)[slug])
    return int(body["HeadRevisionNum"]), str(body["Data"])


def revision_data(flow: dr_flow.Flow, slug: str, num: int) -> str:
    with flow.hub.client() as http:
        unit = prod_units(flow)[slug].get("Unit", prod_units(flow)[slug])
        sid = unit["SpaceID"]
        revs = http.get(f"/space/{sid}/unit/{unit['UnitID']}/revision").json()
    found = [rv.get("Revision", rv) for rv in revs]
    return str(next(rv["Data"] for rv in found if int(rv["RevisionNum"]) == num))


def test_unit_rollback_inside_the_warm_window_switches_back_without_a_pod_start(
    flow: dr_flow.Flow,
) -> None:
    """#13's unit rollback onto blue-green's warm previous slot: the running rollout switches
    back (no pod starts), the head equals the revision before the switch, and the stack agrees.
    While it runs, a rollback to a revision that is not the warm slot is refused untouched."""
    proc = rf.start(flow, "bluegreen", "--image", f"{rf.IMAGE}:4.4.1", "--delay", "120", *FAST)
    rf.wait("traffic on blue", lambda: rf.service_slot(flow) == "blue", 120, proc)
    head, data = unit_head(flow, "trade-service")
    green = rf.pod_names(flow, "app.kubernetes.io/name=trade-service,traderx.finos.org/slot=green")
    assert green, "green (the previous slot) is warm"
    prefix = ("--prefix", flow.prefix)
    refused = flow.traderx("rollback", "unit", "prod", "trade-service", "--to", "1", *prefix,
                           codes=(3,))  # fmt: skip
    assert "not to the warm previous slot (green)" in refused["error"], refused
    assert unit_head(flow, "trade-service") == (head, data), "a refusal writes nothing"
    started = time.monotonic()
    report = flow.traderx("rollback", "unit", "prod", "trade-service", "--to", "-1", *prefix)
    seconds = time.monotonic() - started
    print(f"\nunit rollback onto the warm slot: {seconds:.1f} s ({report})")
    assert report["warmSlot"] == "green" and report["restoredRevision"] == head - 1
    new_head, new_data = unit_head(flow, "trade-service")
    assert new_head > head and report["head"] == new_head
    assert new_data == revision_data(flow, "trade-service", head - 1), "head equals revision -1"
    assert rf.service_slot(flow) == "green"
    now_green = rf.pod_names(
        flow, "app.kubernetes.io/name=trade-service,traderx.finos.org/slot=green"
    )
    assert now_green == green, "no pod of the previous version was replaced"
    code, out, _err = rf.finish(proc)
    state = json.loads(out)["state"]
    assert code == 1 and state["phase"] == "SwitchedBack"
    assert state["reason"].startswith("aborted by operator: rollback unit to revision")
    assert replicas(flow, "trade-service-blue") == 0
    no_changes(flow)
    # -1 now is the revision that routed to blue, which runs no pods any more: refused untouched
    after = unit_head(flow, "trade-service")
    cold = flow.traderx("rollback", "unit", "prod", "trade-service", "--to", "-1", *prefix,
                        codes=(3,))  # fmt: skip
    assert "routes traffic to trade-service-blue, which runs no pods" in cold["error"], cold
    assert unit_head(flow, "trade-service") == after


def test_unlock_clears_the_lock_a_crashed_runner_left(flow: dr_flow.Flow) -> None:
    proc = rf.start(flow, "bluegreen", "--image", f"{rf.IMAGE}:4.5.0", "--delay", "120", *FAST)
    rf.wait("traffic on blue", lambda: rf.service_slot(flow) == "blue", 120, proc)
    alive = flow.traderx("rollout", "unlock", "--prefix", flow.prefix, "--reason", "x",
                         codes=(3,))  # fmt: skip
    assert "the lock is not stale" in alive["error"] and "running on this host" in alive["error"]
    proc.kill()  # the runner crashes while blue is warm
    proc.communicate(timeout=30)
    held = cli(flow, "canary", "--image", f"{rf.IMAGE}:5", codes=(3,))
    assert "only one rollout runs at a time" in held["error"]
    lock = flow.traderx("rollout", "status", "--prefix", flow.prefix)["lock"]
    assert lock["stale"] is True and "is gone" in lock["holder"]
    cleared = flow.traderx("rollout", "unlock", "--prefix", flow.prefix, "--reason",
                           "runner killed in test")  # fmt: skip
    assert cleared["lockCleared"]["forced"] is False
    assert "is gone" in cleared["lockCleared"]["holder"]
    assert cleared["leftUnits"] == ["trade-service-blue", "trade-service-green"]
    record = flow.traderx("rollout", "status", "--prefix", flow.prefix)["record"]
    assert record["state"]["phase"] == "Unlocked" and record["lockCleared"]["reason"] == (
        "runner killed in test"
    )
    assert record["history"][-1]["event"] == "lock cleared"
    # the audit: the clearing is a revision of the record, saying who and why
    with flow.hub.client() as http:
        space = http.get("/space", params={"where": f"Slug = '{flow.prefix}-traderx-prod'"}).json()
        sid = space[0].get("Space", space[0])["SpaceID"]
        unit = prod_units(flow)[RECORD].get("Unit", prod_units(flow)[RECORD])
        revs = http.get(f"/space/{sid}/unit/{unit['UnitID']}/revision").json()
    descriptions = [rv.get("Revision", rv).get("Description", "") for rv in revs]
    assert any("rollout lock cleared by" in d and "runner killed in test" in d
               for d in descriptions), descriptions  # fmt: skip
    nothing = flow.traderx("rollout", "unlock", "--prefix", flow.prefix, "--reason", "again",
                           codes=(3,))  # fmt: skip
    assert "no rollout of trade-service holds the lock" in nothing["error"]


def test_clean_returns_to_plain_prod(flow: dr_flow.Flow) -> None:
    result = flow.traderx("rollout", "clean", "--prefix", flow.prefix)
    assert "trade-service-blue" in result["removed"] and RECORD in result["removed"]
    assert rf.service_slot(flow) == ""
    assert replicas(flow, "trade-service") == 3  # the stable serves again, with blue's count
    assert rf.endpoint_pods(flow, "trade-service") <= rf.pod_names(
        flow, "app.kubernetes.io/name=trade-service,traderx.finos.org/track=stable"
    )
    assert replicas(flow, "trade-service-blue") is None
    assert replicas(flow, "trade-service-green") is None
    assert not {"trade-service-blue", "trade-service-green", RECORD} & set(prod_units(flow))
    no_changes(flow)
