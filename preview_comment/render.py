"""Markdown for one project+stack: summary table first, a loud warning on deletes/replaces,
policy violations, errors, the per-resource list, the full diff folded; capped under GitHub's
65,536-character comment limit with a pointer to the CI log when something had to be cut."""

from __future__ import annotations

import difflib
import re
from collections import Counter
from collections.abc import Callable
from typing import Final

from pydantic import BaseModel

from .changes import ResourceChange, collect
from .cost import cost_lines
from .models import PolicyViolation, PreviewDiagnostic, PreviewDigest, ResourceState

GITHUB_LIMIT: Final = 65_536
_SAFETY: Final = 512  # slack for the cut notes themselves
_ICONS: Final = {
    "create": "\N{HEAVY PLUS SIGN}",
    "update": "✏️",
    "replace": "🔁",
    "delete": "🗑️",
    "import": "📥",
    "read": "👀",
    "refresh": "🔄",
}
_LEVEL_ORDER: Final = {"mandatory": 0, "remediate": 1, "advisory": 2, "disabled": 3}


class CommentInput(BaseModel):
    project: str
    stack: str
    digest: PreviewDigest
    violations: list[PolicyViolation] = []
    errors: list[PreviewDiagnostic] = []
    log_url: str | None = None
    known: list[ResourceState] = []
    exit_code: int | None = None  # the preview's exit code, when the renderer ran it

    def all_errors(self) -> list[PreviewDiagnostic]:
        """Error diagnostics from the event log and the preview JSON, without repeats."""
        seen: set[str] = set()
        found: list[PreviewDiagnostic] = []
        for diag in [*self.errors, *(d for d in self.digest.diagnostics if d.severity == "error")]:
            key = diag.message.strip().removeprefix("error: ")
            if key and key not in seen:
                seen.add(key)
                found.append(diag)
        return found


def marker(project: str, stack: str) -> str:
    """Hidden marker that identifies this project+stack's comment on a pull request."""
    return f"<!-- traderx-preview-comment project={project} stack={stack} -->"


