"""`traderx rollout` refuses bad input before connecting anywhere (exit 4, naming what is
allowed); no server is needed for these."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from operator_cli.app import app

ENV = {"CONFIGHUB_URL": "http://127.0.0.1:9", "CONFIGHUB_TOKEN": "t"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["bluegreen", "--slot", "purple"], "allowed slots are blue, green"),
        (["canary", "--steps", "10,30,100"], "allowed 0, 10, 25, 50, 100"),
        (["canary", "--steps", "10,50"], "end at 100"),
        (["canary", "--check-command", "no-such-smoke"], "'no-such-smoke' does not exist"),
        (["bluegreen", "--check-http", "ftp://x"], "must start with http://"),
        (["bluegreen", "--delay", "-1"], "greater than or equal to 0"),
    ],
)
def test_bad_input_exit_4(args: list[str], message: str) -> None:
    result = CliRunner().invoke(
        app, ["rollout", *args, "--image", "x/y:1", "--prefix", "p", "--json"], env=ENV
    )
    assert result.exit_code == 4, result.stdout
    body = json.loads(result.stdout)
    assert message in body["error"] and body["kind"] == "bad_input"


def test_unlock_needs_a_reason_before_connecting() -> None:
    result = CliRunner().invoke(
        app, ["rollout", "unlock", "--prefix", "p", "--reason", " ", "--json"], env=ENV
    )
    assert result.exit_code == 2, result.stdout
    assert "give --reason" in json.loads(result.stdout)["error"]
