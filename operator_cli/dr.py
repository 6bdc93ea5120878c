"""The DR runbook's work: restore a backup into ConfigHub, rebuild environments from it, put a
database's data directory back. The Typer commands in `operator_cli.app` call these.

Rebuilding several environments is not a loop over one: the downstream stacks read the
upstream's unit IDs through StackReferences, so a downstream `up` cannot start before the
upstream's has written the restored IDs into its state, and that `up` spends nearly all its
time waiting for workloads to become ready. So a rebuild of several environments:

1. restores every space, upstream first (seconds: ConfigHub only);
2. runs `pulumi up --refresh` of each stack in order with the units' applies deferred
   (`TRADERX_DEFER_APPLY=1`, `components.confighub.unit`): each state gets the restored IDs,
   and nothing waits on the cluster;
3. runs `pulumi up` of every stack at once: each applies its own units tier by tier,
   health-gated, exactly as a normal `up` (a deferred apply shows as live != head), then
   restores its database. The environments run on their own workers and namespaces, so the
   readiness waits overlap instead of adding up.

One environment is step 1 then a plain `up --refresh` (nothing to overlap).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from components.confighub.client import SPACE
from components.confighub.unit import DEFER_APPLY_ENV
from operator_cli import hub, stacks
from operator_cli.backup import database
from operator_cli.backup import restore as restoring
from operator_cli.output import CliError, Exit, Output, Step

# The spaces each environment's stack owns (components/stack/environment.py), upstream first.
ENV_SPACES: dict[str, tuple[str, ...]] = {
    "dev": ("base", "filters", "dev"),
    "staging": ("staging",),
    "prod": ("prod",),
    "prod-eu": ("prod-eu",),
}


def check_env(env: str) -> str:
    if env not in ENV_SPACES:
        raise CliError(
            Exit.USAGE, f"unknown environment {env!r}", f"use one of {sorted(ENV_SPACES)}"
        )
    return env


def in_order(envs: list[str]) -> list[str]:
    """The named environments, each once, upstream first (dev, staging, prod, prod-eu)."""
    wanted = {check_env(e) for e in envs}
    return [e for e in ENV_SPACES if e in wanted]


def run_restore(
    loaded: restoring.Loaded,
    spaces: list[str] | None,
    force: bool,
    url: str | None,
    token: str | None,
    out: Output,
) -> dict[str, Any]:
    """Restore the backup's (selected) spaces; refused while the server holds any of them.
    `loaded` comes from `restoring.load`, which refuses a bad backup before anything connects."""
    path = loaded.root
    selected = restoring.select_spaces(loaded, spaces)
    client = hub.connect(url, token)
    restorer = restoring.Restorer(client, loaded, selected, step=Step(), force=force)
    existing = restorer.existing_spaces()
    if existing and not force:
        raise CliError(
            Exit.REFUSED,
            f"ConfigHub at {client.base_url.removesuffix('/api')} already holds "
            f"{len(existing)} of the backup's spaces ({', '.join(existing)}); nothing was written",
            f"restore into an empty server, or add --force to keep what exists and create only "
            f"what is missing: traderx restore {path} --force",
        )
    with out.progress(f"restore {loaded.manifest.project}", restorer.work()) as step:
        restorer.step = step
        return restorer.run()


def restore_database(
    loaded: restoring.Loaded,
    space: str,
    kubeconfig: str | None,
    context: str | None,
    url: str | None,
    token: str | None,
    out: Output,
) -> dict[str, Any]:
    """Stream the backup's archive into the database where ConfigHub now says it runs."""
    entry = loaded.manifest.database.get(space)
    if entry is None:
        raise CliError(
            Exit.NOT_FOUND,
            f"{loaded.root} holds no database data of {space} "
            f"(it has: {sorted(loaded.manifest.database) or 'none'})",
            "take a backup with: traderx backup create DIR --database",
        )
    client = hub.connect(url, token)
    found = client.find_by_slug(SPACE, None, space)
    db = database.find(client, found.id) if found is not None else None
    if db is None:
        raise CliError(
            Exit.NOT_FOUND,
            f"ConfigHub has no deployed database unit in {space}",
            f"restore and redeploy the environment first: traderx dr rebuild ... {space}",
        )
    archive = loaded.root / entry.file  # verified by restoring.load
    size = archive.stat().st_size
    out.info(f"restoring {size} bytes of database data into {db.where()}")
    pod = database.load(database.api(kubeconfig, context), db, archive)
    return {"space": space, "file": entry.file, "bytes": size, "pod": pod,
            "namespace": db.namespace, "from": entry.pod}  # fmt: skip


