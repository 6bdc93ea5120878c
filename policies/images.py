"""Images must be pinned to a version tag or a digest (TraderX publishes only `latest`)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from pulumi_policy import ResourceValidationPolicy

from .base import RuleContext, container_name, object_policy
from .objects import KubeObject
from .values import UNKNOWN

_DIGEST = re.compile(r"^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-f0-9]{32,}$")
_FLOATING = frozenset({"latest", "main", "master", "stable", "edge", "nightly", "dev"})


def image_problem(image: Any) -> str | None:
    """Why `image` is not pinned, or None when it is (a digest, or a non-floating tag)."""
    if image is UNKNOWN:
        return None
    if not isinstance(image, str) or not image.strip():
        return "has no image"
    if "@" in image:
        digest = image.split("@", 1)[1]
        return None if _DIGEST.match(digest) else f"has a malformed digest '@{digest}'"
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return "has no tag (it means :latest)"
    tag = last.split(":", 1)[1]
    if tag.lower() in _FLOATING:
        return f"uses the floating tag ':{tag}'"
    return None


def check(obj: KubeObject, ctx: RuleContext) -> Iterator[str]:
    for container in obj.containers(include_init=True):
        image = container.get("image")
        problem = image_problem(image)
        if problem:
            yield (
                f"{obj.origin}: container '{container_name(container)}' image '{image}' {problem}; "
                "pin a version tag (e.g. ghcr.io/finos/traderx/trade-service:1.4.2) or a digest "
                "(…@sha256:<64 hex>) in the environment's image config."
            )


def policies() -> list[ResourceValidationPolicy]:
    return [
        object_policy(
            "images-pinned",
            "Container images must be pinned to a version tag or digest (not :latest or untagged).",
            check,
        )
    ]
