"""The surging variant a unit rollback applies first (operator_cli/surge.py): pure."""

from __future__ import annotations

from typing import Any

import yaml

from components.confighub.fields import load
from operator_cli.rollback import _back
from operator_cli.surge import DESCRIPTION, SURGE, surged


def deployment(name: str, image: str, replicas: int = 3, kind: str = "RollingUpdate") -> Any:
    strategy: dict[str, Any] = {"type": kind}
    if kind == "RollingUpdate":
        strategy["rollingUpdate"] = {"maxSurge": 1, "maxUnavailable": 0}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "strategy": strategy,
            "template": {"spec": {"containers": [{"name": name, "image": image}]}},
        },
    }


SERVICE = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "trade-service"}}


def text(*docs: Any) -> str:
    return yaml.safe_dump_all(docs, sort_keys=True)


def test_a_replaced_multi_replica_deployment_surges_and_nothing_else_changes() -> None:
    now = text(deployment("trade-service", "ts:1.1.0"), SERVICE)
    target = text(deployment("trade-service", "ts:latest"), SERVICE)
    found = surged(now, target)
    assert found is not None
    data, names = found
    assert names == ["trade-service"]
    dep, svc = load(data)
    assert dep["spec"]["strategy"] == {"type": "RollingUpdate", "rollingUpdate": SURGE}
    assert svc == SERVICE
    wanted = load(target)[0]
    dep["spec"].pop("strategy")
    wanted["spec"].pop("strategy")
    assert dep == wanted  # the target's data in every other field


def test_no_surge_when_it_cannot_help() -> None:
    same = text(deployment("trade-service", "ts:1"))
    assert surged(same, same) is None  # no pod is replaced
    single = text(deployment("database", "db:2", replicas=1, kind="Recreate"))
    assert surged(text(deployment("database", "db:1", 1, "Recreate")), single) is None
    one = text(deployment("web", "w:2", replicas=1))
    assert surged(text(deployment("web", "w:1", replicas=1)), one) is None
    assert surged(text(SERVICE), text(SERVICE)) is None


def test_minus_one_skips_a_rollbacks_surging_revisions() -> None:
    revs = [
        {"RevisionNum": 1, "Description": ""},
        {"RevisionNum": 2, "Description": "promotion"},
        {"RevisionNum": 3, "Description": DESCRIPTION},
        {"RevisionNum": 4, "Description": "restore"},
    ]
    assert _back(revs, 4, 1) == 2
    assert _back(revs, 4, 2) == 1
    assert _back(revs, 4, 3) == 0  # nothing that far back: the caller refuses it
    assert _back(revs[:2], 2, 1) == 1
