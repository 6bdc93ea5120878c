"""How a step of `pulumi refresh --preview-only` is classified for `traderx drift check --stack`
(pure: engine step metadata built by hand, shaped like the engine's JSON events). The engine
lists every resource with op `refresh`, components included; only a resource the refresh would
delete, or whose live properties differ, is drift."""

from __future__ import annotations

from pulumi.automation import events

from operator_cli.stacks import refresh_change

NP = "kubernetes:networking.k8s.io/v1:NetworkPolicy"
URN = f"urn:pulumi:dev::traderx::traderx:platform:Platform${NP}::np"


def _state(
    type_: str = NP, *, id_: str = "ns/np", custom: bool | None = True
) -> events.StepEventStateMetadata:
    return events.StepEventStateMetadata(type_, URN, id_, "", "", custom=custom)


def _step(
    op: str,
    *,
    type_: str = NP,
    new: events.StepEventStateMetadata | None = None,
    old: events.StepEventStateMetadata | None = None,
    diffs: list[str] | None = None,
) -> events.StepEventMetadata:
    return events.StepEventMetadata(
        events.OpType(op), URN, type_, "", old=old, new=new, diffs=diffs
    )


def test_unchanged_refresh_step_is_not_drift() -> None:
    assert refresh_change(_step("refresh", old=_state(), new=_state(), diffs=[])) is None


def test_component_resources_are_never_drift() -> None:
    comp = "traderx:environment:TraderXEnvironment"
    state = _state(comp, id_="", custom=False)
    assert refresh_change(_step("refresh", type_=comp, old=state, new=state)) is None
    assert refresh_change(_step("refresh", type_=comp, old=state, new=None)) is None


def test_the_stack_is_not_drift() -> None:
    stack = "pulumi:pulumi:Stack"
    state = _state(stack, id_="", custom=None)
    assert refresh_change(_step("refresh", type_=stack, old=state, new=None)) is None


def test_a_resource_the_refresh_would_delete_is_deleted() -> None:
    assert refresh_change(_step("refresh", old=_state(), new=None)) == "deleted"
    assert refresh_change(_step("delete", old=_state(), new=None)) == "deleted"


def test_changed_live_properties_are_changed() -> None:
    step = _step("refresh", old=_state(), new=_state(), diffs=["spec"])
    assert refresh_change(step) == "changed"


def test_same_and_read_are_not_drift() -> None:
    assert refresh_change(_step("same", old=_state(), new=_state())) is None
    assert refresh_change(_step("read", old=_state(), new=_state())) is None
