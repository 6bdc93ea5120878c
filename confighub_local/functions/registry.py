"""Function registry: a signature (as `GET /function` lists it) plus the implementation."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Result:
    """What a function did to one unit's documents."""

    docs: list[Any]
    output: Any = None
    passed: bool = True
    messages: tuple[str, ...] = ()


Impl = Callable[[list[Any], list[Any]], Result]


@dataclass(frozen=True)
class Function:
    signature: dict[str, Any]
    impl: Impl


REGISTRY: dict[str, Function] = {}
