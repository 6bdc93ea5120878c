"""The captured preview cases: which fixture-program change produced each, and how to render it.

Captured once with the real engine by `python -m tests.preview_comment.capture` (needs
`make bootstrap`); the tests only read the files under fixtures/<case>/.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from preview_comment.mask import Scrubber
from preview_comment.models import load_events, load_preview, load_stack_export
from preview_comment.render import CommentInput, render

FIXTURES: Final = Path(__file__).resolve().parent / "fixtures"
CASES: Final = ("create", "update", "replace", "delete", "secrets", "policy", "program-dev")
#: Secret values used while capturing; none may appear in a rendered comment.
TOKEN: Final = "fixture-target-token-9f2c"
NEW_TOKEN: Final = "fixture-target-token-rotated-77ab"
LITERAL_PASSWORD: Final = "S3cr3t-Literal-Pa55"
LOG_URL: Final = "https://github.com/example/traderx/actions/runs/1"


def stack_of(case: str) -> str:
    return "prod" if case == "policy" else "dev"


def project_of(case: str) -> str:
    """`program-*` cases come from the TraderX program itself, the others from the fixture."""
    return "traderx" if case.startswith("program-") else "traderx-fixture"


def render_case(case: str, limit: int | None = None) -> str:
    """Render fixtures/<case> exactly as CI would (CI scrubs its own token values)."""
    folder = FIXTURES / case
    violations, errors = load_events(folder / "events.jsonl")
    inp = CommentInput(
        project=project_of(case),
        stack=stack_of(case),
        digest=load_preview(folder / "preview.json"),
        violations=violations,
        errors=errors,
        log_url=LOG_URL,
        known=load_stack_export(state if (state := folder / "state.json").exists() else None),
    )
    scrub = Scrubber([TOKEN, NEW_TOKEN])
    return render(inp, scrub) if limit is None else render(inp, scrub, limit=limit)
