"""Shared fixtures. Each plugin module owns the fixtures for one piece of the stack:

- tests.support.server    -> `confighub_server` (a real local ConfigHub server process)
- tests.support.toolchain -> `toolchain`, `kube_cluster`, `pulumi_backend`
  (real Pulumi CLI, kwok cluster)
"""

pytest_plugins = ["tests.support.server", "tests.support.toolchain"]
