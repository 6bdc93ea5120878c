"""Fixtures for the policy tests (helpers live in factories.py)."""

from tests.policies.factories import run_resource, run_stack, stack

__all__ = ["run_resource", "run_stack", "stack"]
