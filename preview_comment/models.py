"""Typed views of the engine's outputs: `pulumi preview --json` (display.PreviewDigest) and the
`--event-log` JSON lines (apitype.EngineEvent). Unknown fields are ignored so newer CLIs parse."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class ResourceState(_Model):
    urn: str
    type: str
    custom: bool = False
    inputs: dict[str, Any] = Field(default_factory=dict)
    outputs: dict[str, Any] = Field(default_factory=dict)
    parent: str | None = None
    protect: bool = False
    property_dependencies: dict[str, list[str]] = Field(
        default_factory=dict, alias="propertyDependencies"
    )


class PropertyDiff(_Model):
    kind: str
    input_diff: bool = Field(default=False, alias="inputDiff")


class PreviewStep(_Model):
    op: str
    urn: str
    old_state: ResourceState | None = Field(default=None, alias="oldState")
    new_state: ResourceState | None = Field(default=None, alias="newState")
    diff_reasons: list[str] = Field(default_factory=list, alias="diffReasons")
    replace_reasons: list[str] = Field(default_factory=list, alias="replaceReasons")
    detailed_diff: dict[str, PropertyDiff] | None = Field(default=None, alias="detailedDiff")

    @property
    def state(self) -> ResourceState | None:
        return self.new_state or self.old_state

    @property
    def type(self) -> str:
        if self.state is not None:
            return self.state.type
        return self.urn.split("::")[-2].split("$")[-1] if self.urn.count("::") >= 3 else "?"

    @property
    def name(self) -> str:
        return self.urn.rsplit("::", 1)[-1]


class PreviewDiagnostic(_Model):
    urn: str | None = None
    message: str = ""
    severity: str = ""


class PreviewDigest(_Model):
    steps: list[PreviewStep] = Field(default_factory=list)
    diagnostics: list[PreviewDiagnostic] = Field(default_factory=list)
    change_summary: dict[str, int] = Field(default_factory=dict, alias="changeSummary")


Level = Literal["mandatory", "advisory", "remediate", "disabled"]
_LEVELS: dict[str, Level] = {
    "mandatory": "mandatory",
    "warning": "advisory",
    "advisory": "advisory",
    "remediate": "remediate",
    "none": "disabled",
    "disabled": "disabled",
}


class PolicyViolation(_Model):
    """One `policyEvent` from the event log."""

    resource_urn: str | None = Field(default=None, alias="resourceUrn")
    message: str
    policy_name: str = Field(alias="policyName")
    policy_pack_name: str = Field(default="", alias="policyPackName")
    enforcement_level: str = Field(alias="enforcementLevel")

    @property
    def level(self) -> Level:
        return _LEVELS.get(self.enforcement_level, "advisory")


class InputError(ValueError):
    """An input file is missing or not what the engine writes; the message names file and line."""


def load_preview(path: Path) -> PreviewDigest:
    """Parse `pulumi preview --json` output (the engine may print nothing on a hard failure)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read preview JSON {path}: {exc.strerror}") from exc
    if not text.strip():
        return PreviewDigest()
    start = text.find("{")
    try:
        return PreviewDigest.model_validate(json.loads(text[start:] if start > 0 else text))
    except (json.JSONDecodeError, ValidationError) as exc:
        raise InputError(f"{path} is not `pulumi preview --json` output: {exc}") from exc


def load_stack_export(path: Path | None) -> list[ResourceState]:
    """Resource states from `pulumi stack export` (names unchanged ConfigHub spaces)."""
    if path is None:
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        resources = data["deployment"].get("resources") or []
        return [ResourceState.model_validate(r) for r in resources]
    except OSError as exc:
        raise InputError(f"cannot read stack export {path}: {exc.strerror}") from exc
    except (json.JSONDecodeError, KeyError, AttributeError, ValidationError) as exc:
        raise InputError(f"{path} is not `pulumi stack export` output: {exc}") from exc


def load_events(path: Path | None) -> tuple[list[PolicyViolation], list[PreviewDiagnostic]]:
    """Policy violations and error diagnostics from an `--event-log` file (JSON lines)."""
    if path is None:
        return [], []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise InputError(f"cannot read event log {path}: {exc.strerror}") from exc
    violations: list[PolicyViolation] = []
    errors: list[PreviewDiagnostic] = []
    seen: set[tuple[str | None, str, str]] = set()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            event = json.loads(line)
            if "policyEvent" in event:
                violation = PolicyViolation.model_validate(event["policyEvent"])
                key = (violation.resource_urn, violation.policy_name, violation.message)
                if key not in seen:  # the engine may report a resource twice (e.g. replace)
                    seen.add(key)
                    violations.append(violation)
            elif "diagnosticEvent" in event:
                diag = event["diagnosticEvent"]
                if diag.get("severity") == "error" and not diag.get("ephemeral"):
                    errors.append(PreviewDiagnostic.model_validate(diag))
        except (json.JSONDecodeError, ValidationError, TypeError) as exc:
            raise InputError(f"{path}:{number}: not an engine event: {exc}") from exc
    return violations, errors
