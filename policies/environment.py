"""Which environment a stack (or a ConfigHub unit) belongs to, and the default enforcement level.

The rule (also in README.md):

1. A policy's config key `environment` (e.g. `{"replicas-within-bounds": {"environment": "prod"}}`
   in the file given to `--policy-pack-config`) wins.
2. Then the stack's own config `traderx:environment` (the program's setting; the engine hands the
   stack config to the pack in `PULUMI_CONFIG`).
3. Otherwise the stack name decides: the engine starts the pack with `PULUMI_STACK` set (the bare
   stack name, e.g. `prod`). A name is prod when one of its `-`/`_`/`.`/`/`-separated words is
   `prod`, `production` or `prd` (`prod`, `prod-eu`, `eu-production`); `staging`/`stage`/`stg`
   and `dev`/`development` are recognised the same way; anything else is `dev`.
4. For a ConfigHub unit or space, the stricter of its `environment` label and the stack's
   environment (prod > staging > dev): a prod unit is prod even if a non-prod stack declares
   it, and a unit labelled `dev` in the prod stack is still judged as prod, so a label can
   never switch prod-only rules off.

The pack is mandatory when the stack is prod and advisory elsewhere; any policy's level can be
overridden in the policy config (`{"all": "advisory"}` or `{"<policy>": "mandatory"}`).
"""

from __future__ import annotations

import json
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
    """Environment named by a stack name or label value (see module docstring, rule 3)."""
    words = [w.lower() for w in _WORDS.split(name or "") if w]
    for wanted in ("prod", "staging", "dev"):
        if any(_ALIASES.get(w) == wanted for w in words):
            return wanted
    return "dev"


STACK_CONFIG_KEY = "traderx:environment"


def stack_config_environment() -> str | None:
    """`traderx:environment` from the stack config the engine passes (PULUMI_CONFIG), if set."""
    raw = os.environ.get("PULUMI_CONFIG")
    if not raw:
        return None
    try:
        value = json.loads(raw).get(STACK_CONFIG_KEY)
    except (json.JSONDecodeError, AttributeError):
        return None
    return value if isinstance(value, str) and value else None


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
    return environment_of_name(stack_config_environment() or stack_name())


STRICTNESS: dict[Environment, int] = {"dev": 0, "staging": 1, "prod": 2}


def label_environment(labels: Any) -> Environment | None:
    """The environment a unit's `environment` label names, if it has one."""
    if isinstance(labels, Mapping):
        label = labels.get("environment")
        if isinstance(label, str) and label:
            return environment_of_name(label)
    return None


def unit_environment(labels: Any, config: Mapping[str, Any] | None = None) -> Environment:
    """Environment a ConfigHub unit is judged as: the stricter of its label and the stack's."""
    stack = stack_environment(config)
    label = label_environment(labels)
    if label is None:
        return stack
    return label if STRICTNESS[label] > STRICTNESS[stack] else stack


def default_enforcement_level(name: str | None = None) -> EnforcementLevel:
    """Mandatory for prod stacks, advisory elsewhere (`name` overrides the stack's own)."""
    env = stack_environment() if name is None else environment_of_name(name)
    return EnforcementLevel.MANDATORY if env == "prod" else EnforcementLevel.ADVISORY
