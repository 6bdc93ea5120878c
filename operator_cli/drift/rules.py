"""The drift classification rules (rules.yaml next to this module, or a file given with
`--rules`): a pydantic model that refuses unknown keys, and first-match classification."""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from components.model.settings import Environment

DEFAULT_RULES = Path(__file__).with_name("rules.yaml")
Risk = Literal["low", "high"]


@functools.cache
def glob(pattern: str) -> re.Pattern[str]:
    """`*` matches anything (dots and brackets too); every other character is literal, so
    `containers[*].image` means what it says."""
    return re.compile(".*".join(re.escape(part) for part in pattern.split("*")))


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    risk: Risk
    paths: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    managers: tuple[str, ...] = ()
    environments: tuple[Environment, ...] = ()
    critical: bool | None = None

    def matches(
        self, *, path: str, kind: str, manager: str, environment: str, critical: bool
    ) -> bool:
        if self.paths and not any(glob(p).fullmatch(path) for p in self.paths):
            return False
        if self.kinds and kind not in self.kinds:
            return False
        if self.managers and not any(re.fullmatch(m, manager) for m in self.managers):
            return False
        if self.environments and environment not in self.environments:
            return False
        return self.critical is None or self.critical == critical


class RuleSet(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    auto_correct: dict[Environment, bool] = Field(alias="autoCorrect")
    rules: tuple[Rule, ...]

    def classify(
        self, *, path: str, kind: str, manager: str, environment: str, critical: bool
    ) -> tuple[Risk, str]:
        """(risk, rule name) of the first matching rule; unmatched fields are high risk."""
        for rule in self.rules:
            if rule.matches(
                path=path, kind=kind, manager=manager, environment=environment, critical=critical
            ):
                return rule.risk, rule.name
        return "high", "(no rule matched)"

    def corrects(self, environment: str) -> bool:
        return bool(self.auto_correct.get(environment, False))  # type: ignore[call-overload]


def load_rules(path: Path | None = None) -> RuleSet:
    """The rule file, validated; errors name the file and the offending key."""
    path = path or DEFAULT_RULES
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"{path}: not readable YAML ({exc})") from exc
    try:
        return RuleSet.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err.get("loc", ()))
        raise ValueError(f"{path}: {where}: {err.get('msg')}") from exc
