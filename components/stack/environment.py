"""Pulumi components: the shared ConfigHub layout (dev stack) and one TraderX environment.

Ownership (exactly one owner per object; per field inside a unit's data):
- dev stack: spaces base, filters, dev; the 7 filters and 2 sets; base units (their whole data:
  the code's output); dev units (clones of base that follow base's head).
- staging / prod stacks: their own space, worker, target and units (clones of the previous
  environment's units, IDs read through a StackReference). Their content moves only by
  promotion (`traderx:promote.<svc>` = the upstream revision to hold).
- inside every environment unit, the stack owns only its environment's fields
  (`components.model.declared`): namespace, replicas, resources, env values, host/TLS, the
  environment labels, and the image where its config sets one (dev always). Everything else
  in the data belongs to ConfigHub: upstream content, functions, restores, push-upgrades.
- The ConfigHub `namespace` unit owns the Namespace object; the pulumi-kubernetes platform
  objects depend on that unit, and every workload unit depends on the platform.

Spaces and Units carry `protect` from `traderx:protect` (default: prod only), set on each of them
and never on a component, whose children would inherit it. The prod gate's deletion rule sees
only declared resources, so `protect` is what makes the engine refuse to delete them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pulumi
from pydantic import BaseModel, ConfigDict

from components.model.catalog import SERVICE_BY_NAME, START_ORDER, ComponentName
from components.model.declared import environment_fields
from components.model.layout import (
    SETS,
    filters,
    links,
    project_scope,
    space_labels,
    space_slug,
    unit_dependencies,
    unit_labels,
    unit_slug,
)
from components.model.manifests import (
    RenderContext,
    base_context,
    context_for,
    render_component,
    to_yaml,
)
from components.model.rollout_stack import delivery_annotations, handed_over_fields
from components.model.settings import Settings
from components.stack import hub
from components.stack.platform import Platform, PlatformArgs

PROVIDER_TYPE = "Kubernetes"
TOOLCHAIN_TYPE = "Kubernetes/YAML"


def render_unit(ctx: RenderContext, component: ComponentName) -> str:
    """YAML text of one unit."""
    return to_yaml(render_component(ctx, component))


def set_labels_for(component: str) -> dict[str, str]:
    """Labels that make a unit a member of the design's sets (critical, data)."""
    labels: dict[str, str] = {}
    for s in SETS:
        if component in s.members:
            labels.update(hub.UnitSet.member_labels(s.slug))
    return labels


