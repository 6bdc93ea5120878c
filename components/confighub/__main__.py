"""`python -m components.confighub adopt <kind> <space_id> <slug> --owner <project>/<stack>`.

Connection from CONFIGHUB_URL / CONFIGHUB_TOKEN, like `cub`.
"""

from __future__ import annotations

import typer

from .adopt import KINDS, mark_managed
from .client import get_client
from .errors import ConfigHubError

app = typer.Typer(add_completion=False, help="ConfigHub helpers for the Pulumi program.")


@app.callback()
def main() -> None:
    """ConfigHub helpers for the Pulumi program."""


@app.command()
def adopt(
    kind: str = typer.Argument(..., help=f"one of {sorted(KINDS)}"),
    space_id: str = typer.Argument(..., help="space ID ('-' for a space itself)"),
    slug: str = typer.Argument(...),
    owner: str = typer.Option(..., help="the adopting stack, as <project>/<stack>"),
) -> None:
    """Mark an existing object as managed so the next `pulumi up` adopts it."""
    try:
        entity_id = mark_managed(
            get_client(), kind, None if space_id == "-" else space_id, slug, owner
        )
    except ConfigHubError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    typer.echo(f"{kind} {slug} ({entity_id}) is now managed; `pulumi up` will adopt it")


if __name__ == "__main__":
    app()
