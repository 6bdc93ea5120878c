"""The program behind `pulumi up -s dev|staging|prod`: config → settings → components → outputs.

Settings are validated first (`load_settings`), so every configuration mistake fails before
any resource is declared or any API is called.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import pulumi
import pulumi_kubernetes as k8s
from pulumi.runtime import config as runtime_config

from components.model.catalog import START_ORDER
from components.model.settings import ConfigError, Settings, load_settings

DEFAULT_DEV_DB_PASSWORD = "sa"  # the images' public default; prod must set its own secret


def read_settings() -> Settings:
    """All stack config (`ns:key` → value) of this run, validated."""
    raw: dict[str, Any] = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    return load_settings(
        raw, project=pulumi.get_project(), stack=pulumi.get_stack(), environ=os.environ
    )


def kubernetes_provider(settings: Settings) -> k8s.Provider:
    """Explicit provider from stack config; nothing falls back to an ambient context silently."""
    return k8s.Provider(
        f"k8s-{settings.environment}",
        kubeconfig=settings.kubeconfig,
        context=settings.kube_context,
    )


def _checked_prefix(settings: Settings, upstream_prefix: Any, configured: bool) -> Any:
    def check(prefix: str) -> str:
        if configured and prefix != settings.prefix:
            raise ConfigError(
                f"traderx:prefix = {settings.prefix!r}: the upstream stack "
                f"{settings.upstream_stack} uses {prefix!r}; a downstream stack must use the "
                "upstream's prefix (unset traderx:prefix here)"
            )
        return prefix

    return pulumi.Output.from_input(upstream_prefix).apply(check)


def _item(key: str) -> Callable[[Mapping[str, Any]], Any]:
    return lambda mapping: mapping[key]


def _last_drift(url: str, token: str, space_id: str) -> dict[str, Any]:
    """The `lastDrift` output, read once the Space's ID is known. Imported here, not at module
    level, so loading the program never pulls in the HTTP client (a no-op `up` starts faster)."""
    from operator_cli.drift.record import stack_output

    return stack_output(url, token, space_id)


class Early(NamedTuple):
    """What a stack declares before the rest: the upstream StackReference (staging, prod) and
    the kubernetes provider, whose plugin start (about 0.17 s, during which the engine handles
    no other registration) then overlaps the rest of the program's build (see `main`)."""

    ref: pulumi.StackReference | None
    provider: k8s.Provider


def declare_early(settings: Settings) -> Early:
    """The StackReference first: the engine reads the upstream while the plugin starts."""
    ref = None
    if settings.upstream_environment is not None:
        ref = pulumi.StackReference(settings.upstream_stack or "")
    return Early(ref, kubernetes_provider(settings))


# Turns of the event loop a registration needs, once its parent's URN is known, until its RPC
# leaves (the SDK awaits a few steps first; 10 sufficed when measured). Each turn costs
# microseconds; too few only gives up the overlap.
REGISTRATION_TURNS = 50


async def _registrations_sent() -> None:
    """Give the event loop to the registrations declared so far, until they are on their way
    to the engine: the rest of the build holds the loop (about 0.15 s) and would keep them."""
    root = pulumi.runtime.get_root_resource()
    if root is not None:
        await root.urn.future()  # their parent: the Stack's registration has come back
    for _ in range(REGISTRATION_TURNS):
        await asyncio.sleep(0)


