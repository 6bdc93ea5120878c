"""Benchmarks (print measured figures; `make bench`)."""
