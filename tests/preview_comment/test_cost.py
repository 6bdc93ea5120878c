"""The comment's cost section: shown only when known unit data moves the monthly total."""

from __future__ import annotations

from typing import Any

from preview_comment.cost import UNIT_TYPE, cost_lines
from preview_comment.models import PreviewDigest
from tests.ops.project import deployment


def _step(op: str, old: str | None, new: str | None, target: str | None = "t-1") -> dict[str, Any]:
    def state(data: str | None) -> dict[str, Any] | None:
        if data is None:
            return None
        return {
            "urn": "urn:pulumi:dev::traderx::" + UNIT_TYPE + "::dev-trade-service",
            "type": UNIT_TYPE,
            "inputs": {"data": data, "target_id": target},
        }

    return {
        "op": op,
        "urn": "urn:pulumi:dev::traderx::" + UNIT_TYPE + "::dev-trade-service",
        "oldState": state(old),
        "newState": state(new),
    }


def digest(*steps: dict[str, Any]) -> PreviewDigest:
    return PreviewDigest.model_validate({"steps": list(steps)})


def test_replicas_change_moves_the_total() -> None:
    one, three = deployment("trade-service", replicas=1), deployment("trade-service", replicas=3)
    lines = cost_lines(digest(_step("update", one, three)))
    # 0.25 cpu x 32.49 + 0.25 GiB x 3.59 = 9.02 per replica, 27.06 for three
    assert "**9.02 → 27.06 USD/month (+18.04)**" in lines[0]
    assert lines[-1] == "- `dev-trade-service`: 9.02 → 27.06 (+18.04)"


def test_nothing_when_the_total_does_not_move_or_is_unknown() -> None:
    a = deployment("trade-service", image="x:1")
    b = deployment("trade-service", image="x:2")
    assert cost_lines(digest(_step("update", a, b))) == []
    unknown = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"
    assert cost_lines(digest(_step("update", a, unknown))) == []
    assert cost_lines(digest(_step("create", None, a, target=None))) == []  # a base unit
