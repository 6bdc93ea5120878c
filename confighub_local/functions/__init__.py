"""Config functions run over units' YAML (set-image-reference, set-replicas, ...)."""

from confighub_local.functions import k8s as _k8s  # noqa: F401  (registers)
from confighub_local.functions.registry import REGISTRY, Function

__all__ = ["REGISTRY", "Function"]
