"""Invoke functions over units: parse each unit's YAML, run the chain, write a new revision when
a mutating function changed the data, and report per-unit FunctionInvocationsResponse.

Functions work on bounded data (unit_yaml's limits) and within budgets: a unit whose result is
larger than the data limit or whose outputs exceed MAX_OUTPUT_BYTES fails with a 400 entry, and
once an invocation has used TIME_BUDGET_S or produced MAX_RESPONSE_BYTES the remaining units are
reported as not run (207). A function that fails on odd data fails that unit, never the request.
"""

from __future__ import annotations

import copy
import json
import logging
import time
from typing import Any

import yaml

from confighub_local.context import ServerState
from confighub_local.db.store import Doc
from confighub_local.errors import ApiError
from confighub_local.functions.k8s import FunctionError
from confighub_local.functions.registry import REGISTRY, Function, Result
from confighub_local.merge import MergeConflict, dump_docs, load_docs
from confighub_local.unit_yaml import LIMITS
from confighub_local.validation import encode_b64

log = logging.getLogger("confighub_local")

TIME_BUDGET_S = 10.0  # one invocation request, all units
MAX_OUTPUT_BYTES = 1024 * 1024  # one unit's Outputs, as JSON
MAX_RESPONSE_BYTES = 64 * 1024 * 1024  # ConfigData and Outputs of all units together


def signatures() -> dict[str, dict[str, Any]]:
    """`GET /function`: toolchain -> function name -> FunctionSignature."""
    out: dict[str, dict[str, Any]] = {}
    for name, fn in sorted(REGISTRY.items()):
        out.setdefault(fn.signature["ToolchainType"], {})[name] = fn.signature
    return out


def _arguments(fn: Function, raw: Any, name: str) -> list[Any]:
    params = fn.signature["Parameters"]
    if raw is None:
        raw = []
    if not isinstance(raw, list):
        raise ApiError(400, f"Arguments of {name} must be a list")
    positional: list[Any] = []
    named: dict[str, Any] = {}
    for arg in raw:
        if not isinstance(arg, dict) or "Value" not in arg:
            raise ApiError(400, f"each argument of {name} needs a Value")
        if arg.get("ParameterName"):
            named[arg["ParameterName"]] = arg["Value"]
        else:
            positional.append(arg["Value"])
    values = list(positional)
    for param in params[len(positional) :]:
        if param["ParameterName"] in named:
            values.append(named.pop(param["ParameterName"]))
        elif param["Required"]:
            raise ApiError(400, f"{name}: missing argument {param['ParameterName']!r}")
        else:
            break
    if named:
        raise ApiError(400, f"{name}: unknown parameter(s) {', '.join(sorted(named))}")
    if len(values) > len(params):
        raise ApiError(400, f"{name} takes {len(params)} argument(s), got {len(values)}")
    return values


def parse_request(body: Any) -> list[tuple[str, Function, list[Any]]]:
    if not isinstance(body, dict):
        raise ApiError(400, "FunctionInvocationsRequest must be a JSON object")
    invocations = body.get("FunctionInvocations")
    if not isinstance(invocations, list) or not invocations:
        raise ApiError(400, "FunctionInvocations must list at least one function")
    chain = []
    for inv in invocations:
        name = inv.get("FunctionName") if isinstance(inv, dict) else None
        if not isinstance(name, str) or name not in REGISTRY:
            raise ApiError(400, f"unknown function {name!r}; GET /function lists them")
        fn = REGISTRY[name]
        chain.append((name, fn, _arguments(fn, inv.get("Arguments"), name)))
    return chain


def _dump(docs: list[Any]) -> bytes:
    """libyaml's emitter when present: PyYAML's own takes seconds over a multi-MB scalar."""
    dumper = getattr(yaml, "CSafeDumper", None)
    if dumper is None:  # pragma: no cover - PyYAML without libyaml
        return dump_docs(docs)
    text = yaml.dump_all(docs, Dumper=dumper, sort_keys=False, default_flow_style=False)
    return text.encode()


