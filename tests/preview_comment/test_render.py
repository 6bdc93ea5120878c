"""The renderer on real previews captured from the engine (fixtures/<case>), against the
checked-in expected Markdown, plus the properties a reviewer relies on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from preview_comment.mask import MASK, Scrubber, mask_value, mask_yaml_text
from preview_comment.models import (
    InputError,
    PreviewDiagnostic,
    PreviewDigest,
    load_events,
    load_preview,
)
from preview_comment.render import GITHUB_LIMIT, CommentInput, marker, render
from tests.preview_comment.cases import (
    CASES,
    FIXTURES,
    LITERAL_PASSWORD,
    LOG_URL,
    NEW_TOKEN,
    TOKEN,
    project_of,
    render_case,
    stack_of,
)


@pytest.mark.parametrize("case", CASES)
def test_matches_expected_markdown(case: str) -> None:
    expected = (FIXTURES / case / "expected.md").read_text()
    assert render_case(case) == expected, (
        f"render of {case} changed; if intended: python -m tests.preview_comment.capture --render"
    )


@pytest.mark.parametrize("case", CASES)
def test_structure_every_case(case: str) -> None:
    text = render_case(case)
    lines = text.splitlines()
    stack, project = stack_of(case), project_of(case)
    assert lines[0] == marker(project, stack)
    assert lines[1].startswith(f"### Pulumi preview: `{project}` / `{stack}`")
    assert lines[3].startswith("| stack |")  # summary table first
    assert len(text) < GITHUB_LIMIT
    for secret in (TOKEN, NEW_TOKEN, LITERAL_PASSWORD):
        assert secret not in text


@pytest.mark.parametrize(("case", "op"), [("replace", "replace"), ("delete", "delete")])
def test_loud_warning_on_destructive_changes(case: str, op: str) -> None:
    text = render_case(case)
    caution = text.index("> [!CAUTION]")
    assert caution < text.index("#### Resources")
    assert f"> - **{op}** ConfigHub unit" in text
    if op == "replace":
        assert "unit `reference-data` → `reference-data-v2` in space `traderx-dev`" in text


def test_no_warning_without_deletes() -> None:
    assert "[!CAUTION]" not in render_case("update")
    assert "[!CAUTION]" not in render_case("create")


def test_update_names_space_unit_fields_and_images() -> None:
    text = render_case("update")
    assert (
        "✏️ **update** ConfigHub unit `trade-service` in space `traderx-dev` — fields: `data`"
        in text
    )
    assert (
        "image Deployment/trade-service container trade-service: "
        "`ghcr.io/finos/traderx/trade-service:1.4.2` → `ghcr.io/finos/traderx/trade-service:1.5.0`"
    ) in text
    assert "`Deployment/trade-service: spec.replicas: 1 → 2`" in text
    assert "<details><summary>Full diff" in text and "</details>" in text


def test_policy_failures_listed_with_level_mandatory_first() -> None:
    text = render_case("policy")
    assert "❌ **blocked**: mandatory policy violations" in text
    section = text.split("#### Policy violations", 1)[1].split("#### Resources", 1)[0]
    items = [line for line in section.splitlines() if line.startswith("- ")]
    assert len(items) == 12 and all(i.startswith("- **MANDATORY**") for i in items)
    assert any("`images-pinned` on ConfigHub unit `trade-service`" in i for i in items)
    assert any("`namespace-default-deny` on the stack" in i for i in items)


def test_secrets_are_masked() -> None:
    text = render_case("secrets")
    assert LITERAL_PASSWORD not in text
    assert f"value: '{MASK}'" in text
    assert "ConfigHub Target `cluster-dev`" in text
    assert "ConfigHub unit `namespace` in space `traderx-dev` — fields: `target_id` (known" in text
    # the raw capture really contained the literal, so masking did the work
    assert LITERAL_PASSWORD in (FIXTURES / "secrets" / "preview.json").read_text()


def test_known_secret_values_are_scrubbed_anywhere() -> None:
    scrub = Scrubber(["hunter2-long-secret", "abc"])  # too-short values are ignored
    assert scrub("x hunter2-long-secret y abc") == f"x {MASK} y abc"
    text = "kind: Secret\nmetadata: {name: db}\nstringData: {password: sa}\n"
    assert "sa}" not in mask_yaml_text(text) and "password: '***'" in mask_yaml_text(text)


@pytest.mark.parametrize("limit", [2500, 6000])
def test_cut_to_limit_with_pointer_to_ci_log(limit: int) -> None:
    text = render_case("create", limit=limit)
    assert len(text) <= limit
    assert LOG_URL in text
    assert "cut" in text
    assert text.count("<details>") == text.count("</details>")
    fences = [line for line in text.splitlines() if line.startswith("```")]
    assert len(fences) % 2 == 0


def test_uncut_comment_has_no_cut_note() -> None:
    assert " cut " not in render_case("create")


def test_bad_inputs_name_file_and_line(tmp_path: Path) -> None:
    preview = tmp_path / "p.json"
    preview.write_text('{"steps": [{"op": 1}]}')
    with pytest.raises(InputError, match=r"p\.json is not `pulumi preview --json` output"):
        load_preview(preview)
    events = tmp_path / "e.jsonl"
    events.write_text(json.dumps({"policyEvent": {"message": "m"}}) + "\n")
    with pytest.raises(InputError, match=r"e\.jsonl:1: not an engine event"):
        load_events(events)
    with pytest.raises(InputError, match="cannot read preview JSON"):
        load_preview(tmp_path / "missing.json")


def test_empty_preview_output_renders_the_errors(tmp_path: Path) -> None:
    empty = tmp_path / "p.json"
    empty.write_text("")
    assert load_preview(empty).steps == []


def test_failed_preview_is_never_reported_as_no_changes() -> None:
    digest = PreviewDigest.model_validate(
        {
            "diagnostics": [
                {
                    "message": "error: Program failed:\nTraceback\n  line 3\nBoom",
                    "severity": "error",
                }
            ]
        }
    )
    errors = [
        PreviewDiagnostic(message="Program failed:\nTraceback\n  line 3\nBoom", severity="error")
    ]
    inp = CommentInput(project="p", stack="dev", digest=digest, errors=errors, exit_code=255)
    text = render(inp, Scrubber([]))
    assert "❌ **the preview failed** (exit code 255)" in text
    assert "no changes" not in text
    assert text.count("Traceback") == 1  # the JSON's and the event log's copies are one error
    assert "```text\nProgram failed:\nTraceback\n  line 3\nBoom\n```" in text
    bare = CommentInput(project="p", stack="dev", digest=PreviewDigest(), exit_code=1)
    assert "the preview failed" in render(bare, Scrubber([]))


def test_inline_kubeconfig_is_masked_but_a_path_is_shown() -> None:
    inline = "apiVersion: v1\nusers:\n- user: {token: abc}\n"
    assert mask_value({"kubeconfig": inline}) == {"kubeconfig": MASK}
    assert mask_value({"kubeconfig": "/home/ci/.kube/config"}) == {
        "kubeconfig": "/home/ci/.kube/config"
    }


def test_real_program_preview_of_dev() -> None:
    """`pulumi preview -s dev` of the TraderX program itself, with the pack (advisory on dev)."""
    text = render_case("program-dev")
    assert "✅ changes look safe to policy" in text  # advisory findings do not block dev
    # 16 advisory findings, all on the base units: dev's units are clones of them, which a
    # first preview (the base units not created yet) cannot plan, so only the templates' data,
    # the same content, is judged here; `up` judges dev's once the upstream IDs are known
    assert "| `dev` | 72 | 0 | 0 | 0 | 0 | 0 | 16 |" in text
    assert "PersistentVolumeClaim" in text and "emptyDir" not in text  # the database's claim
    assert "namespace 'traderx-dev'" not in text  # the platform's default deny is recognised
    assert "namespace 'traderx-base'" not in text  # base units are templates, never applied
    assert "_advisory_ `images-pinned` on ConfigHub unit `trade-service` in space" in text
    assert "**MANDATORY**" not in text
    assert "**create** NetworkPolicy `traderx-dev/default-deny-all`" in text
    assert len(text) < GITHUB_LIMIT and "_Diff cut at " in text and LOG_URL in text
