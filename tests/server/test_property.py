"""Property-based run (schemathesis + hypothesis) over every implemented operation against a
dedicated server: no 5xx, and every response conforms to openapi.json.

Path parameters get `format: uuid` (NOTES.md: lost in the spec's rebuild). The stream endpoint
(an infinite text/event-stream) is excluded. A dedicated server keeps random bulk deletes away
from other tests' data.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from schemathesis import openapi
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    negative_data_rejection,
    response_schema_conformance,
)

from tests.server import spec
from tests.server.test_schema import IMPLEMENTED
from tests.support.server import ServerProcess

pytestmark = pytest.mark.slow
EXAMPLES = int(os.environ.get("CONFIGHUB_PROPERTY_EXAMPLES", "15"))


@pytest.fixture(scope="module")
def own_server() -> Iterator[ServerProcess]:
    with tempfile.TemporaryDirectory(prefix="confighub-prop-") as tmp:
        server = ServerProcess(Path(tmp))
        server.start()
        try:
            yield server
        finally:
            server.stop()


def _prepared_spec(api: str) -> dict[str, Any]:
    raw = copy.deepcopy(spec.spec())
    raw["servers"] = [{"url": api}]
    for item in raw["paths"].values():
        for op in item.values():
            if not isinstance(op, dict):
                continue
            for param in op.get("parameters", []):
                if param.get("in") == "path":
                    param["schema"] = {"type": "string", "format": "uuid"}
    return raw


def _property(
    operation: Any, headers: dict[str, str], failures: list[str], calls: list[int]
) -> Any:
    """A hypothesis test for one operation; failures are recorded, then re-raised to shrink."""

    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        calls.append(1)
        try:
            case.call_and_validate(
                headers=headers,
                checks=[not_a_server_error, response_schema_conformance],
                excluded_checks=[negative_data_rejection],
                timeout=30,
            )
        except Exception as exc:
            failures.append(f"{operation.label}: {str(exc)[:600]}")
            raise

    return run


def test_no_5xx_and_schema_conformance(own_server: ServerProcess) -> None:
    spec.require_spec()
    wanted = sorted(IMPLEMENTED - {"StreamBridgeWorker"})
    schema = openapi.from_dict(_prepared_spec(own_server.api)).include(operation_id=wanted)
    schema.config.update(base_url=own_server.api)
    headers = {"Authorization": f"Bearer {own_server.token}"}
    failures: list[str] = []
    seen: set[str] = set()
    calls: list[int] = []
    for result in schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]  # an Err raises here, failing
        seen.add(str(operation.definition.raw.get("operationId")))
        run = _property(operation, headers, failures, calls)
        with contextlib.suppress(Exception):  # the shrunk failure is already recorded
            run()
    assert seen == set(wanted), f"operations not exercised: {set(wanted) - seen}"
    assert not failures, json.dumps(failures[:10], indent=1)
    assert len(calls) >= 2 * len(wanted), f"only {len(calls)} generated cases"
    print(f"property run: {len(calls)} cases over {len(seen)} operations, no failures")
