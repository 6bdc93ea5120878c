"""`init_stack` and `traderx stacks init` with the real `pulumi` CLI on a file backend: new stacks
share the project's passphrase salt (one key derivation per `up`, StackReference included),
secrets of one stack decrypt with the other's key, an existing stack is only selected, and a
salt made with another passphrase is refused, naming whose it was, with the files unchanged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from operator_cli.app import app
from operator_cli.output import CliError, Exit
from operator_cli.stacks import init_stack, pulumi_cli
from tests.support.toolchain import Toolchain

pytestmark = pytest.mark.engine

PASSPHRASE = "stacks-init-test-passphrase"
STAGING = "# staging: downstream of dev\nconfig:\n  salty:note: kept\n"


def _env(toolchain: Toolchain, backend: str, passphrase: str = PASSPHRASE) -> dict[str, str]:
    env = {
        **toolchain.env,
        "PULUMI_BACKEND_URL": backend,
        "PULUMI_CONFIG_PASSPHRASE": passphrase,
    }
    env.pop("PULUMI_CONFIG_PASSPHRASE_FILE", None)
    return env


def _project(root: Path, name: str = "salty") -> Path:
    root.mkdir(parents=True)
    (root / "Pulumi.yaml").write_text(f"name: {name}\nruntime: python\n")
    (root / "Pulumi.staging.yaml").write_text(STAGING)
    return root


def _pulumi(project: Path, env: dict[str, str], *args: str) -> str:
    proc = pulumi_cli(project, env, *args)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def _salt(path: Path) -> str:
    salt: str = yaml.safe_load(path.read_text())["encryptionsalt"]
    return salt


def _stacks(project: Path, env: dict[str, str]) -> list[str]:
    return sorted(s["name"] for s in json.loads(_pulumi(project, env, "stack", "ls", "--json")))


def test_stacks_share_the_salt_and_decrypt_each_others_secrets(
    tmp_path: Path, toolchain: Toolchain, pulumi_backend: str
) -> None:
    env = _env(toolchain, pulumi_backend)
    project = _project(tmp_path / "p")
    dev = init_stack(project, "dev", env)
    staging = init_stack(project, "staging", env)
    assert (dev.created, dev.salt_from) == (True, None)  # the first stack mints the salt
    assert (staging.created, staging.salt_from) == (True, "dev")
    assert _salt(project / "Pulumi.staging.yaml") == _salt(project / "Pulumi.dev.yaml")
    # staging's own file kept its comment and setting
    text = (project / "Pulumi.staging.yaml").read_text()
    assert text.startswith("# staging: downstream of dev\n")
    assert "salty:note: kept" in text
    # one key: a secret dev encrypted decrypts as a staging secret
    _pulumi(project, env, "config", "set", "--secret", "salty:token", "s3cr3t", "-s", "dev")
    cipher = yaml.safe_load((project / "Pulumi.dev.yaml").read_text())["config"]["salty:token"]
    assert "s3cr3t" not in json.dumps(cipher)
    _pulumi(project, env, "config", "set", "--secret", "salty:own", "x", "-s", "staging")
    data = yaml.safe_load((project / "Pulumi.staging.yaml").read_text())
    data["config"]["salty:token"] = cipher
    (project / "Pulumi.staging.yaml").write_text(yaml.safe_dump(data))
    got = _pulumi(project, env, "config", "get", "salty:token", "-s", "staging")
    assert got == "s3cr3t"


def test_an_existing_stack_is_selected_not_recreated(
    tmp_path: Path, toolchain: Toolchain, pulumi_backend: str
) -> None:
    env = _env(toolchain, pulumi_backend)
    project = _project(tmp_path / "p")
    init_stack(project, "dev", env)
    _pulumi(project, env, "config", "set", "salty:kept", "yes", "-s", "dev")
    init_stack(project, "staging", env)  # now staging is the current stack
    files = {p.name: p.read_bytes() for p in project.glob("Pulumi.*.yaml")}
    result = CliRunner().invoke(
        app, ["stacks", "init", "dev", "staging", "--project-dir", str(project), "--json"], env=env
    )
    assert result.exit_code == 0, result.stdout
    assert [(r["stack"], r["created"]) for r in json.loads(result.stdout)] == [
        ("dev", False),
        ("staging", False),
    ]
    assert {p.name: p.read_bytes() for p in project.glob("Pulumi.*.yaml")} == files
    assert _stacks(project, env) == ["dev", "staging"]
    assert _pulumi(project, env, "config", "get", "salty:kept", "-s", "dev") == "yes"
    init_stack(project, "dev", env)
    assert _pulumi(project, env, "stack", "--show-name") == "dev"  # selected


def test_a_salt_of_another_passphrase_is_refused_and_nothing_changes(
    tmp_path: Path, toolchain: Toolchain, pulumi_backend: str
) -> None:
    project = _project(tmp_path / "p")
    init_stack(project, "dev", _env(toolchain, pulumi_backend))
    files = {p.name: p.read_bytes() for p in project.glob("Pulumi.*.yaml")}
    wrong = _env(toolchain, pulumi_backend, passphrase="another-passphrase")
    with pytest.raises(CliError) as err:
        init_stack(project, "prod", wrong)  # no stack file of its own yet
    assert err.value.code == Exit.REFUSED
    assert "salt of stack 'dev'" in err.value.message and "PULUMI_CONFIG_PASSPHRASE" in (
        err.value.hint
    )
    result = CliRunner().invoke(
        app, ["stacks", "init", "staging", "--project-dir", str(project), "--json"], env=wrong
    )
    assert result.exit_code == 3, result.stdout
    body = json.loads(result.stdout)
    assert body["kind"] == "refused"
    assert "stack 'staging' was not created" in body["error"]
    assert "salt of stack 'dev'" in body["error"]
    assert {p.name: p.read_bytes() for p in project.glob("Pulumi.*.yaml")} == files
    assert _stacks(project, _env(toolchain, pulumi_backend)) == ["dev"]


def test_salt_from_another_project_for_the_benchmark_floors(
    tmp_path: Path, toolchain: Toolchain, pulumi_backend: str
) -> None:
    env = _env(toolchain, pulumi_backend)
    program = _project(tmp_path / "program")
    floor = _project(tmp_path / "floor", name="floor-staging")
    init_stack(program, "dev", env)
    made = init_stack(floor, "staging", env, salt_from=(program,))
    assert made.salt_from == "dev"
    assert _salt(floor / "Pulumi.staging.yaml") == _salt(program / "Pulumi.dev.yaml")