def escape(text: str) -> str:
    """Neutralise HTML and table pipes in engine-provided text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("|", "\\|")


def _one_line(text: str) -> str:
    return " ".join(escape(text).split())


def _summary(changes: list[ResourceChange], inp: CommentInput) -> list[str]:
    counts = Counter(inp.digest.change_summary) or Counter(c.op for c in changes)
    levels = Counter(v.level for v in inp.violations)
    failed = bool(inp.all_errors()) or bool(inp.exit_code)
    destructive = counts["delete"] + counts["replace"]
    if levels["mandatory"]:
        status = "❌ **blocked**: mandatory policy violations"
    elif failed:
        code = f" (exit code {inp.exit_code})" if inp.exit_code else ""
        status = f"❌ **the preview failed**{code}; see the errors and the CI log"
    elif destructive:
        status = "⚠️ **deletes or replaces resources**"
    elif sum(counts[o] for o in ("create", "update", "import")):
        status = "✅ changes look safe to policy"
    else:
        status = "✅ no changes"
    return [
        f"### Pulumi preview: `{inp.project}` / `{inp.stack}` — {status}",
        "",
        "| stack | \N{HEAVY PLUS SIGN} create | ✏️ update | 🔁 replace | 🗑️ delete | unchanged "
        "| policy: mandatory | policy: advisory |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
        f"| `{inp.stack}` | {counts['create']} | {counts['update']} | {counts['replace']} "
        f"| {counts['delete']} | {counts['same']} | {levels['mandatory']} | {levels['advisory']} |",
        "",
    ]


def _caution(changes: list[ResourceChange], stack: str) -> list[str]:
    destructive = [c for c in changes if c.destructive]
    if not destructive:
        return []
    lines = [
        "> [!CAUTION]",
        f"> **This change deletes or replaces {len(destructive)} resource(s) in `{stack}`.** "
        "Replacing a ConfigHub unit or space deletes it first; make sure that is intended.",
    ]
    for c in destructive:
        why = f" (replaced because {', '.join(f'`{r}`' for r in c.replace_reasons)} changed)"
        lines.append(f"> - **{c.op}** {c.label}{why if c.replace_reasons else ''}")
    return [*lines, ""]


def _violation_lines(inp: CommentInput, labels: dict[str, str]) -> list[str]:
    ordered = sorted(inp.violations, key=lambda v: _LEVEL_ORDER.get(v.level, 9))
    lines = []
    for v in ordered:
        urn = v.resource_urn or ""
        stack_wide = not urn or "::pulumi:pulumi:Stack::" in urn
        target = "the stack" if stack_wide else labels.get(urn, f"`{urn.rsplit('::', 1)[-1]}`")
        badge = "**MANDATORY**" if v.level == "mandatory" else f"_{v.level}_"
        # the engine prefixes the policy's description; the specific part says what to change
        description, _, specific = v.message.partition("\n")
        text = specific.strip() or description
        lines.append(f"- {badge} `{v.policy_name}` on {target}: {_one_line(text)}")
    return lines


def _field(field: str) -> str:
    """`name` plus any note the change list attached ("(known after apply)")."""
    name, _, note = field.partition(" ")
    return f"`{name}`" + (f" {note}" if note else "")


def _resource_lines(changes: list[ResourceChange]) -> list[str]:
    lines = []
    for c in changes:
        if c.op == "same" or c.type == "pulumi:pulumi:Stack":
            continue
        line = f"- {_ICONS.get(c.op, '•')} **{c.op}** {c.label}"
        if c.fields:
            line += " — fields: " + ", ".join(_field(f) for f in c.fields)
        elif c.op == "update":
            line += " — no visible input change (secret values or the provider changed)"
        for img in c.images:
            if img.old and img.new:
                line += f"\n  - image {escape(img.where)}: `{img.old}` → `{img.new}`"
            else:
                gone = " (removed)" if img.old else ""
                line += f"\n  - image {escape(img.where)}: `{img.new or img.old}`{gone}"
        for change in c.data_changes[:15]:
            line += f"\n  - `{escape(change)}`"
        if len(c.data_changes) > 15:
            line += f"\n  - … {len(c.data_changes) - 15} more field changes (see the full diff)"
        lines.append(line)
    return lines


def _diff_text(changes: list[ResourceChange]) -> str:
    chunks = []
    for c in changes:
        if c.op == "same" or c.old_text == c.new_text:
            continue
        diff = difflib.unified_diff(
            c.old_text.splitlines(keepends=True),
            c.new_text.splitlines(keepends=True),
            fromfile=f"{c.op} {c.name} ({c.type})",
            tofile=f"{c.op} {c.name} ({c.type})",
            n=3,
        )
        chunks.append("".join(diff))
    return "".join(chunks)


def _error_block(message: str, max_lines: int = 40) -> str:
    """An engine error as a text block (tracebacks keep their lines), last lines kept."""
    lines = message.strip().removeprefix("error: ").splitlines()
    if len(lines) == 1:
        return f"- {_one_line(lines[0])}"
    if len(lines) > max_lines:
        lines = [f"… {len(lines) - max_lines} earlier lines in the CI log", *lines[-max_lines:]]
    body = "\n".join(lines)
    fence = "`" * max(3, _longest_backtick_run(body) + 1)
    return f"{fence}text\n{body}\n{fence}"


def _longest_backtick_run(text: str) -> int:
    return max((len(run) for run in re.findall(r"`+", text)), default=0)


def _fit(lines: list[str], budget: int, what: str, pointer: str) -> tuple[list[str], int]:
    """Keep whole lines within `budget` characters; note how many were cut."""
    kept: list[str] = []
    used = 0
    for i, line in enumerate(lines):
        if used + len(line) + 1 > budget:
            note = f"- … {len(lines) - i} more {what} cut to fit GitHub's comment limit; {pointer}"
            return [*kept, note], used + len(note) + 1
        kept.append(line)
        used += len(line) + 1
    return kept, used


def render(inp: CommentInput, scrub: Callable[[str], str], limit: int = GITHUB_LIMIT) -> str:
    """The comment body for one project+stack (secrets scrubbed, at most `limit` characters)."""
    changes = collect(inp.digest, inp.known)
    labels = {c.urn: c.label for c in changes}
    pointer = f"see the [CI log]({inp.log_url})" if inp.log_url else "see the CI log"
    head = [marker(inp.project, inp.stack), *_summary(changes, inp), *_caution(changes, inp.stack)]
    foot = [
        "",
        f"<sub>Rendered by <code>python -m preview_comment</code> from <code>pulumi preview "
        f"--json</code> and the engine event log. Full output: {pointer.removeprefix('see ')}."
        "</sub>",
    ]
    budget = limit - _SAFETY - sum(len(x) + 1 for x in head + foot)

    sections: list[str] = []
    for title, lines, what in (
        ("#### ❗ Errors", [_error_block(e.message) for e in inp.all_errors()], "errors"),
        ("#### Policy violations", _violation_lines(inp, labels), "violations"),
        ("#### Resources", _resource_lines(changes), "resources"),
        ("#### Monthly cost", cost_lines(inp.digest), "cost lines"),
    ):
        if not lines:
            continue
        kept, used = _fit(lines, budget - len(title) - 2, what, pointer)
        sections += [title, *kept, ""]
        budget -= used + len(title) + 2

    diff = scrub(_diff_text(changes))
    if diff:
        fence = "`" * max(3, _longest_backtick_run(diff) + 1)
        opening = f"<details><summary>Full diff ({len(diff):,} characters)</summary>\n\n{fence}diff"
        closing = f"{fence}\n</details>"
        room = budget - len(opening) - len(closing) - 200
        note = []
        if len(diff) > room:
            cut = diff[: max(room, 0)].rsplit("\n", 1)[0]
            note = [f"_Diff cut at {len(cut):,} of {len(diff):,} characters; {pointer}._"]
            diff = cut + "\n"
        sections += [opening, diff.rstrip("\n"), closing, *note]

    body = scrub("\n".join([*head, *sections, *foot]))
    if len(body) > limit:  # scrubbing only shortens; this guards the arithmetic above
        body = body[: limit - 200] + f"\n\n… comment cut to fit GitHub's limit; {pointer}\n"
    return body