def run_chain(
    data: bytes, chain: list[tuple[str, Function, list[Any]]]
) -> tuple[bytes, dict[str, Any], list[str]]:
    """Run functions over one unit's data; return new data, outputs and validation failures."""
    docs = load_docs(data)
    original = copy.deepcopy(docs)
    outputs: dict[str, Any] = {}
    failures: list[str] = []
    for name, fn, args in chain:
        try:
            result: Result = fn.impl(docs, args)
        except (FunctionError, MergeConflict):
            raise
        except Exception as exc:  # odd data (an env that is not a list, ...) fails this unit
            log.info("function %s failed: %r", name, exc)
            raise FunctionError(f"{name} cannot process this data ({type(exc).__name__})") from None
        docs = result.docs
        if result.output is not None:
            outputs[name] = result.output
        if not result.passed:
            failures.extend(f"{name}: {m}" for m in result.messages or ("failed",))
    new = data if docs == original else _dump(docs)
    if len(new) > LIMITS.max_bytes:
        raise FunctionError(
            f"result is {len(new)} bytes, over the data size limit of {LIMITS.max_bytes} bytes"
        )
    return new, outputs, failures


def invoke(
    st: ServerState, targets: list[Doc], body: Any, *, dry_run: bool
) -> tuple[int, list[dict[str, Any]]]:
    from confighub_local import units

    chain = parse_request(body)
    description = str(body.get("ChangeDescription") or "") or "function: " + ", ".join(
        n for n, _, _ in chain
    )
    results = []
    all_ok = True
    deadline = time.monotonic() + TIME_BUDGET_S
    produced = 0
    for unit in targets:
        entry: dict[str, Any] = {
            "UnitID": unit["UnitID"],
            "UnitSlug": unit["Slug"],
            "SpaceID": unit["SpaceID"],
            "SpaceSlug": unit.get("SpaceSlug", ""),
            "OrganizationID": unit["OrganizationID"],
        }
        budget = _over_budget(deadline, produced)
        if budget:
            all_ok = False
            entry.update(
                Success=False,
                Error={
                    "Message": f"unit {unit['Slug']}: not run: {budget}",
                    "Status": 429,
                    "Type": "BudgetExhausted",
                },
            )
            results.append(entry)
            continue
        try:
            old = units.unit_data(unit)
            new, outputs, failures = run_chain(old, chain)
            encoded = {k: json.dumps(v, default=str) for k, v in outputs.items()}
            size = sum(len(v) for v in encoded.values())
            if size > MAX_OUTPUT_BYTES:
                raise FunctionError(
                    f"outputs are {size} bytes, over the limit of {MAX_OUTPUT_BYTES} bytes"
                )
        except (FunctionError, MergeConflict) as exc:
            all_ok = False
            entry.update(
                Success=False,
                Error={
                    "Message": f"unit {unit['Slug']}: {exc}",
                    "Status": 400,
                    "Type": "FunctionError",
                },
            )
            results.append(entry)
            continue
        entry["Outputs"] = encoded
        produced += size + len(new) * 4 // 3
        if failures:
            all_ok = False
            entry["Error"] = {
                "Message": "; ".join(failures),
                "Status": 422,
                "Type": "ValidationFailed",
                "Details": failures,
            }
        entry["Success"] = not failures
        entry["HasNewMutations"] = new != old
        if new != old and not dry_run:
            written = units.set_data(st, unit, new, "FunctionInvocation", description)
            entry["RevisionID"] = units.revision(st, written, written["HeadRevisionNum"])[
                "RevisionID"
            ]
        entry["ConfigData"] = encode_b64(new)
        results.append(entry)
    return (200 if all_ok else 207), results


def _over_budget(deadline: float, produced: int) -> str:
    if time.monotonic() > deadline:
        return f"the invocation's time budget of {TIME_BUDGET_S:g} s is used up"
    if produced > MAX_RESPONSE_BYTES:
        return f"the invocation's response budget of {MAX_RESPONSE_BYTES} bytes is used up"
    return ""