def readiness_timeout(apply_timeout_seconds: int) -> int:
    """Seconds the worker waits for availability: 10% (at least 10 s) under the apply timeout,
    so its failure, which names what is not ready, reaches the provider before its own timeout
    even on a busy machine (delivery, the apply itself and the report take that slack)."""
    return max(5, apply_timeout_seconds - max(10, apply_timeout_seconds // 10))


class SharedLayoutArgs(BaseModel):
    """Inputs of the dev-owned shared layout."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    settings: Settings


class SharedLayout(pulumi.ComponentResource):
    """Base and filters spaces, the 7 filters, the 2 sets and the base units (dev stack only)."""

    def __init__(
        self, name: str, args: SharedLayoutArgs, opts: pulumi.ResourceOptions | None = None
    ) -> None:
        super().__init__("traderx:confighub:SharedLayout", name, None, opts)
        s = args.settings
        child = pulumi.ResourceOptions(parent=self)
        guarded = pulumi.ResourceOptions(parent=self, protect=s.protected)
        self.base_space = hub.Space(
            f"{name}-space-base",
            slug=space_slug(s.prefix, "base"),
            labels=space_labels(s.prefix, "base"),
            opts=guarded,
        )
        self.filters_space = hub.Space(
            f"{name}-space-filters",
            slug=space_slug(s.prefix, "filters"),
            labels=space_labels(s.prefix, "filters"),
            opts=guarded,
        )
        self.filters = {
            f.slug: hub.Filter(
                f"{name}-filter-{f.slug}",
                space_id=self.filters_space.space_id,
                slug=f.slug,
                from_kind="Unit",
                where=f.where,
                opts=child,
            )
            for f in filters(s.prefix)
        }
        self.sets = {
            st.slug: hub.UnitSet(
                f"{name}-set-{st.slug}",
                space_id=self.filters_space.space_id,
                slug=st.slug,
                labels=st.labels,
                scope=project_scope(s.prefix),
                opts=child,
            )
            for st in SETS
        }
        ctx = base_context()
        self.units: dict[str, Any] = {}
        for component in START_ORDER:
            self.units[component] = hub.Unit(
                f"{name}-base-{component}",
                space_id=self.base_space.space_id,
                slug=unit_slug(component),
                data=render_unit(ctx, component),
                labels={**unit_labels(component, "base"), **set_labels_for(component)},
                annotations={"traderx/owner": "dev-stack"},
                apply=False,
                opts=guarded,
            )
        self.register_outputs(
            {
                "base_space_id": self.base_space.space_id,
                "filters_space_id": self.filters_space.space_id,
            }
        )


class Upstream(BaseModel):
    """Where an environment's units come from: unit IDs (Outputs) and the revision each holds.

    `revisions`: per component, the upstream revision the unit holds (a promotion pin, or for
    dev the base unit's head, so dev follows base); absent: the unit stays where it is.
    """

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    unit_ids: Mapping[str, Any]
    revisions: Mapping[str, Any] = {}


class EnvironmentArgs(BaseModel):
    """Inputs of one environment (dev, staging or prod)."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    settings: Settings
    prefix: Any
    upstream: Upstream
    database_password: Any


class TraderXEnvironment(pulumi.ComponentResource):
    """Space, worker, target, platform and the 11 units of one environment, in start order."""

    def __init__(
        self,
        name: str,
        args: EnvironmentArgs,
        k8s_provider: pulumi.ProviderResource,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("traderx:environment:TraderXEnvironment", name, None, opts)
        s = args.settings
        env = s.environment
        child = pulumi.ResourceOptions(parent=self)
        prefix = pulumi.Output.from_input(args.prefix)
        self.space = hub.Space(
            f"{name}-space",
            slug=prefix.apply(lambda p: space_slug(p, env)),
            labels=prefix.apply(lambda p: space_labels(p, env)),
            opts=pulumi.ResourceOptions(parent=self, protect=s.protected),
        )
        self.worker = hub.BridgeWorker(
            f"{name}-worker", space_id=self.space.space_id, slug=f"{env}-worker", opts=child
        )
        # The worker's readiness wait ends a little before the provider's apply timeout, so a
        # Deployment that never becomes available fails with the worker's reason (which one and
        # why) rather than with the provider's bare timeout.
        parameters: dict[str, str] = {
            "ReadyTimeoutSeconds": str(readiness_timeout(s.apply_timeout_seconds))
        }
        if s.kube_context:
            parameters["KubeContext"] = s.kube_context
        self.target = hub.Target(
            f"{name}-target",
            space_id=self.space.space_id,
            slug=f"{env}-cluster",
            bridge_worker_id=self.worker.worker_id,
            provider_type=PROVIDER_TYPE,
            toolchain_type=TOOLCHAIN_TYPE,
            parameters=parameters,
            opts=child,
        )
        up = args.upstream
        ctx = context_for(s)
        self.units: dict[str, Any] = {}
        self.depends_on: dict[str, list[pulumi.Resource]] = {}  # kept for structure tests
        self.platform: Platform | None = None
        for component in START_ORDER:
            deps: list[pulumi.Resource] = [self.units[d] for d in unit_dependencies(component)]
            if component != "namespace" and self.platform is not None:
                deps.extend(self.platform.ready)
            self.depends_on[component] = deps
            self.units[component] = hub.Unit(
                f"{name}-{component}",
                space_id=self.space.space_id,
                slug=unit_slug(component),
                fields=environment_fields(
                    ctx,
                    component,
                    image=owns_image(s, component),
                    resources=owns_resources(s, component),
                    storage_size=s.configures("database_storage"),
                    storage_class=s.configures("database_storage_class"),
                ),
                labels={**unit_labels(component, env), **set_labels_for(component)},
                annotations={"traderx/owner": f"{env}-stack", **delivery_annotations(s, component)},
                target_id=self.target.target_id,
                upstream_unit_id=up.unit_ids[component],
                upstream_revision_num=up.revisions.get(component),
                apply=True,
                apply_timeout_seconds=s.apply_timeout_seconds,
                opts=pulumi.ResourceOptions(
                    parent=self,
                    depends_on=deps,
                    protect=s.protected,
                    ignore_changes=handed_over_fields(s, component),
                ),
            )
            if component == "namespace":
                self.platform = Platform(
                    f"{name}-platform",
                    PlatformArgs(
                        environment=env,
                        namespace=s.namespace,
                        ingress_controller_namespace=s.ingress_controller_namespace,
                        rbac_group=s.rbac_group,
                        database_user=s.database_user,
                    ),
                    database_password=args.database_password,
                    opts=pulumi.ResourceOptions(
                        parent=self,
                        provider=k8s_provider,
                        depends_on=[self.units["namespace"]],
                    ),
                )
        self.links = [
            hub.Link(
                f"{name}-link-{link.slug}",
                space_id=self.space.space_id,
                slug=link.slug,
                from_unit_id=self.units[link.from_component].unit_id,
                to_unit_id=self.units[link.to_component].unit_id,
                opts=child,
            )
            for link in links()
        ]
        self.register_outputs(
            {
                "space_id": self.space.space_id,
                "target_id": self.target.target_id,
                "worker_id": self.worker.worker_id,
            }
        )

    def image_of(self, service: str) -> Any:
        """The image a service runs here, as ConfigHub's data of its unit says."""
        return self.units[service].images.apply(lambda found: (found or {}).get(service, ""))


def owns_image(s: Settings, component: ComponentName) -> bool:
    """Whether this stack declares the image: dev always (it is dev's own setting); staging and
    prod only where their config pins a tag or digest, else the image comes with promotion."""
    if component not in SERVICE_BY_NAME:
        return False
    return s.upstream_environment is None or s.pins_image(component)


def owns_resources(s: Settings, component: ComponentName) -> bool:
    """Dev declares container resources always; staging and prod where their config sets
    them: otherwise a change of the catalog's defaults reaches them only by promotion."""
    if component not in SERVICE_BY_NAME:
        return False
    return s.upstream_environment is None or s.configures_resources(component)
