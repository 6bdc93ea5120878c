"""The preview-scale program: `scale:regions` regions, each with the whole TraderX layout of the
three stacks, declared with the real components (components/stack).

Per region, what `pulumi up -s dev|staging|prod` declares, in one program: the shared layout
(base and filters spaces, filters, sets, base units), the dev, staging and prod environments
(space, worker, target, the kubernetes platform objects, units, links) and the staging and prod
release records. Where the real stacks pass unit IDs through a StackReference, here the
upstream environment's units are passed directly. Every region has its own prefix and
namespaces; all regions share one kubernetes provider (one plugin process).
"""

from __future__ import annotations

import os

import pulumi
import pulumi_kubernetes as k8s

from benchmarks.bench_support import ENVS, stack_settings
from components.confighub.release import Release
from components.model.catalog import START_ORDER
from components.stack.environment import (
    EnvironmentArgs,
    SharedLayout,
    SharedLayoutArgs,
    TraderXEnvironment,
    Upstream,
)


def region(index: int, provider: k8s.Provider, url: str, token: str) -> int:
    """Declare one region; return its number of units."""
    prefix = f"scale{index:03d}"
    password = pulumi.Output.secret("scale-bench-only")
    upstream: Upstream | None = None
    units = 0
    for env in ENVS:
        settings = stack_settings(env, prefix, f"{prefix}-{env}", url, token)
        if upstream is None:
            shared = SharedLayout(f"{prefix}-shared", SharedLayoutArgs(settings=settings))
            units += len(shared.units)
            upstream = Upstream(
                unit_ids={c: u.unit_id for c, u in shared.units.items()},
                revisions={c: u.head_revision_num for c, u in shared.units.items()},
            )
            upstream_space = None
        environment = TraderXEnvironment(
            f"{prefix}-{env}",
            EnvironmentArgs(
                settings=settings, prefix=prefix, upstream=upstream, database_password=password
            ),
            k8s_provider=provider,
        )
        units += len(environment.units)
        if upstream_space is not None:  # staging, prod: a release per promotion
            Release(
                f"{prefix}-{env}-release",
                space_id=environment.space.space_id,
                environment=env,
                pins={str(k): int(v) for k, v in settings.promote.items()},
                services={},
                upstream_space_id=upstream_space,
                unit_ids={c: u.unit_id for c, u in environment.units.items()},
                opts=pulumi.ResourceOptions(depends_on=list(environment.units.values())),
            )
        upstream = Upstream(
            unit_ids={c: environment.units[c].unit_id for c in START_ORDER},
            revisions={str(k): v for k, v in settings.promote.items()},
        )
        upstream_space = environment.space.space_id
    return units


def main() -> None:
    regions = pulumi.Config("scale").require_int("regions")
    provider = k8s.Provider(
        "k8s-scale",
        kubeconfig=os.environ["KUBECONFIG"],
        context=os.environ.get("TRADERX_SCALE_KUBE_CONTEXT") or None,
    )
    url, token = os.environ["CONFIGHUB_URL"], os.environ["CONFIGHUB_TOKEN"]
    pulumi.export("units", sum(region(i, provider, url, token) for i in range(regions)))


main()
