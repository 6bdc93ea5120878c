"""How a provider failure reaches `pulumi up`: its message, not a Python traceback.

The SDK's provider server reports any exception a provider method raises with
`traceback.format_exc()`, so every failed step (a refused adoption, a unit that did not apply,
bad unit data) showed 10-30 lines of SDK and provider frames above the one line that says what
went wrong. `format_exc` honours `sys.tracebacklimit`; the SDK's provider host
(`python -m pulumi.dynamic`) sets it to 0 when it configures a provider (`quiet_tracebacks`,
called from `configure`), so a failure shows as `<error type>: <message>` (and its causes'
messages). Only that process: anywhere else (tests configure providers in-process, the CLI) a
limit of 0 would also empty `traceback.extract_stack()`, which the Pulumi SDK itself uses.

Errors raised on purpose (`ConfigHubError`, and `ValueError` for bad input, which includes
pydantic's validation errors) say what is wrong and where; their frames help nobody. Anything
else is a bug in a provider: `ProviderBug` carries the original traceback in its message, so a
bug report still has it.
"""

from __future__ import annotations

import functools
import sys
import traceback
from collections.abc import Callable
from typing import Any, TypeVar

from .errors import ConfigHubError

EXPECTED: tuple[type[BaseException], ...] = (ConfigHubError, ValueError)
LIFECYCLE = ("configure", "check", "diff", "create", "read", "update", "delete")
TRACE_FRAMES = 40  # of an unexpected exception, in `ProviderBug`'s message

F = TypeVar("F", bound=Callable[..., Any])


class ProviderBug(Exception):
    """An exception a provider did not raise on purpose; the message carries its traceback."""


PASSED_ON: tuple[type[BaseException], ...] = (*EXPECTED, ProviderBug)  # raised as they are


PROVIDER_HOST = "pulumi.dynamic.__main__"  # the module the SDK's provider host runs as __main__


def in_provider_host() -> bool:
    """True in the process the SDK runs dynamic providers in."""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    return getattr(spec, "name", None) == PROVIDER_HOST


def quiet_tracebacks() -> None:
    """In the provider host, report provider failures by message (see the module docstring)."""
    if in_provider_host():
        sys.tracebacklimit = 0


def reported(method: F, where: str) -> F:
    """`method`, with an unexpected exception turned into a `ProviderBug` that keeps the trace."""

    @functools.wraps(method)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except PASSED_ON:
            raise
        except Exception as exc:
            trace = "".join(traceback.format_exception(exc, limit=TRACE_FRAMES)).rstrip()
            raise ProviderBug(
                f"unexpected {type(exc).__name__} in {where} (a bug in the provider; "
                f"please report it with this trace):\n{trace}"
            ) from None

    call.__dict__["_reported"] = True
    return call  # type: ignore[return-value]


class ReportsErrors:
    """Mixin for providers: every lifecycle method a subclass defines is `reported`."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name in LIFECYCLE:
            method = cls.__dict__.get(name)
            if callable(method) and not getattr(method, "_reported", False):
                setattr(cls, name, reported(method, f"{cls.__name__}.{name}"))
