"""httpx, imported without its command-line tool.

httpx's package import also loads `httpx._main` (click, rich, pygments: about 35 ms of each
provider process's first call, and of the program's lastDrift read) whenever those are
installed, as rich is here. Nothing here runs that tool; a None entry in `sys.modules` makes
its optional import fail, and httpx falls back to its own stub `main` (the path it takes when
the CLI's extras are not installed). Import httpx through this module.
"""

import sys

sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]

import httpx  # noqa: E402

__all__ = ["httpx"]
