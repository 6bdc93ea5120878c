"""The comment's cost section: when a preview changes units' requested resources, the monthly
cost before and after (the operator CLI's pure cost model, default prices; docs/operations.md).

Only deployed ConfigHub Units (with a target) whose `data` is known on both sides count; a unit
created adds its whole cost, a deleted one removes it. Nothing is shown when the total does not
move. Units are named by their Pulumi resource name (slugs repeat across spaces).
"""

from __future__ import annotations

from decimal import Decimal

from pulumi_policy import proxy

from operator_cli.cost.model import Prices, monthly, workloads

from .changes import COMPUTED, CONFIGHUB_PREFIX
from .models import PreviewDigest, ResourceState

UNIT_TYPE = CONFIGHUB_PREFIX + "Unit"


def _cost(state: ResourceState | None, prices: Prices) -> Decimal | None:
    """Monthly cost of a unit state; None when its data is not known (computed)."""
    if state is None or not state.inputs.get("target_id"):
        return Decimal(0)  # absent, or never deployed (base units have no target)
    data = state.inputs.get("data")
    if not isinstance(data, str) or data in (COMPUTED, proxy.UNKNOWN_STRING_VALUE):
        return None
    try:
        found = workloads(data)
    except ValueError:
        return None
    return sum((monthly(w.cpu, w.memory_gib, prices) for w in found), Decimal(0))


def cost_lines(digest: PreviewDigest, prices: Prices | None = None) -> list[str]:
    """Markdown lines of the cost section ([] when no known change moves the total)."""
    prices = prices or Prices.model_validate({})
    rows: list[tuple[str, Decimal, Decimal]] = []
    for step in digest.steps:
        if step.type != UNIT_TYPE or step.op in ("same", "read", "refresh"):
            continue
        old = _cost(step.old_state if step.op != "create" else None, prices)
        new = _cost(step.new_state if step.op != "delete" else None, prices)
        if old is None or new is None or old == new:
            continue
        rows.append((step.urn.rsplit("::", 1)[-1], old, new))  # the Pulumi resource name
    if not rows:
        return []
    before = sum((r[1] for r in rows), Decimal(0))
    after = sum((r[2] for r in rows), Decimal(0))
    cur = prices.currency
    lines = [
        f"Requested CPU and memory x replicas of the changed units, at default prices "
        f"({prices.cpu_core_month} {cur} per vCPU-month, {prices.memory_gib_month} {cur} per "
        f"GiB-month): **{before:.2f} → {after:.2f} {cur}/month ({after - before:+.2f})**.",
        "",
    ]
    lines += [
        f"- `{slug}`: {old:.2f} → {new:.2f} ({new - old:+.2f})"
        for slug, old, new in sorted(rows, key=lambda r: (-abs(r[2] - r[1]), r[0]))
    ]
    return lines
