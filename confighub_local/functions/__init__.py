"""Config functions run over units' YAML (set-image-reference, set-replicas, ...)."""

from confighub_local.functions.registry import REGISTRY, Function

__all__ = ["REGISTRY", "Function"]
