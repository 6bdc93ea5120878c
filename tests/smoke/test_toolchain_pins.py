"""The bootstrapped toolchain is the pinned one and is configured to stay offline."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.support.toolchain import Toolchain, read_versions

VERSIONS = read_versions()


def run(toolchain: Toolchain, *args: str) -> str:
    return subprocess.run(
        args, env=toolchain.env, capture_output=True, text=True, check=True, timeout=60
    ).stdout.strip()


@pytest.mark.engine
def test_pulumi_version_is_pinned(toolchain: Toolchain) -> None:
    assert run(toolchain, str(toolchain.pulumi), "version") == f"v{VERSIONS['PULUMI_VERSION']}"


@pytest.mark.engine
def test_language_host_sits_next_to_the_cli(toolchain: Toolchain) -> None:
    bindir = toolchain.pulumi.parent
    for name in (
        "pulumi-language-python",
        "pulumi-language-python-exec",
        "pulumi-resource-pulumi-python",
    ):
        assert (bindir / name).is_file(), f"{name} missing from {bindir}"
    host = str(bindir / "pulumi-language-python")
    assert run(toolchain, host, "-version") == f"v{VERSIONS['PULUMI_VERSION']}"


@pytest.mark.engine
def test_kubernetes_plugin_is_installed_at_the_pinned_version(toolchain: Toolchain) -> None:
    plugins = json.loads(run(toolchain, str(toolchain.pulumi), "plugin", "ls", "--json"))
    versions = {(p["name"], p["kind"]): p["version"] for p in plugins}
    assert versions.get(("kubernetes", "resource")) == VERSIONS["PULUMI_KUBERNETES_VERSION"]
    # pulumi-command cannot be built here (the module proxy refuses it); if an ambient
    # install provides it, it must be the pinned one.
    if ("command", "resource") in versions:
        assert versions[("command", "resource")] == VERSIONS["PULUMI_COMMAND_VERSION"]


@pytest.mark.engine
def test_environment_keeps_the_cli_offline(toolchain: Toolchain) -> None:
    env = toolchain.env
    assert env["PULUMI_SKIP_UPDATE_CHECK"] == "true"
    assert env["PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION"] == "true"
    assert env["PULUMI_BACKEND_URL"].startswith("file://")
    assert env.get("PULUMI_CONFIG_PASSPHRASE") or env.get("PULUMI_CONFIG_PASSPHRASE_FILE")
    assert Path(env["PULUMI_PYTHON_CMD"]).is_file()


def test_python_sdk_matches_the_pins() -> None:
    """requirements.txt pins the same SDK and provider packages as versions.env."""
    pins = {}
    for line in (Path(__file__).resolve().parents[2] / "requirements.txt").read_text().splitlines():
        name, sep, version = line.partition("==")
        if sep:
            pins[name.strip()] = version.strip()
    assert pins["pulumi"] == VERSIONS["PULUMI_PYTHON_SDK_VERSION"]
    assert pins["pulumi-kubernetes"] == VERSIONS["PULUMI_KUBERNETES_VERSION"]
    assert pins["pulumi-command"] == VERSIONS["PULUMI_COMMAND_VERSION"]
