"""Helpers: read a committed Pulumi.<stack>.yaml the way the engine hands config to a program."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
TOKEN_ENV = {"CONFIGHUB_TOKEN": "test-token"}


def stack_config(stack: str, **overrides: Any) -> dict[str, str]:
    """`ns:key` → string (objects as JSON), plus project defaults, plus overrides."""
    project = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())
    raw: dict[str, Any] = {
        f"traderx:{k}": v["default"]
        for k, v in project.get("config", {}).items()
        if isinstance(v, dict) and "default" in v
    }
    raw.update(yaml.safe_load((ROOT / f"Pulumi.{stack}.yaml").read_text())["config"])
    raw.update(overrides)
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in raw.items()}
