"""The rollout state machines and the objects they derive (pure; no server, no cluster)."""

from __future__ import annotations

import pytest

from components.model import rollout as r
from components.model import rollout_manifests as m
from components.model.catalog import SERVICE_BY_NAME
from components.model.manifests import base_context, render_component

BG = r.BlueGreenConfig(scale_down_delay_seconds=5)
CAN = r.CanaryConfig(pause_seconds=2)


def run(state: r.Rollout, events: list[r.Event], config: object) -> tuple[r.Rollout, list]:
    actions: list = []
    for event in events:
        t = r.advance(state, event, config)  # type: ignore[arg-type]
        state = t.state
        actions.extend(t.actions)
    return state, actions


def test_blue_green_success_switches_then_scales_the_old_slot_down() -> None:
    s0 = r.begin_blue_green("blue", "img:2")
    assert (s0.active, s0.target, s0.running) == ("blue", "green", False)
    s, actions = run(s0, [r.Start(), r.Ready(), r.Passed(), r.DelayElapsed()], BG)
    assert s.phase == r.Phase.DONE and s.active == "green" and not s.running
    assert actions == [
        r.DeploySlot(slot="green"),
        r.RunCheck(),
        r.RouteTo(slot="green"),
        r.WatchHealth(seconds=5),
        r.ScaleSlot(slot="blue", replicas=0),
    ]


@pytest.mark.parametrize("when", [1, 2])
def test_blue_green_validation_failure_keeps_traffic(when: int) -> None:
    events: list[r.Event] = [*[r.Start(), r.Ready()][:when], r.Unhealthy(reason="smoke failed")]
    s, actions = run(r.begin_blue_green("blue", "img:2"), events, BG)
    assert s.phase == r.Phase.FAILED and s.active == "blue" and s.reason == "smoke failed"
    assert not any(isinstance(a, r.RouteTo) for a in actions)
    assert actions[-1] == r.ScaleSlot(slot="green", replicas=0)


def test_blue_green_late_failure_switches_back() -> None:
    events = [r.Start(), r.Ready(), r.Passed(), r.Unhealthy(reason="pod restarted")]
    s, actions = run(r.begin_blue_green("green", "img:3"), events, BG)
    assert s.phase == r.Phase.SWITCHED_BACK and s.active == "green" and s.target == "blue"
    assert actions[-2:] == [r.RouteTo(slot="green"), r.ScaleSlot(slot="blue", replicas=0)]


def test_canary_steps_through_every_weight_then_promotes() -> None:
    events = [r.Start(), r.Ready(), r.Passed(), r.Passed(), r.Passed(), r.Passed(), r.Ready()]
    s, actions = run(r.begin_canary("img:2"), events, CAN)
    weights = [a.weight for a in actions if isinstance(a, r.SetWeight)]
    assert weights == [10, 25, 50, 100]
    assert s.phase == r.Phase.DONE and s.weight == 0
    assert actions[-2:] == [r.PromoteStable(), r.RemoveCanary()]


def test_canary_failure_at_25_aborts_to_zero() -> None:
    events = [r.Start(), r.Ready(), r.Passed(), r.Unhealthy(reason="canary unready")]
    s, actions = run(r.begin_canary("img:2"), events, CAN)
    assert s.phase == r.Phase.ABORTED and s.weight == 0 and s.step == 1
    assert actions[-2:] == [r.AbortCanary(), r.RemoveCanary()]
    assert not any(isinstance(a, r.PromoteStable) for a in actions)


def test_canary_failure_while_promoting_restores_stable() -> None:
    events = [r.Start(), r.Ready(), *[r.Passed()] * 4, r.Unhealthy(reason="stable unready")]
    _, actions = run(r.begin_canary("img:2"), events, CAN)
    assert actions[-3:] == [r.AbortCanary(), r.RestoreStable(), r.RemoveCanary()]


def test_unexpected_event_is_a_runner_bug() -> None:
    with pytest.raises(r.IllegalTransition, match="unexpected event delay"):
        r.advance(r.begin_canary("x"), r.DelayElapsed(), CAN)


