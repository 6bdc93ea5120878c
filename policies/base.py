"""Shared plumbing: turn a per-object check into a Pulumi resource validation policy."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from pulumi_policy import (
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)
from pydantic import BaseModel, ConfigDict

from .environment import CONFIG_SCHEMA, Environment, stack_environment, unit_environment
from .objects import CONFIGHUB_TYPE_PREFIX, KubeObject, UnitDataError, objects_of
from .values import plain


class RuleContext(BaseModel):
    """What a check knows besides the object: the environment and the policy's config."""

    model_config = ConfigDict(frozen=True)

    environment: Environment
    config: dict[str, Any]

    @property
    def is_prod(self) -> bool:
        return self.environment == "prod"

    def strings(self, key: str, default: Iterable[str]) -> frozenset[str]:
        """A list-of-strings config value, checked (bad config names the key)."""
        value = self.config.get(key)
        if value is None:
            return frozenset(default)
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError(f"policy config '{key}' must be a list of strings, got {value!r}")
        return frozenset(value)


ObjectCheck = Callable[[KubeObject, RuleContext], Iterable[str]]


def schema(extra: Mapping[str, dict[str, Any]] | None = None) -> PolicyConfigSchema:
    """Config schema: the shared `environment` override plus a rule's own keys."""
    return PolicyConfigSchema(properties={**CONFIG_SCHEMA, **(extra or {})})


def context_for(args: ResourceValidationArgs, props: dict[str, Any]) -> RuleContext:
    """The environment of this resource: a ConfigHub entity's label, else the stack's."""
    config = dict(args.get_config() or {})
    if args.resource_type.startswith(CONFIGHUB_TYPE_PREFIX):
        env = unit_environment(props.get("labels"), config)
    else:
        env = stack_environment(config)
    return RuleContext(environment=env, config=config)


def object_policy(
    name: str,
    description: str,
    check: ObjectCheck,
    config: Mapping[str, dict[str, Any]] | None = None,
) -> ResourceValidationPolicy:
    """A policy running `check` on every Kubernetes object a resource declares."""

    def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
        props = plain(args.props)
        if not isinstance(props, dict):
            return
        try:
            objects = objects_of(args.resource_type, props, args.name)
        except UnitDataError:
            return  # reported once by the unit-data policy
        if not objects:
            return
        ctx = context_for(args, props)
        for obj in objects:
            for message in check(obj, ctx):
                report(message, None)

    return ResourceValidationPolicy(
        name=name, description=description, validate=validate, config_schema=schema(config)
    )


def container_name(container: dict[str, Any]) -> str:
    name = container.get("name")
    return name if isinstance(name, str) else "<unnamed>"
