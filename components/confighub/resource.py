"""Helpers shared by the `pulumi.dynamic.Resource` subclasses (program side, no API calls)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .base import EntityProvider


def resource_props(
    provider: type[EntityProvider] | Any,
    resource_name: str,
    args: Mapping[str, Any] | None,
    kwargs: Mapping[str, Any],
) -> dict[str, Any]:
    """Inputs (args dict and/or keyword args) plus every output name set to None.

    Unknown input names fail here, naming the resource, instead of silently vanishing.
    """
    merged = {**dict(args or {}), **dict(kwargs)}
    unknown = sorted(set(merged) - set(provider.fields))
    if unknown:
        kind = provider.kind.name if hasattr(provider, "kind") else provider.__name__
        raise TypeError(
            f"{kind} {resource_name!r}: unknown input(s) {unknown}; "
            f"expected some of {sorted(provider.fields)}"
        )
    for name in provider.fields:
        merged.setdefault(name, None)
    for name in (provider.id_output, *provider.extra_outputs):
        merged.setdefault(name, None)
    return merged
