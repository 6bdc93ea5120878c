"""The poster against a local HTTP server that records the GitHub API calls."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from preview_comment import github
from preview_comment.render import marker
from tests.preview_comment.cases import FIXTURES
from tests.preview_comment.fake_github import FakeGitHub, serve

REPO = "finos/traderx-confighub"
TOKEN = "ghs_fake_token_for_tests"


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    with serve() as server:
        yield server


def comments(fake: FakeGitHub) -> github.Comments:
    return github.Comments(github.client(TOKEN, fake.url), REPO)


def body(stack: str, text: str) -> str:
    return f"{marker('traderx', stack)}\n{text}"


def test_first_post_creates_then_updates_in_place(fake: FakeGitHub) -> None:
    api = comments(fake)
    created = api.upsert(7, marker("traderx", "dev"), body("dev", "v1"))
    assert created.action == "created"
    updated = api.upsert(7, marker("traderx", "dev"), body("dev", "v2"))
    assert updated.action == "updated" and updated.comment.id == created.comment.id
    assert [c["body"] for c in fake.comments[(REPO, 7)]] == [body("dev", "v2")]
    assert [c.method for c in fake.calls] == ["GET", "POST", "GET", "PATCH"]
    assert fake.calls_of("PATCH")[0].path == f"/repos/{REPO}/issues/comments/{created.comment.id}"
    assert all(c.authorization == f"Bearer {TOKEN}" for c in fake.calls)
    assert all(TOKEN not in str(c.query) for c in fake.calls)


def test_unchanged_body_makes_no_write(fake: FakeGitHub) -> None:
    api = comments(fake)
    api.upsert(7, marker("traderx", "dev"), body("dev", "same"))
    fake.calls.clear()
    assert api.upsert(7, marker("traderx", "dev"), body("dev", "same")).action == "unchanged"
    assert [c.method for c in fake.calls] == ["GET"]


def test_finds_its_comment_on_a_later_page(fake: FakeGitHub) -> None:
    for i in range(230):
        fake.add(REPO, 9, f"chatter {i}")
    mine = fake.add(REPO, 9, body("prod", "old"))
    fake.add(REPO, 9, "more chatter")
    result = comments(fake).upsert(9, marker("traderx", "prod"), body("prod", "new"))
    assert result.action == "updated" and result.comment.id == mine["id"]
    gets = fake.calls_of("GET")
    assert [g.query.get("page", "1") for g in gets] == ["1", "2", "3"]
    assert gets[0].query["per_page"] == "100"
    assert not fake.calls_of("POST")


def test_one_comment_per_stack_so_matrix_jobs_do_not_collide(fake: FakeGitHub) -> None:
    api = comments(fake)
    for stack in ("dev", "staging", "prod", "dev"):
        api.upsert(3, marker("traderx", stack), body(stack, f"preview of {stack}"))
    bodies = sorted(c["body"] for c in fake.comments[(REPO, 3)])
    assert len(bodies) == 3
    assert marker("traderx-other", "dev") != marker("traderx", "dev")


def test_transient_errors_are_retried_and_hard_errors_named(fake: FakeGitHub) -> None:
    api = comments(fake)
    fake.fail_next = [502, 503]
    assert api.upsert(5, marker("traderx", "dev"), body("dev", "x")).action == "created"
    fake.fail_next = [403]
    with pytest.raises(github.GitHubError, match=r"GET /repos/.*/issues/5/comments: HTTP 403"):
        api.upsert(5, marker("traderx", "dev"), body("dev", "y"))


def test_refuses_body_without_marker_and_bad_repo(fake: FakeGitHub) -> None:
    with pytest.raises(github.GitHubError, match="lacks its marker"):
        comments(fake).upsert(1, marker("traderx", "dev"), "no marker here")
    with pytest.raises(github.GitHubError, match="owner/name"):
        github.Comments(github.client(TOKEN, fake.url), "just-a-name")
    with pytest.raises(github.GitHubError, match="GITHUB_TOKEN"):
        github.client("", fake.url)
    assert fake.calls == []


def test_cli_publish_renders_and_posts(fake: FakeGitHub, tmp_path: Path) -> None:
    case = FIXTURES / "update"
    args = [
        sys.executable, "-m", "preview_comment", "publish",
        "--preview", str(case / "preview.json"), "--events", str(case / "events.jsonl"),
        "--stack-export", str(case / "state.json"),
        "--repo", REPO, "--pr", "11", "--project", "traderx-fixture", "--stack", "dev",
        "--api-url", fake.url,
    ]  # fmt: skip
    env = {**os.environ, "GITHUB_TOKEN": TOKEN}
    for expected in ("created comment", "unchanged comment"):
        proc = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
        assert proc.returncode == 0, proc.stderr
        assert expected in proc.stdout
    [posted] = fake.comments[(REPO, 11)]
    assert posted["body"].startswith(marker("traderx-fixture", "dev"))
    assert "ConfigHub unit `trade-service` in space `traderx-dev`" in posted["body"]
    assert TOKEN not in proc.stdout + proc.stderr


def test_cli_names_a_bad_input_file(tmp_path: Path) -> None:
    bad = tmp_path / "preview.json"
    bad.write_text("not json at all")
    proc = subprocess.run(
        [sys.executable, "-m", "preview_comment", "render", "--preview", str(bad),
         "--project", "p", "--stack", "s"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 2
    assert f"{bad} is not `pulumi preview --json` output" in proc.stderr
