"""Drift without a cluster: comparison, managedFields attribution, the rule file and its
classification (the documented defaults), and a rule file with an unknown field refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from operator_cli.drift.compare import MISSING, drift, writer_of
from operator_cli.drift.rules import DEFAULT_RULES, load_rules

DESIRED: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "trade-service", "namespace": "traderx-dev"},
    "spec": {
        "replicas": 1,
        "template": {
            "spec": {
                "containers": [
                    {
                        "name": "trade-service",
                        "image": "ghcr.io/finos/traderx/trade-service:v1",
                        "resources": {"requests": {"cpu": "1000m", "memory": "512Mi"}},
                        "env": [{"name": "A", "value": "1"}],
                    },
                ]
            }
        },
    },
}


def live(**changes: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "trade-service",
            "namespace": "traderx-dev",
            "uid": "x",
            "generation": 3,
            "managedFields": [
                {
                    "manager": "confighub-local",
                    "operation": "Apply",
                    "time": "2026-12-01T09:00:00Z",
                    "fieldsV1": {
                        "f:spec": {
                            "f:replicas": {},
                            "f:template": {
                                "f:spec": {
                                    "f:containers": {
                                        'k:{"name":"trade-service"}': {
                                            ".": {},
                                            "f:image": {},
                                            "f:env": {},
                                            "f:resources": {},
                                        }
                                    }
                                }
                            },
                        }
                    },
                },
            ],
        },
        "spec": {
            "replicas": changes.get("replicas", 1),
            "revisionHistoryLimit": 10,
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "trade-service",
                            "image": changes.get(
                                "image",
                                DESIRED["spec"]["template"]["spec"]["containers"][0]["image"],
                            ),
                            "imagePullPolicy": "Always",
                            "resources": {"requests": {"cpu": "1", "memory": "512Mi"}},
                            "env": [{"name": "A", "value": "1"}],
                        },
                    ]
                }
            },
        },
        "status": {"replicas": 1},
    }
    for entry in changes.get("managers", []):
        obj["metadata"]["managedFields"].append(entry)
    return obj


def test_no_drift_when_only_defaults_status_and_quantity_spelling_differ() -> None:
    assert drift(DESIRED, live()) == []


def test_a_scaled_deployment_is_attributed_to_the_scaler() -> None:
    scaled = live(
        replicas=5,
        managers=[
            {
                "manager": "kubectl",
                "operation": "Update",
                "subresource": "scale",
                "time": "2026-12-01T10:00:00Z",
                "fieldsV1": {"f:spec": {"f:replicas": {}}},
            }
        ],
    )
    (found,) = drift(DESIRED, scaled)
    assert (found.path, found.desired, found.live) == ("spec.replicas", 1, 5)
    assert found.writer.manager == "kubectl" and found.writer.time == "2026-12-01T10:00:00Z"


def test_a_set_image_is_attributed_through_the_container_key() -> None:
    changed = live(
        image="evil:latest",
        managers=[
            {
                "manager": "kubectl-set",
                "operation": "Update",
                "time": "2026-12-01T10:05:00Z",
                "fieldsV1": {
                    "f:spec": {
                        "f:template": {
                            "f:spec": {
                                "f:containers": {'k:{"name":"trade-service"}': {"f:image": {}}}
                            }
                        }
                    }
                },
            }
        ],
    )
    (found,) = drift(DESIRED, changed)
    assert found.path == "spec.template.spec.containers[trade-service].image"
    assert found.writer.manager == "kubectl-set" and found.live == "evil:latest"


def test_a_missing_object_and_an_unowned_field() -> None:
    (gone,) = drift(DESIRED, None)
    assert gone.path == MISSING
    assert writer_of(live(), "spec.paused").manager == "(unknown)"


def test_default_rules_classify_as_documented() -> None:
    rules = load_rules()

    def classify(
        path: str,
        env: str = "dev",
        manager: str = "kubectl",
        kind: str = "Deployment",
        critical: bool = False,
    ) -> tuple[str, str]:
        return rules.classify(
            path=path, kind=kind, manager=manager, environment=env, critical=critical
        )

    assert classify("spec.replicas") == ("low", "replica-count")
    assert classify("spec.replicas", manager="horizontal-pod-autoscaler") == (
        "low",
        "replicas-by-autoscaler-or-controller",
    )
    image = "spec.template.spec.containers[trade-service].image"
    assert classify(image, env="prod", critical=True) == ("high", "images")
    assert classify("spec.template.spec.containers[x].env[A].value") == ("high", "env-values")
    assert classify("spec.template.spec.securityContext.runAsUser") == ("high", "security-contexts")
    assert classify("spec.template.spec.containers[x].resources.requests.cpu")[0] == "high"
    assert classify("spec.podSelector", kind="NetworkPolicy") == ("high", "rbac-and-network-policy")
    assert classify("spec.replicas", env="prod", critical=True) == ("high", "prod-critical")
    assert classify("spec.replicas", env="prod") == ("low", "replica-count")
    assert classify(MISSING) == ("high", "object-missing")
    assert classify("metadata.labels.x") == ("high", "(no rule matched)")
    assert rules.corrects("dev") and rules.corrects("staging") and not rules.corrects("prod")


def test_a_rule_file_with_an_unknown_field_is_refused_naming_it(tmp_path: Path) -> None:
    bad = tmp_path / "rules.yaml"
    bad.write_text(
        DEFAULT_RULES.read_text().replace(
            '    risk: low\n    paths: ["spec.replicas"]\n',
            '    risk: low\n    pathz: ["spec.replicas"]\n',
            1,
        )
    )
    with pytest.raises(ValueError, match=r"rules.yaml: rules\.\d+\.pathz: Extra inputs"):
        load_rules(bad)
    bad.write_text("autoCorrect: {dev: true}\nrules: [{name: x, risk: medium}]\n")
    with pytest.raises(ValueError, match=r"rules\.0\.risk"):
        load_rules(bad)


def test_drift_command_refuses_a_bad_rule_file_before_touching_anything(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from operator_cli.app import app

    bad = tmp_path / "rules.yaml"
    bad.write_text("autoCorrect: {dev: true}\nrules: []\nretries: 3\n")
    result = CliRunner().invoke(
        app,
        [
            "drift",
            "check",
            "dev",
            "--prefix",
            "p",
            "--rules",
            str(bad),
            "--url",
            "http://127.0.0.1:1",
            "--token",
            "t",
        ],
    )
    assert result.exit_code == 4
    assert "retries" in result.stderr and str(bad) in result.stderr


def test_prod_eu_is_not_auto_corrected_by_default() -> None:
    rules = load_rules(DEFAULT_RULES)
    assert rules.corrects("prod-eu") is False
    assert rules.corrects("dev") is True
