"""The published API (openapi.json) as a response validator for tests.

Applies what NOTES.md says the rebuild lost where it matters for validation: `nullable` becomes
a JSON-Schema null type; formats uuid and date-time are checked.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft7Validator, FormatChecker

REPO = Path(__file__).resolve().parents[2]
# CONFIGHUB_OPENAPI, else the shared folder beside the checkout (`../shared/confighub/`)
SPEC_PATH = Path(
    os.environ.get("CONFIGHUB_OPENAPI") or REPO.parent / "shared" / "confighub" / "openapi.json"
)


def require_spec() -> None:
    """Skip when the spec is absent, but fail under TRADERX_REQUIRE_REAL=1 (`make test`)."""
    if SPEC_PATH.exists():
        return
    reason = f"openapi.json not found at {SPEC_PATH} (set CONFIGHUB_OPENAPI)"
    if os.environ.get("TRADERX_REQUIRE_REAL") == "1":
        pytest.fail(f"{reason} (TRADERX_REQUIRE_REAL=1: required here)", pytrace=False)
    pytest.skip(reason)


def _convert(node: Any) -> Any:
    if isinstance(node, dict):
        out = {k: _convert(v) for k, v in node.items()}
        if out.pop("nullable", False):
            if "type" in out:
                out["type"] = [out["type"], "null"]
            elif "$ref" in out:
                out = {"anyOf": [{"$ref": out.pop("$ref")}, {"type": "null"}], **out}
        if "$ref" in out and isinstance(out["$ref"], str):
            out["$ref"] = out["$ref"].replace("#/components/schemas/", "#/definitions/")
        return out
    if isinstance(node, list):
        return [_convert(v) for v in node]
    return node


@dataclass(frozen=True)
class Operation:
    operation_id: str
    method: str
    template: str
    pattern: re.Pattern[str]
    responses: dict[str, Any]


@cache
def spec() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SPEC_PATH.read_text())
    return loaded


@cache
def definitions() -> dict[str, Any]:
    converted: dict[str, Any] = _convert(spec()["components"]["schemas"])
    return converted


@cache
def operations() -> tuple[Operation, ...]:
    ops = []
    for template, item in spec()["paths"].items():
        regex = "^/api" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$"
        for method, op in item.items():
            if method in ("get", "post", "put", "patch", "delete"):
                ops.append(
                    Operation(
                        op["operationId"],
                        method.upper(),
                        template,
                        re.compile(regex),
                        op["responses"],
                    )
                )
    # literal segments beat parameters: sort templates with fewer parameters first
    return tuple(sorted(ops, key=lambda o: o.template.count("{")))


def match(method: str, path: str) -> Operation | None:
    for op in operations():
        if op.method == method and op.pattern.match(path):
            return op
    return None


def validate_response(resp: httpx.Response) -> tuple[str, list[str]]:
    """(operationId, problems) for one response; problems empty when it conforms."""
    op = match(resp.request.method, resp.request.url.path)
    if op is None:
        return "?", [f"{resp.request.method} {resp.request.url.path} is not in the spec"]
    declared = op.responses.get(str(resp.status_code)) or op.responses.get("default")
    if declared is None:
        return op.operation_id, [f"status {resp.status_code} not declared"]
    content = declared.get("content") or {}
    ctype = resp.headers.get("content-type", "").split(";")[0].strip()
    if not content:
        return op.operation_id, []
    if ctype not in content:
        return op.operation_id, [f"content-type {ctype!r} not in {sorted(content)}"]
    if ctype != "application/json":
        return op.operation_id, []
    schema = {**_convert(content[ctype]["schema"]), "definitions": definitions()}
    validator = Draft7Validator(schema, format_checker=FormatChecker(["uuid", "date-time"]))
    problems = [
        f"{'/'.join(str(p) for p in err.absolute_path) or '<root>'}: {err.message[:300]}"
        for err in validator.iter_errors(resp.json())
    ]
    return op.operation_id, problems
