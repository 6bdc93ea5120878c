"""The pack keeps its own TraderX table (it must run standalone); this keeps it in step with
the program's catalog, so a change there cannot silently loosen or tighten the gate."""

from __future__ import annotations

from policies import catalog as pack


def test_pack_table_matches_program_catalog() -> None:
    from components.model import catalog as program

    singletons = {s.name for s in program.SERVICES if s.fixed_replicas == 1}
    assert singletons == pack.SINGLETONS
    assert set(program.CRITICAL_SERVICES) - singletons == pack.CRITICAL_STATELESS
    assert set(program.CRITICAL_STATELESS) == pack.CRITICAL_STATELESS
    assert program.PROD_MIN_CRITICAL_REPLICAS == pack.MIN_CRITICAL_REPLICAS
    assert set(program.SERVICE_NAMES) == pack.SERVICES