class Rebuild:
    """One `dr rebuild` run: its settings, and the timings it reports."""

    def __init__(
        self,
        backup: Path,
        envs: list[str],
        *,
        project_dir: Path,
        stack: str | None,
        force: bool,
        with_database: bool,
        kubeconfig: str | None,
        context: str | None,
        url: str | None,
        token: str | None,
        out: Output,
    ) -> None:
        self.envs = in_order(envs)
        if stack and len(self.envs) > 1:
            raise CliError(
                Exit.USAGE,
                f"--stack names one stack, but {len(self.envs)} environments were given",
                "rebuild several environments with their own stacks (named like them), "
                "or one environment with --stack",
            )
        self.backup = backup
        self.loaded = restoring.load(backup)  # a bad backup is refused before anything else
        self.project = self.loaded.manifest.project
        self.project_dir = project_dir
        self.stack = stack
        self.force = force
        self.with_database = with_database
        self.kube = (kubeconfig, context)
        self.conn = (url, token)
        self.out = out
        self.seconds: dict[str, float] = {}

    def check_project(self, wanted: str | None) -> None:
        if wanted is not None and wanted != self.project:
            raise CliError(
                Exit.BAD_INPUT,
                f"{self.backup} is a backup of {self.project!r}, not {wanted!r}",
                "pass the backup of this project",
            )

    def _timed(self, key: str, work: Callable[..., Any], *args: Any) -> Any:
        started = time.monotonic()
        try:
            return work(*args)
        finally:
            self.seconds[key] = round(time.monotonic() - started, 2)

    def _up(self, env: str, step: Step, refresh: bool, defer_apply: bool = False) -> Any:
        selected = stacks.select(self.stack or env, self.project_dir)
        if defer_apply:
            selected.workspace.env_vars = {**selected.workspace.env_vars, DEFER_APPLY_ENV: "1"}
        return stacks.up(selected, step, refresh=refresh)

    def run(self) -> dict[str, Any]:
        return dict(self._timed("total", self._run), seconds=self.seconds)

    def _run(self) -> dict[str, Any]:
        spaces = [f"{self.project}-{kind}" for env in self.envs for kind in ENV_SPACES[env]]
        restored = self._timed(
            "restore", run_restore, self.loaded, spaces, self.force, *self.conn, self.out
        )
        result: dict[str, Any] = {"environments": self.envs, "restore": restored}
        if len(self.envs) == 1:
            env = self.envs[0]
            with self.out.progress(f"pulumi up --refresh -s {self.stack or env}") as step:
                up = self._timed(f"up_{env}", self._up, env, step, True)
            result["up"] = {env: up}
            result["database"] = {env: self._database_of(env)}
        else:
            result["adopt"] = self._adopt_in_order()
            result["up"], result["database"] = self._deploy_side_by_side()
        return result

    def _adopt_in_order(self) -> dict[str, Any]:
        """Step 2: each stack takes in the restored IDs, upstream first; no applies."""
        done: dict[str, Any] = {}
        with self.out.progress_tasks([f"adopt {e} (up --refresh)" for e in self.envs]) as steps:
            for env, step in zip(self.envs, steps, strict=True):
                done[env] = self._timed(f"adopt_{env}", self._up, env, step, True, True)
        return done

    def _deploy_side_by_side(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """Step 3: every stack's `up` (its applies, in start order) and database at once."""
        ups: dict[str, Any] = {}
        dbs: dict[str, Any] = {}
        failures: list[str] = []

        def deploy(env: str, step: Step) -> None:
            try:
                ups[env] = self._timed(f"up_{env}", self._up, env, step, False)
                dbs[env] = self._database_of(env)
            except CliError as exc:
                failures.append(f"{env}: {exc.message}")

        with (
            self.out.progress_tasks([f"deploy {e} (up)" for e in self.envs]) as steps,
            ThreadPoolExecutor(max_workers=len(self.envs)) as pool,
        ):
            self._timed("deploy", lambda: list(pool.map(deploy, self.envs, steps)))
        if failures:
            raise CliError(
                Exit.FAILED,
                "rebuilding failed for " + "; ".join(failures),
                "fix what it names, then run `pulumi up -s <stack>` for those environments "
                "(the restore is done; `up` finishes the deploy)",
            )
        return ups, dbs

    def _database_of(self, env: str) -> dict[str, Any] | None:
        space = f"{self.project}-{env}"
        if not self.with_database or space not in self.loaded.manifest.database:
            return None
        return self._timed(
            f"database_{env}",
            restore_database,
            self.loaded,
            space,
            *self.kube,
            *self.conn,
            self.out,
        )
