"""Turn policy-SDK property proxies into plain Python values.

During `pulumi preview` some inputs are unknown (outputs of resources not created yet). The SDK's
proxy raises on access to them, which would abort a whole policy; we map them to `UNKNOWN`
instead so each rule can decide (usually: cannot judge, no violation).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

from pulumi_policy import Secret, proxy


class _Unknown:
    """Marker for a value the engine does not know yet (preview of a not-yet-created input)."""

    _instance: _Unknown | None = None

    def __new__(cls) -> _Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNKNOWN"

    def __bool__(self) -> bool:
        return True


UNKNOWN: Final = _Unknown()

_SENTINELS: Final = frozenset(
    {
        proxy.UNKNOWN_BOOLEAN_VALUE,
        proxy.UNKNOWN_NUMBER_VALUE,
        proxy.UNKNOWN_STRING_VALUE,
        proxy.UNKNOWN_ARRAY_VALUE,
        proxy.UNKNOWN_ASSET_VALUE,
        proxy.UNKNOWN_ARCHIVE_VALUE,
        proxy.UNKNOWN_OBJECT_VALUE,
    }
)


def _raw(value: Any) -> Any:
    """Unwrap the SDK's unknown-checking proxy without triggering its checks."""
    if isinstance(value, Mapping | Sequence) and not isinstance(value, str | bytes):
        try:
            return value["__target"]  # type: ignore[call-overload]
        except (KeyError, IndexError, TypeError):
            return value
    return value


def plain(value: Any) -> Any:
    """Deep-copy `value` into dicts/lists/scalars, replacing unknown sentinels with UNKNOWN."""
    value = _raw(value)
    if isinstance(value, str):
        return UNKNOWN if value in _SENTINELS else value
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, bytes):
        return [plain(v) for v in value]
    if isinstance(value, Secret):  # only under remediation proxies; rules never print values
        return plain(value.value)
    return value


def dig(obj: Any, *path: str | int, default: Any = None) -> Any:
    """Follow `path` through nested dicts/lists; `default` when a step is missing."""
    cur = obj
    for step in path:
        if cur is UNKNOWN:
            return UNKNOWN
        if isinstance(step, int):
            if not isinstance(cur, list) or step >= len(cur):
                return default
            cur = cur[step]
        else:
            if not isinstance(cur, dict) or step not in cur:
                return default
            cur = cur[step]
    return cur
