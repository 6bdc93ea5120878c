"""`python -m operator_cli` is the `traderx` console script."""

from operator_cli.app import main

main()
