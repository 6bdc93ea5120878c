"""How the CLI talks back: exit codes, failures that say what to run, JSON or Rich, progress.

Exit codes mean one thing each, so scripts can branch on them:

| code | meaning |
|---|---|
| 0 | done |
| 1 | the operation ran and failed (an apply, a `pulumi up`) |
| 2 | usage: a bad option or argument (Typer's own code) |
| 3 | refused: a precondition does not hold (the server already holds the project, ...) |
| 4 | bad input: a corrupt, partial or too-new backup, an invalid price file |
| 5 | ConfigHub unreachable or the connection settings are missing/wrong |
| 6 | not found: the project, stack or environment named does not exist |
| 7 | drift found that was not corrected (reported: high risk, or correction off/failed) |
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import IntEnum
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table


class Exit(IntEnum):
    OK = 0
    FAILED = 1
    USAGE = 2
    REFUSED = 3
    BAD_INPUT = 4
    UNREACHABLE = 5
    NOT_FOUND = 6
    DRIFT = 7


class CliError(Exception):
    """A failure the user can act on: what is wrong, and the command to run next."""

    def __init__(self, code: Exit, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.hint = hint

    def as_json(self) -> dict[str, Any]:
        return {
            "error": self.message,
            "hint": self.hint,
            "exitCode": int(self.code),
            "kind": self.code.name.lower(),
        }


class Output:
    """Results to stdout (a Rich rendering, or one JSON document with `--json`); progress and
    messages to stderr, so `--json` output stays parseable."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json
        self.out = Console(file=sys.stdout, soft_wrap=True)
        self.err = Console(file=sys.stderr, soft_wrap=True)

    def info(self, message: str) -> None:
        if not self.as_json:
            self.err.print(message)

    def result(self, data: Any, render: Table | str | None = None) -> None:
        if self.as_json:
            sys.stdout.write(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
        elif render is not None:
            self.out.print(render)

    def failure(self, error: CliError) -> None:
        if self.as_json:
            sys.stdout.write(json.dumps(error.as_json(), indent=2) + "\n")
            return
        self.err.print(f"[bold red]error:[/] {error.message}", highlight=False)
        if error.hint:
            self.err.print(f"[bold]next:[/] {error.hint}", highlight=False)

    @contextmanager
    def progress(self, description: str, total: int | None = None) -> Iterator[Step]:
        """A progress bar on stderr (quiet with `--json` or when stderr is not a terminal)."""
        with self.progress_tasks([description], total) as steps:
            yield steps[0]

    @contextmanager
    def progress_tasks(
        self, descriptions: list[str], total: int | None = None
    ) -> Iterator[list[Step]]:
        """One bar per description, for work that runs side by side (Rich allows a single live
        display at a time; its updates are thread-safe)."""
        quiet = self.as_json or not self.err.is_terminal
        with Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[item]}"),
            TimeElapsedColumn(),
            console=self.err,
            disable=quiet,
            transient=False,
        ) as bar:
            yield [Step(bar, bar.add_task(d, total=total, item="")) for d in descriptions]


class Step:
    """One task of a progress bar: `advance(item)` after each piece of work. Without a bar
    (`Step()`) it counts silently, for work done before any progress is shown."""

    def __init__(self, bar: Progress | None = None, task: Any = None) -> None:
        self._bar = bar
        self._task = task

    def total(self, total: int) -> None:
        if self._bar is not None:
            self._bar.update(self._task, total=total)

    def advance(self, item: str = "", amount: int = 1) -> None:
        if self._bar is not None:
            self._bar.update(self._task, advance=amount, item=item)


def table(title: str, columns: list[str], rows: list[list[Any]]) -> Table:
    out = Table(title=title, title_justify="left")
    for name in columns:
        numeric = name.endswith(("cpu", "GiB", "$", "count"))
        # only free text wraps; names and figures stay whole
        out.add_column(name, justify="right" if numeric else "left", no_wrap=name != "detail")
    for row in rows:
        out.add_row(*("" if v is None else str(v) for v in row))
    return out