def build(
    settings: Settings, prefix_configured: bool = False, early: Early | None = None
) -> dict[str, Any]:
    """Declare everything of one stack and return its outputs (also exported)."""
    # imported here: the program sends its first registrations before it loads these
    from components.stack.environment import (
        EnvironmentArgs,
        SharedLayout,
        SharedLayoutArgs,
        TraderXEnvironment,
        Upstream,
    )
    from components.stack.release import declare_release
    from operator_cli.cost.model import stack_cost

    ref, provider = early or declare_early(settings)
    password = pulumi.Output.secret(
        settings.database_password.get_secret_value()
        if settings.database_password
        else DEFAULT_DEV_DB_PASSWORD
    )
    outputs: dict[str, Any] = {
        "environment": settings.environment,
        "namespace": settings.namespace,
    }
    if settings.upstream_environment is None:
        shared = SharedLayout("traderx-shared", SharedLayoutArgs(settings=settings))
        prefix: Any = settings.prefix
        # dev follows base: each dev unit holds its base unit's head revision
        upstream = Upstream(
            unit_ids={c: u.unit_id for c, u in shared.units.items()},
            revisions={c: u.head_revision_num for c, u in shared.units.items()},
        )
        outputs["spaceIds"] = {
            "base": shared.base_space.space_id,
            "filters": shared.filters_space.space_id,
        }
        outputs["filterIds"] = {k: f.filter_id for k, f in shared.filters.items()}
        outputs["setFilterIds"] = {k: st.filter_id for k, st in shared.sets.items()}
        outputs["baseUnitIds"] = upstream.unit_ids
    else:
        assert ref is not None  # declared by declare_early: this stack has an upstream
        prefix = _checked_prefix(settings, ref.require_output("prefix"), prefix_configured)
        unit_ids = ref.require_output("unitIds")
        # staging/prod hold the upstream revision their promotion pins name, nothing else
        upstream = Upstream(
            unit_ids={c: unit_ids.apply(_item(c)) for c in START_ORDER},
            revisions={str(k): v for k, v in settings.promote.items()},
        )
        outputs["spaceIds"] = {}
        outputs["upstreamStack"] = settings.upstream_stack
        outputs["promoted"] = dict(settings.promote)
    env = TraderXEnvironment(
        f"traderx-{settings.environment}",
        EnvironmentArgs(
            settings=settings, prefix=prefix, upstream=upstream, database_password=password
        ),
        k8s_provider=provider,
    )
    if ref is not None:  # every promotion is a release (#13)
        release = declare_release(
            settings, env.space.space_id, ref.get_output("envSpaceId"), env.units
        )
        outputs["release"] = release.release
    outputs["prefix"] = prefix
    outputs["spaceIds"] = {**outputs["spaceIds"], settings.environment: env.space.space_id}
    outputs["envSpaceId"] = env.space.space_id
    outputs["workerId"] = env.worker.worker_id
    outputs["targetId"] = env.target.target_id
    outputs["unitIds"] = {c: u.unit_id for c, u in env.units.items()}
    outputs["unitRevisions"] = {c: u.head_revision_num for c, u in env.units.items()}
    outputs["liveRevisions"] = {c: u.live_revision_num for c, u in env.units.items()}
    outputs["images"] = {
        svc: env.image_of(svc) for svc in START_ORDER if svc not in ("namespace", "ingress")
    }
    # monthly cost of the data each unit leaves in ConfigHub (pure: a no-op up stays a no-op)
    outputs["cost"] = pulumi.Output.all(**{c: u.planned_data for c, u in env.units.items()}).apply(
        stack_cost
    )
    # what the last `traderx drift` round recorded on the Space (read only: no resource, no diff)
    hub_url, hub_token = settings.confighub.url, settings.confighub.token.get_secret_value()
    # read in a worker thread: in the event loop it would hold up every registration behind it
    outputs["lastDrift"] = env.space.space_id.apply(
        lambda sid: asyncio.to_thread(_last_drift, hub_url, hub_token, sid)
    )
    scheme = "https" if settings.ingress.tls else "http"
    outputs["urls"] = {
        "app": f"{scheme}://{settings.host}/",
        "confighub": settings.confighub.url,
        "space": pulumi.Output.concat(settings.confighub.url, "/api/space/", env.space.space_id),
    }
    for key, value in outputs.items():
        pulumi.export(key, value)
    return outputs


CANCELLED = (
    b"traderx: the engine stopped the program (a resource failed or the run was cancelled)\n"
)


def _stop_quietly(_signum: int, _frame: object) -> None:
    """The language host interrupts the program when the engine ends the run: a resource
    failed (its error is already reported) or the user cancelled. Exit with one line instead
    of a KeyboardInterrupt traceback from wherever the program was waiting, which would bury
    the real error in the diagnostics. Once: a second interrupt while it exits is ignored."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.write(2, CANCELLED)
    raise SystemExit(1)


def main() -> None:
    """Entry point used by __main__.py: settings are validated at load (a mistake fails before
    anything is declared); then, as the program's async entry point, the StackReference and the
    kubernetes provider are declared and sent, and only then the rest is imported and built, so
    the engine starts the kubernetes plugin meanwhile instead of after the whole build (about
    0.1 s of every `up` and preview)."""
    signal.signal(signal.SIGINT, _stop_quietly)
    raw_prefix = runtime_config.get_config("traderx:prefix")
    settings = read_settings()

    async def run() -> None:
        early = declare_early(settings)
        await _registrations_sent()
        build(settings, prefix_configured=bool(raw_prefix), early=early)

    pulumi.run(run)
