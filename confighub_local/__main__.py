"""`python -m confighub_local ...`"""

from confighub_local.cli import cli

cli()
