"""pytest plugin: the real Pulumi toolchain and the local Kubernetes cluster as fixtures.

Fixtures (see docs/contracts.md):

- ``toolchain`` (session): the environment of ``source toolchain/env.sh`` (PATH with the
  pinned ``pulumi``, language host and plugins, PULUMI_* variables) and the ``pulumi`` path.
- ``kube_cluster`` (session): kubeconfig path and context of the local kwok cluster.
- ``pulumi_backend`` (function): a ``file://`` backend URL in a fresh temp dir.

Tests marked ``engine`` get ``toolchain`` and tests marked ``cluster`` get ``kube_cluster``
automatically. When a piece is missing they skip with the reason and the command that
provides it; with ``TRADERX_REQUIRE_REAL=1`` (set by ``make test``) they fail instead, so CI
can never pass by skipping the real-engine tests.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict

REPO_ROOT = Path(__file__).resolve().parents[2]
TOOLCHAIN_DIR = REPO_ROOT / "toolchain"
ENV_SCRIPT = TOOLCHAIN_DIR / "env.sh"


class Toolchain(BaseModel):
    """The pinned Pulumi CLI and the environment that makes it work offline."""

    model_config = ConfigDict(frozen=True)

    env: dict[str, str]
    pulumi: Path
    version: str

    @property
    def pulumi_root(self) -> Path:
        """Directory holding ``bin/pulumi`` (what ``auto.PulumiCommand(root=...)`` takes)."""
        return self.pulumi.parent.parent


class KubeCluster(BaseModel):
    """The local kwok cluster as the Kubernetes client and kubectl see it."""

    model_config = ConfigDict(frozen=True)

    kubeconfig: Path
    context: str


def read_versions(path: Path = TOOLCHAIN_DIR / "versions.env") -> dict[str, str]:
    """Parse toolchain/versions.env (KEY=VALUE lines, # comments)."""
    versions: dict[str, str] = {}
    for lineno, raw in enumerate(path.read_text().splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.isidentifier():
            raise ValueError(f"{path}:{lineno}: expected KEY=VALUE, got {raw!r}")
        versions[key] = value
    return versions


def toolchain_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment after ``source toolchain/env.sh`` on top of ``base`` (default: ours)."""
    out = subprocess.run(
        ["bash", "-c", f'source "{ENV_SCRIPT}" && env -0'],
        env=dict(os.environ if base is None else base),
        capture_output=True,
        check=True,
        timeout=30,
    ).stdout
    env: dict[str, str] = {}
    for item in out.split(b"\0"):
        key, sep, value = item.decode().partition("=")
        if sep:
            env[key] = value
    return env


def _unavailable(reason: str) -> None:
    """Skip (printing why) or, under ``make test``, fail: a missing piece is never silent."""
    if os.environ.get("TRADERX_REQUIRE_REAL") == "1":
        pytest.fail(f"{reason} (TRADERX_REQUIRE_REAL=1: required here)", pytrace=False)
    print(f"SKIP: {reason}")
    pytest.skip(reason)


def load_toolchain() -> Toolchain | str:
    """The bootstrapped toolchain, or a sentence saying what is missing."""
    pinned = read_versions()["PULUMI_VERSION"]
    env = toolchain_env()
    from shutil import which

    found = which("pulumi", path=env.get("PATH", ""))
    if found is None:
        return "no `pulumi` on the toolchain PATH: run `make bootstrap`"
    proc = subprocess.run(
        [found, "version"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    version = proc.stdout.strip()
    if proc.returncode != 0 or version != f"v{pinned}":
        got = version or proc.stderr.strip()
        return f"`{found} version` gave {got!r}, pinned is v{pinned}: run `make bootstrap`"
    return Toolchain(env=env, pulumi=Path(found), version=version)


def load_cluster(env: dict[str, str]) -> KubeCluster | str:
    """The running local cluster, or a sentence saying why none answers."""
    kubeconfig = env.get("KUBECONFIG")
    if not kubeconfig:
        return "the local cluster is not up (env.sh set no KUBECONFIG): run `make cluster-up`"
    from kubernetes import client, config

    try:
        _contexts, active = config.list_kube_config_contexts(config_file=kubeconfig)
        api = config.new_client_from_config(config_file=kubeconfig)
        with api:
            client.VersionApi(api).get_code(_request_timeout=5)
    except Exception as exc:
        why = f"{type(exc).__name__}: {exc}"
        return f"no Kubernetes API answers for {kubeconfig} ({why}): run `make cluster-up`"
    return KubeCluster(kubeconfig=Path(kubeconfig), context=active["name"])


@pytest.fixture(scope="session")
def toolchain() -> Toolchain:
    """The pinned Pulumi CLI and its offline environment (skips if not bootstrapped)."""
    found = load_toolchain()
    if isinstance(found, str):
        _unavailable(found)
    assert isinstance(found, Toolchain)
    return found


@pytest.fixture(scope="session")
def kube_cluster() -> KubeCluster:
    """The local kwok cluster (skips when none answers)."""
    found = load_cluster(toolchain_env())
    if isinstance(found, str):
        _unavailable(found)
    assert isinstance(found, KubeCluster)
    return found


@pytest.fixture
def pulumi_backend(tmp_path: Path) -> str:
    """A fresh file backend for one test (``metadata=skip``, crash-safe: see toolchain/env.sh)."""
    state = tmp_path / "pulumi-state"
    state.mkdir()
    return f"file://{state}?metadata=skip"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Give marked tests their fixture, so a marker alone is enough to need the real thing."""
    for item in items:
        names = getattr(item, "fixturenames", None)
        if names is None:
            continue
        if item.get_closest_marker("engine") and "toolchain" not in names:
            names.insert(0, "toolchain")
        if item.get_closest_marker("cluster") and "kube_cluster" not in names:
            names.insert(0, "kube_cluster")
