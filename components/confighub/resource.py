"""Helpers shared by the `pulumi.dynamic.Resource` subclasses (program side, no API calls)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi

from .base import OWNER_INPUT, EntityProvider
from .errors import ConfigHubError

IMPORT_REFUSAL = (
    "{kind} {name!r}: Pulumi import is not supported for ConfigHub dynamic resources (the engine "
    "reads imported resources without their serialized provider, so the read cannot run). To "
    "take over an existing object, mark it as managed and run `pulumi up`, which adopts it and "
    "converges it to the declaration: `python -m components.confighub adopt {segment} "
    "<space_id> <slug>`"
)


def resource_props(
    provider: type[EntityProvider],
    resource_name: str,
    args: Mapping[str, Any] | None,
    kwargs: Mapping[str, Any],
    opts: pulumi.ResourceOptions | None = None,
) -> dict[str, Any]:
    """Inputs (args dict and/or keyword args) plus every output name set to None, and `owner`
    (`<project>/<stack>`): the stack whose marker the provider writes and adopts by.

    Unknown input names fail here, naming the resource, instead of silently vanishing; so does
    the `import_` option, with the supported alternative (see IMPORT_REFUSAL).
    """
    kind = provider.kind
    if opts is not None and opts.import_:
        raise ConfigHubError(
            IMPORT_REFUSAL.format(kind=kind.name, name=resource_name, segment=kind.segment)
        )
    merged = {**dict(args or {}), **dict(kwargs)}
    unknown = sorted(set(merged) - set(provider.fields))
    if unknown:
        raise TypeError(
            f"{kind.name} {resource_name!r}: unknown input(s) {unknown}; "
            f"expected some of {sorted(provider.fields)}"
        )
    for name in provider.fields:
        merged.setdefault(name, None)
    merged[OWNER_INPUT] = f"{pulumi.get_project()}/{pulumi.get_stack()}"
    for name in (provider.id_output, *provider.extra_outputs):
        merged.setdefault(name, None)
    return merged