@pytest.mark.parametrize(
    ("steps", "message"),
    [((10, 50), "end at 100"), ((50, 25, 100), "rise strictly"), ((0, 100), "1-100")],
)
def test_bad_steps_are_refused(steps: tuple[int, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        r.CanaryConfig(steps=steps)


def test_bad_slot_and_weight_name_what_is_allowed() -> None:
    with pytest.raises(r.RolloutError, match="allowed slots are blue, green"):
        r.begin_blue_green("purple", "x")
    with pytest.raises(r.RolloutError, match="allowed 0, 10, 25, 50, 100"):
        r.check_weight(30, r.DEFAULT_STEPS)
    assert r.check_weight(25, r.DEFAULT_STEPS) == 25
    with pytest.raises(ValueError, match="not both"):
        r.Check(command=("true",), http="http://x")


def _prod_docs() -> list[dict]:
    return render_component(base_context(), "trade-service")


def test_slot_and_route_objects() -> None:
    dep = m.find(_prod_docs(), "Deployment", "trade-service")
    svc = m.find(_prod_docs(), "Service", "trade-service")
    green = m.slot_deployment(dep, "green", 3)
    assert green["metadata"]["name"] == "trade-service-green" and green["spec"]["replicas"] == 3
    assert green["spec"]["selector"]["matchLabels"][r.SLOT_LABEL] == "green"
    assert green["spec"]["template"]["metadata"]["labels"][r.SLOT_LABEL] == "green"
    routed = m.routed(svc, "green")
    assert m.routed_slot(routed) == "green" and m.routed_slot(svc) is None
    assert m.routed_slot(m.routed(routed, None)) is None


def test_new_revision_keeps_prod_values_and_takes_the_template() -> None:
    prod = m.find(_prod_docs(), "Deployment", "trade-service")
    prod["spec"]["replicas"] = 3
    prod["spec"]["template"]["metadata"]["labels"]["traderx/environment"] = "prod"
    prod["spec"]["template"]["spec"]["containers"][0]["resources"] = {"limits": {"cpu": "2"}}
    source = m.find(_prod_docs(), "Deployment", "trade-service")
    source["spec"]["template"]["metadata"]["labels"]["traderx.finos.org/simulate"] = "restart"
    out = m.new_revision(prod, source, image="ghcr.io/finos/traderx/trade-service:1.2.3")
    labels = out["spec"]["template"]["metadata"]["labels"]
    assert labels["traderx/environment"] == "prod" and labels["traderx.finos.org/simulate"]
    assert out["spec"]["replicas"] == 3
    assert out["spec"]["template"]["spec"]["containers"][0]["resources"] == {"limits": {"cpu": "2"}}
    assert m.image_of(out).endswith(":1.2.3")
    assert m.pinned(m.image_of(out)) and not m.pinned("ghcr.io/finos/traderx/x:latest")
    assert not m.pinned("ghcr.io/finos/traderx/x")


def test_canary_objects_route_only_trade_service() -> None:
    ingress = render_component(base_context(), "ingress")
    api = m.find(ingress, "Ingress", m.API_INGRESS)
    docs = _prod_docs()
    dep, svc = m.find(docs, "Deployment", "trade-service"), m.find(docs, "Service", "trade-service")
    out = m.canary_docs(dep, svc, api, replicas=1, weight=10)
    canary_ing = m.find(out, "Ingress", m.CANARY)
    assert canary_ing["metadata"]["annotations"][m.CANARY_ANNOTATION] == "true"
    assert m.weight_of(canary_ing) == 10
    (path,) = canary_ing["spec"]["rules"][0]["http"]["paths"]
    assert path["backend"]["service"] == {
        "name": m.CANARY,
        "port": {"number": SERVICE_BY_NAME["trade-service"].port},
    }
    assert m.find(out, "Service", m.CANARY)["spec"]["selector"][r.TRACK_LABEL] == "canary"
    cdep = m.find(out, "Deployment", m.CANARY)
    assert cdep["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/name"] == (
        "trade-service"
    )
    aborted = m.with_weight(out, 0, replicas=0)
    assert m.weight_of(m.find(aborted, "Ingress", m.CANARY)) == 0
    assert m.find(aborted, "Deployment", m.CANARY)["spec"]["replicas"] == 0
    assert m.weight_of(canary_ing) == 10  # the input is not changed


def test_first_blue_green_goes_to_blue_and_keeps_the_stable_deployment() -> None:
    s0 = r.begin_blue_green("", "img:2")
    assert s0.target == "blue"
    s, actions = run(s0, [r.Start(), r.Ready(), r.Passed(), r.DelayElapsed()], BG)
    assert s.active == "blue" and not any(isinstance(a, r.ScaleSlot) for a in actions)
    back, acts = run(s0, [r.Start(), r.Ready(), r.Passed(), r.Unhealthy(reason="x")], BG)
    assert back.active == "" and acts[-2] == r.RouteTo(slot="")
    with pytest.raises(r.RolloutError, match="the idle slot, 'green'"):
        r.begin_blue_green("blue", "img", target="blue")


def test_prod_gate_rollout_rules() -> None:
    from policies import rollout as gate

    docs = _prod_docs()
    dep = m.find(docs, "Deployment", "trade-service")
    svc = m.find(docs, "Service", "trade-service")
    api = m.find(render_component(base_context(), "ingress"), "Ingress", m.API_INGRESS)
    pinned = m.new_revision(dep, image="ghcr.io/finos/traderx/trade-service:1.0.0")
    good = [m.slot_deployment(pinned, "green", 3), *m.canary_docs(pinned, svc, api, replicas=1,
            weight=25), m.routed(svc, "green")]  # fmt: skip
    assert gate.problems(good) == []
    assert gate.problems([dep]) == []  # the stable Deployment is the images rule's business
    bad = [m.slot_deployment(dep, "blue", 3), *m.canary_docs(pinned, svc, api, replicas=1,
           weight=30), m.routed(svc, "purple")]  # fmt: skip
    found = gate.problems(bad)
    assert len(found) == 3
    assert "blue, green and the canary run pinned images" in found[0]
    assert "canary weight '30' is not a configured step: allowed 0, 10, 25, 50, 100" in found[1]
    assert "allowed slots are blue, green" in found[2]
    assert (
        gate.problems(m.canary_docs(pinned, svc, api, replicas=1, weight=30), (10, 30, 100)) == []
    )


def test_first_blue_green_scales_the_stable_down_when_it_is_handed_over() -> None:
    handed = BG.model_copy(update={"scale_stable": True})
    s, actions = run(
        r.begin_blue_green("", "img:2"), [r.Start(), r.Ready(), r.Passed(), r.DelayElapsed()],
        handed,
    )  # fmt: skip
    assert s.phase == r.Phase.DONE and actions[-1] == r.ScaleStable(replicas=0)
    assert actions.index(r.RouteTo(slot="blue")) < actions.index(r.ScaleStable(replicas=0))
    # a late failure still finds the stable warm: it is only scaled after the delay
    _s, back = run(
        r.begin_blue_green("", "img:2"),
        [r.Start(), r.Ready(), r.Passed(), r.Unhealthy(reason="x")],
        handed,
    )
    assert not any(isinstance(a, r.ScaleStable) for a in back)
    # from a slot, the old slot goes to 0 as before
    _s, later = run(r.begin_blue_green("blue", "img:3"),
                    [r.Start(), r.Ready(), r.Passed(), r.DelayElapsed()], handed)  # fmt: skip
    assert later[-1] == r.ScaleSlot(slot="blue", replicas=0)


def test_stable_track_makes_the_canary_share_exact() -> None:
    docs = _prod_docs()
    dep, svc = m.find(docs, "Deployment", "trade-service"), m.find(docs, "Service", "trade-service")
    stable_pods = dep["spec"]["template"]["metadata"]["labels"]
    assert stable_pods[r.TRACK_LABEL] == "stable" and svc["spec"]["selector"][r.TRACK_LABEL] == (
        "stable"
    )
    assert r.TRACK_LABEL not in dep["spec"]["selector"]["matchLabels"]  # immutable: untouched
    api = m.find(render_component(base_context(), "ingress"), "Ingress", m.API_INGRESS)
    canary = m.canary_docs(dep, svc, api, replicas=1, weight=10)
    canary_pods = m.find(canary, "Deployment", m.CANARY)["spec"]["template"]["metadata"]["labels"]

    def selects(selector: dict, labels: dict) -> bool:
        return selector.items() <= labels.items()

    assert not selects(svc["spec"]["selector"], canary_pods)
    assert selects(m.find(canary, "Service", m.CANARY)["spec"]["selector"], canary_pods)
    assert not selects(m.find(canary, "Service", m.CANARY)["spec"]["selector"], stable_pods)
    # slots carry no track: the stable Service never reaches a slot still being validated
    blue = m.slot_deployment(dep, "blue", 3)["spec"]["template"]["metadata"]["labels"]
    assert r.TRACK_LABEL not in blue and not selects(svc["spec"]["selector"], blue)
    to_blue = m.routed(svc, "blue", dep)
    assert selects(to_blue["spec"]["selector"], blue)
    assert not selects(to_blue["spec"]["selector"], stable_pods)
    back = m.routed(to_blue, None, dep)
    assert back["spec"]["selector"] == svc["spec"]["selector"]
    # the promoted revision keeps prod's track even if staging's data predates the label
    old = m.find(_prod_docs(), "Deployment", "trade-service")
    del old["spec"]["template"]["metadata"]["labels"][r.TRACK_LABEL]
    new = m.new_revision(dep, old, image="ghcr.io/finos/traderx/trade-service:1.0.0")
    assert new["spec"]["template"]["metadata"]["labels"][r.TRACK_LABEL] == "stable"


def test_tracked_adds_the_label_only_where_missing() -> None:
    docs = _prod_docs()
    assert m.tracked(docs) is None
    dep, svc = m.find(docs, "Deployment", "trade-service"), m.find(docs, "Service", "trade-service")
    del dep["spec"]["template"]["metadata"]["labels"][r.TRACK_LABEL]
    del svc["spec"]["selector"][r.TRACK_LABEL]
    out = m.tracked(docs)
    assert out is not None and m.tracked(out) is None
    assert m.find(out, "Service", "trade-service")["spec"]["selector"][r.TRACK_LABEL] == "stable"


def test_stable_scaled_marks_it_as_the_rollouts() -> None:
    dep = m.find(_prod_docs(), "Deployment", "trade-service")
    down = m.stable_scaled(dep, 0)
    assert down["spec"]["replicas"] == 0
    assert down["metadata"]["annotations"][r.REPLICAS_OWNER] == "rollout"
    up = m.stable_scaled(down, 3)
    assert up["spec"]["replicas"] == 3 and "annotations" not in up["metadata"]


def test_unlocked_is_terminal_and_no_event_moves_it() -> None:
    s = r.Rollout(strategy="canary", phase=r.Phase.UNLOCKED)
    assert not s.running
    with pytest.raises(r.IllegalTransition):
        r.advance(s, r.Ready(), CAN)
