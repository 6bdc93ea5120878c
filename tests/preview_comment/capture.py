"""Capture real `pulumi preview --json` + `--event-log` outputs of the fixture program for the
renderer tests, then write each case's expected Markdown. Run once after `make bootstrap`:

    .venv/bin/python -m tests.preview_comment.capture            # capture + render
    .venv/bin/python -m tests.preview_comment.capture --render   # re-render expected.md only
    .venv/bin/python -m tests.preview_comment.capture --program-only  # just the program case

Kept from the engine's files: the whole preview JSON minus source positions/stack traces (local
paths; the capture's temp dir is replaced by /capture), and the event-log lines the renderer
reads (policyEvent, non-debug diagnosticEvent).

Case `program-dev` is the TraderX program itself (`pulumi preview -s dev` of an empty stack,
with a local ConfigHub server and an unreachable kubeconfig: a preview needs no cluster).
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.policies.fixture import POLICY_PACK, REPO_ROOT, FixtureStack, Run, service
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


def _kept(event: dict[str, Any]) -> bool:
    diag = event.get("diagnosticEvent")
    return "policyEvent" in event or (diag is not None and diag.get("severity") != "debug")


def _save(case: str, run: Run, workdir: Path | None = None) -> None:
    assert run.preview_json is not None and run.events is not None
    folder = FIXTURES / case
    folder.mkdir(parents=True, exist_ok=True)
    preview_text = run.preview_json.read_text()
    events_text = run.events.read_text()
    if workdir is not None:
        preview_text = preview_text.replace(str(workdir), "/capture")
        events_text = events_text.replace(str(workdir), "/capture")
    preview = json.loads(preview_text)
    indent = None if len(preview_text) > 100_000 else 2  # keep the big real capture compact
    (folder / "preview.json").write_text(json.dumps(_strip(preview), indent=indent) + "\n")
    kept = [
        json.dumps(_strip(event))
        for event in map(json.loads, events_text.splitlines())
        if _kept(event)
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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def capture_program(toolchain: Toolchain, root: Path) -> None:
    """Preview the TraderX program's dev stack from empty, with the policy pack."""
    work = root / "program"
    work.mkdir(parents=True)
    for name in ("__main__.py", "Pulumi.yaml", "Pulumi.dev.yaml"):
        shutil.copy(REPO_ROOT / name, work / name)
    shutil.copytree(REPO_ROOT / "components", work / "components")
    (work / ".venv").symlink_to(REPO_ROOT / ".venv")
    token = secrets.token_urlsafe(24)
    (root / "token").write_text(token)
    port = _free_port()
    stack_file = work / "Pulumi.dev.yaml"
    stack_file.write_text(
        re.sub(
            r"confighub:url: \S+", f"confighub:url: http://127.0.0.1:{port}", stack_file.read_text()
        )
    )
    kubeconfig = work / "kubeconfig"
    kubeconfig.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "none", "cluster": {"server": "https://127.0.0.1:1"}}],
                "contexts": [{"name": "none", "context": {"cluster": "none", "user": "none"}}],
                "current-context": "none",
                "users": [{"name": "none", "user": {}}],
            }
        )
    )
    server = subprocess.Popen(
        [sys.executable, "-m", "confighub_local", "serve", "--db", str(root / "hub.db"),
         "--port", str(port), "--token-file", str(root / "token")],
        cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(100):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).is_success:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        (root / "state").mkdir()
        env = {
            **toolchain.env,
            "PULUMI_BACKEND_URL": f"file://{root / 'state'}",
            "PULUMI_CONFIG_PASSPHRASE": "capture-passphrase",
            "PULUMI_DEBUG_COMMANDS": "true",
            "CONFIGHUB_TOKEN": token,
            "KUBECONFIG": str(kubeconfig),
        }
        env.pop("PULUMI_CONFIG_PASSPHRASE_FILE", None)
        subprocess.run(["pulumi", "stack", "init", "dev"], cwd=work, env=env, check=True)
        out, events = work / "dev.preview.json", work / "dev.events.jsonl"
        with out.open("w") as fh:
            proc = subprocess.run(
                ["pulumi", "preview", "--stack", "dev", "--non-interactive", "--json",
                 "--event-log", str(events), "--policy-pack", str(POLICY_PACK)],
                cwd=work, env=env, stdout=fh, check=False,
            )  # fmt: skip
        run = Run(returncode=proc.returncode, stdout="", stderr="", preview_json=out, events=events)
        _save("program-dev", run, workdir=root)
    finally:
        server.terminate()
        server.wait(timeout=30)


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
            if "--program-only" not in sys.argv:
                capture(found, Path(tmp))
            capture_program(found, Path(tmp) / "program-case")
    write_expected()


if __name__ == "__main__":
    main()
