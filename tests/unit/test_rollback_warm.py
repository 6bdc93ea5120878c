"""Pure parts of the unit rollback onto blue-green's warm slot (operator_cli/rollback_warm.py):
which slot a revision routes to, and when the runner's record says traffic has moved."""

from __future__ import annotations

from components.model import rollout_manifests as m
from components.model.manifests import to_yaml
from operator_cli import rollback_warm as warm

SERVICE = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "trade-service"},
    "spec": {"selector": {"app.kubernetes.io/name": "trade-service"}},
}
DEPLOYMENT = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "trade-service"}}


def test_a_revision_routes_to_its_services_slot_or_the_stable_track() -> None:
    assert warm._routed(to_yaml([DEPLOYMENT, SERVICE])) == ""
    green = m.routed(SERVICE, "green")
    assert warm._routed(to_yaml([DEPLOYMENT, green])) == "green"
    assert warm._routed(to_yaml([DEPLOYMENT, m.routed(green, None)])) == ""


def test_traffic_has_moved_only_once_the_runner_wrote_finished() -> None:
    # the runner saves the end state first, performs its actions (the route back), then "finished"
    saved = {"history": [{"event": "phase Warm"}, {"event": "phase SwitchedBack"}]}
    assert not warm._finished(saved)
    done = {"history": [*saved["history"], {"event": "finished"}]}
    assert warm._finished(done)
    assert not warm._finished({})


def test_a_unit_of_other_content_routes_nowhere_and_runs_nothing() -> None:
    # a trade-service unit holding no Service or Deployment (an operator's own data) is no
    # blue-green: the rollback takes its plain path instead of failing
    text = to_yaml([{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}])
    assert warm._routed(text) == ""
    assert warm._replicas(text, "trade-service") == 0
    assert warm._replicas(to_yaml([DEPLOYMENT]), "trade-service") == 1
    assert warm._routed("1\n") == "" and warm._routed("a: [") == ""  # a scalar; not YAML
