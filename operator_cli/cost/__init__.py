"""Cost report: the pure model (`model`), its prices (`prices`), and reading units (`units`)."""
