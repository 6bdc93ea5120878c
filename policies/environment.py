"""Which environment a stack (or a ConfigHub unit) belongs to, and the default enforcement level.

The rule (also in README.md):

1. A policy's config key `environment` (e.g. `{"replicas-within-bounds": {"environment": "prod"}}`
   in the file given to `--policy-pack-config`) wins.
2. Otherwise the stack name decides: the engine starts the pack with `PULUMI_STACK` set (the bare
   stack name, e.g. `prod`). A name is prod when one of its `-`/`_`/`.`/`/`-separated words is
   `prod` or `production` (`prod`, `prod-eu`, `eu-production`); `staging`/`stage` and `dev` are
   recognised the same way; anything else is `dev`.
3. For a ConfigHub unit, its `environment` label is used when present (a prod unit is prod even if
   a non-prod stack declares it).

The pack is mandatory when the stack is prod and advisory elsewhere; any policy's level can be
overridden in the policy config (`{"all": "advisory"}` or `{"<policy>": "mandatory"}`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any, Literal

from pulumi_policy import EnforcementLevel

Environment = Literal["prod", "staging", "dev"]

_WORDS = re.compile(r"[-_./]+")
_ALIASES: dict[str, Environment] = {
    "prod": "prod",
    "production": "prod",
    "prd": "prod",
    "staging": "staging",
    "stage": "staging",
    "stg": "staging",
    "dev": "dev",
    "development": "dev",
}

CONFIG_SCHEMA: dict[str, dict[str, Any]] = {
    "environment": {
        "type": "string",
        "enum": ["prod", "staging", "dev"],
        "description": "Override the environment derived from the stack name.",
    }
}


def environment_of_name(name: str | None) -> Environment:
    """Environment named by a stack name or label value (see module docstring, rule 2)."""
    words = [w.lower() for w in _WORDS.split(name or "") if w]
    for wanted in ("prod", "staging", "dev"):
        if any(_ALIASES.get(w) == wanted for w in words):
            return wanted
    return "dev"


def stack_name() -> str:
    """The stack being analysed, as the engine passes it to the policy pack process."""
    return os.environ.get("PULUMI_STACK", "")


def stack_environment(config: Mapping[str, Any] | None = None) -> Environment:
    """Environment of the analysed stack: policy config `environment`, else the stack name."""
    override = (config or {}).get("environment")
    if override:
        if override not in ("prod", "staging", "dev"):
            raise ValueError(
                f"policy config 'environment' is {override!r}; use one of prod, staging, dev"
            )
        return override
    return environment_of_name(stack_name())


def unit_environment(labels: Any, config: Mapping[str, Any] | None = None) -> Environment:
    """Environment of a ConfigHub unit: its `environment` label, else the stack's."""
    if isinstance(labels, Mapping):
        label = labels.get("environment")
        if isinstance(label, str) and label:
            return environment_of_name(label)
    return stack_environment(config)


def default_enforcement_level(name: str | None = None) -> EnforcementLevel:
    """Mandatory for prod stacks, advisory elsewhere."""
    env = environment_of_name(stack_name() if name is None else name)
    return EnforcementLevel.MANDATORY if env == "prod" else EnforcementLevel.ADVISORY
