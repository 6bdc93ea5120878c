"""Pulumi components: the shared ConfigHub layout (dev stack) and one TraderX environment.

Ownership (exactly one owner per object):
- dev stack: spaces base, filters, dev; the 7 filters and 2 sets; base units; dev units.
- staging / prod stacks: their own space, worker, target and units (downstream of the
  previous environment's units, IDs read through a StackReference).
- The ConfigHub `namespace` unit owns the Namespace object; the pulumi-kubernetes platform
  objects depend on that unit, and every workload unit depends on the platform.

Spaces and Units carry `protect` from `traderx:protect` (default: prod only), set on each of them
and never on a component, whose children would inherit it. The prod gate's deletion rule sees
only declared resources, so `protect` is what makes the engine refuse to delete them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import pulumi
from pydantic import BaseModel, ConfigDict

from components.stack import hub
from components.model.catalog import SERVICE_BY_NAME, START_ORDER, ComponentName
from components.model.layout import (
    SETS,
    filters,
    links,
    space_labels,
    space_slug,
    unit_dependencies,
    unit_labels,
    unit_slug,
)
from components.model.manifests import RenderContext, context_for, render_component, to_yaml
from components.stack.platform import Platform, PlatformArgs
from components.model.settings import Settings

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


def base_context(settings: Settings) -> RenderContext:
    """Base units hold the catalog defaults, independent of any environment's overrides."""
    defaults = Settings.model_validate(
        {
            "project": settings.project,
            "stack": settings.stack,
            "environment": "dev",
            "prefix": settings.prefix,
            "namespace": "traderx-base",
            "confighub": {"url": settings.confighub.url, "token": "unused"},
        }
    )
    return context_for(defaults, environment="base")


def readiness_timeout(apply_timeout_seconds: int) -> int:
    """Seconds the worker waits for availability: 10% (at least 5 s) under the apply timeout."""
    return max(5, apply_timeout_seconds - max(5, apply_timeout_seconds // 10))


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
                opts=child,
            )
            for st in SETS
        }
        ctx = base_context(s)
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
    """Where an environment's units come from: space and unit IDs (Outputs) and pins."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    space_id: Any
    unit_ids: Mapping[str, Any]
    unit_revisions: Mapping[str, Any] = {}
    pins: Mapping[str, int] = {}
    upgrade_with_head: bool = False


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
        up = self._up = args.upstream
        self.promoted_images: dict[str, pulumi.Output[str]] = {}
        for service, revision in up.pins.items():
            rev = hub.UpstreamRevision(
                f"{name}-upstream-{service}",
                space_id=up.space_id,
                unit_id=up.unit_ids[service],
                revision_num=revision,
                opts=child,
            )
            self.promoted_images[service] = rev.images.apply(_image_picker(service, revision))

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
                data=self._data(s, component),
                labels={**unit_labels(component, env), **set_labels_for(component)},
                annotations={"traderx/owner": f"{env}-stack"},
                target_id=self.target.target_id,
                upstream_unit_id=up.unit_ids[component],
                upstream_revision_num=self._pin(component),
                apply=True,
                apply_timeout_seconds=s.apply_timeout_seconds,
                opts=pulumi.ResourceOptions(parent=self, depends_on=deps, protect=s.protected),
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

    def _pin(self, component: str) -> Any:
        up = self._up
        if component in up.pins:
            return up.pins[component]
        if up.upgrade_with_head:
            return up.unit_revisions.get(component)
        return None

    def _runs_promoted(self, s: Settings, service: str) -> bool:
        """A promotion pin gives the image unless this stack's config pins the image itself."""
        return service in self.promoted_images and not s.pins_image(service)

    def image_of(self, s: Settings, service: str) -> Any:
        """The image a service runs here: this stack's own pin, else the promoted, else config."""
        if self._runs_promoted(s, service):
            return self.promoted_images[service]
        return s.image_for(service)

    def _data(self, s: Settings, component: ComponentName) -> Any:
        if component not in SERVICE_BY_NAME or not self._runs_promoted(s, component):
            return render_unit(context_for(s), component)
        return self.promoted_images[component].apply(
            lambda image: render_unit(context_for(s, images={component: image}), component)
        )


def _image_picker(service: str, revision: int) -> Callable[[Mapping[str, str] | None], str]:
    return lambda images: _image_from(images, service, revision)


def _image_from(images: Mapping[str, str] | None, service: str, revision: int) -> str:
    """The promoted image, or a clear error when the pinned revision has none for the service."""
    if not images or service not in images:
        raise ValueError(
            f"traderx:promote.{service} = {revision}: the upstream unit {service} at revision "
            f"{revision} has no container named {service} (found: {sorted(images or {})})"
        )
    return images[service]
