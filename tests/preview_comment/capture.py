"""Capture real `pulumi preview --json` + `--event-log` outputs of the fixture program for the
renderer tests, then write each case's expected Markdown. Run once after `make bootstrap`:

    .venv/bin/python -m tests.preview_comment.capture            # capture + render
    .venv/bin/python -m tests.preview_comment.capture --render   # re-render expected.md only

Kept from the engine's files: the whole preview JSON minus source positions/stack traces (local
paths), and the event-log lines the renderer reads (policyEvent, diagnosticEvent).
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from tests.policies.fixture import FixtureStack, Run, service
from tests.preview_comment.cases import (
    CASES,
    FIXTURES,
    LITERAL_PASSWORD,
    NEW_TOKEN,
    TOKEN,
    render_case,
)
from tests.support.toolchain import Toolchain, load_toolchain

SPACE_TYPE = "pulumi-python:dynamic/confighub:Space"
_DROP = frozenset({"sourcePosition", "stackTrace"})


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k not in _DROP}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def _save_export(case: str, export: dict[str, Any]) -> None:
    """Only the ConfigHub spaces of the stack export: what the renderer uses to name spaces."""
    resources = export["deployment"].get("resources") or []
    spaces = [_strip(r) for r in resources if r["type"] == SPACE_TYPE]
    (FIXTURES / case / "state.json").write_text(
        json.dumps({"version": 3, "deployment": {"resources": spaces}}, indent=2) + "\n"
    )


def _save(case: str, run: Run) -> None:
    assert run.preview_json is not None and run.events is not None
    folder = FIXTURES / case
    folder.mkdir(parents=True, exist_ok=True)
    preview = json.loads(run.preview_json.read_text())
    (folder / "preview.json").write_text(json.dumps(_strip(preview), indent=2) + "\n")
    kept = [
        json.dumps(_strip(event))
        for event in map(json.loads, run.events.read_text().splitlines())
        if "policyEvent" in event or "diagnosticEvent" in event
    ]
    (folder / "events.jsonl").write_text("\n".join(kept) + "\n")
    print(f"captured {case}: exit {run.returncode}, {len(preview.get('steps', []))} steps")


def dev_spec(**changes: Any) -> dict[str, Any]:
    services = {
        "trade-service": service("1.4.2"),
        "reference-data": {"image": "ghcr.io/finos/traderx/reference-data:1.4.2"},
        "trade-processor": {"image": "ghcr.io/finos/traderx/trade-processor:1.4.2"},
    }
    for name, update in changes.items():
        key = name.replace("_", "-")
        if update is None:
            services.pop(key)
        else:
            services[key] = {**services[key], **update}
    return {"environment": "dev", "services": services}


def capture(toolchain: Toolchain, root: Path) -> None:
    backend = root / "state"
    backend.mkdir()
    dev = FixtureStack(toolchain.env, f"file://{backend}", root / "dev", "dev")
    dev.configure(dev_spec(), token=TOKEN)
    _save("create", dev.preview("create"))
    dev.up()

    dev.configure(dev_spec(trade_service={"image": "ghcr.io/finos/traderx/trade-service:1.5.0",
                                          "replicas": 2}))  # fmt: skip
    _save("update", dev.preview("update"))
    _save_export("update", dev.export())

    dev.configure(dev_spec(reference_data={"slug": "reference-data-v2"}))
    _save("replace", dev.preview("replace"))
    _save_export("replace", dev.export())

    dev.configure(dev_spec(trade_processor=None))
    _save("delete", dev.preview("delete"))
    _save_export("delete", dev.export())

    dev.configure(
        dev_spec(trade_service={"literal_password": LITERAL_PASSWORD, "memory": "768Mi"}),
        token=NEW_TOKEN,
    )
    _save("secrets", dev.preview("secrets"))
    _save_export("secrets", dev.export())

    prod = FixtureStack(toolchain.env, f"file://{backend}", root / "prod", "prod")
    bad = {
        "environment": "prod",
        "protect": False,
        "default_deny": False,
        "services": {
            "trade-service": service("latest", replicas=1),
            "trade-processor": {"image": "ghcr.io/finos/traderx/trade-processor", "replicas": 2},
        },
    }
    prod.configure(bad)
    _save("policy", prod.preview("policy"))


def write_expected() -> None:
    for case in CASES:
        (FIXTURES / case / "expected.md").write_text(render_case(case))
        print(f"rendered {case}/expected.md")


def main() -> None:
    if "--render" not in sys.argv:
        found = load_toolchain()
        if isinstance(found, str):
            sys.exit(f"cannot capture: {found}")
        with tempfile.TemporaryDirectory(prefix="preview-capture-") as tmp:
            capture(found, Path(tmp))
    write_expected()


if __name__ == "__main__":
    main()
