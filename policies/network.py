"""Network isolation: a default-deny NetworkPolicy in every TraderX namespace (stack-wide, since
the namespace and its policies are separate resources), and TLS on every prod Ingress."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from pulumi_policy import (
    ReportViolation,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from . import catalog
from .base import RuleContext, object_policy, schema
from .objects import UNIT_TYPE, KubeObject, UnitDataError, objects_of, unit_is_deployed
from .values import UNKNOWN, dig, plain


def is_default_deny(obj: KubeObject) -> bool:
    """A NetworkPolicy selecting every pod and allowing no ingress."""
    if obj.kind != "NetworkPolicy":
        return False
    selector = dig(obj.body, "spec", "podSelector", default={})
    if selector is UNKNOWN or (isinstance(selector, dict) and any(selector.values())):
        return False
    types = dig(obj.body, "spec", "policyTypes", default=[])
    ingress = dig(obj.body, "spec", "ingress", default=[])
    return isinstance(types, list) and "Ingress" in types and not ingress


def traderx_namespaces(objects: Iterable[KubeObject]) -> set[str]:
    """Namespaces named traderx* or labelled part-of=traderx, and those TraderX services run in."""
    found: set[str] = set()
    for obj in objects:
        if obj.kind == "Namespace":
            part_of = obj.labels.get("app.kubernetes.io/part-of")
            if obj.name.startswith(catalog.NAMESPACE_PREFIX) or part_of == "traderx":
                found.add(obj.name)
        elif obj.pod_spec() is not None and catalog.service_name(obj.name, obj.labels):
            found.add(obj.namespace or "default")
    return found


def missing_default_deny(objects: list[KubeObject]) -> list[str]:
    """TraderX namespaces without a default-deny NetworkPolicy, sorted."""
    denied = {o.namespace or "default" for o in objects if is_default_deny(o)}
    return sorted(traderx_namespaces(objects) - denied)


def _validate_stack(args: StackValidationArgs, report: ReportViolation) -> None:
    objects: list[KubeObject] = []
    for resource in args.resources:
        props = plain(resource.props)
        if resource.resource_type == UNIT_TYPE and not unit_is_deployed(props):
            continue  # a template unit creates no namespace
        try:
            objects.extend(objects_of(resource.resource_type, props, resource.name))
        except UnitDataError:
            continue
    for ns in missing_default_deny(objects):
        report(
            f"namespace '{ns}' has no default-deny NetworkPolicy; add one in it with "
            "podSelector: {} and policyTypes: [Ingress] (no ingress rules), then allow only the "
            "flows TraderX needs.",
            None,
        )


def check_ingress_tls(obj: KubeObject, ctx: RuleContext) -> Iterator[str]:
    if obj.kind != "Ingress" or not ctx.is_prod:
        return
    tls = dig(obj.body, "spec", "tls", default=[])
    if tls is UNKNOWN:
        return
    if not tls:
        yield (
            f"{obj.origin}: prod Ingress serves plain HTTP; add spec.tls with the hosts and a "
            "TLS secretName."
        )
        return
    covered = {h for t in tls if isinstance(t, dict) for h in (t.get("hosts") or [])}
    rules = dig(obj.body, "spec", "rules", default=[]) or []
    hosts: set[str] = {
        r["host"] for r in rules if isinstance(r, dict) and isinstance(r.get("host"), str)
    }
    uncovered = sorted(hosts - covered)
    if uncovered and covered:
        yield (
            f"{obj.origin}: prod Ingress hosts {', '.join(uncovered)} are not covered by spec.tls; "
            "add them to a spec.tls entry's hosts."
        )


def policies() -> list[ResourceValidationPolicy | StackValidationPolicy]:
    return [
        StackValidationPolicy(
            name="namespace-default-deny",
            description="Every TraderX namespace must have a default-deny NetworkPolicy.",
            validate=_validate_stack,
            config_schema=schema(),
        ),
        object_policy(
            "prod-ingress-tls",
            "Prod Ingresses must terminate TLS for every host they serve.",
            check_ingress_tls,
        ),
    ]
