"""Kubernetes platform of one environment, declared with pulumi-kubernetes.

Owns: the DB credentials Secret (from a Pulumi secret), one ServiceAccount per service,
NetworkPolicies and RBAC. It does NOT own the Namespace: the ConfigHub `namespace` unit
(order 0) does, so these objects are declared with `depends_on` that unit — one owner per object.
The rule tables are pure functions so that tests check them without an engine.

The objects are declared as plain `pulumi.CustomResource`s of the pulumi-kubernetes types, with
exactly the properties and options the typed classes (`k8s.core.v1.Secret` ...) send: importing
those classes loads pulumi-kubernetes' generated input/output modules (about 0.2 s) and resolving
their output type hints costs more, on every `up` and preview. tests/unit/test_platform_wire.py
checks that both send the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pulumi
from pulumi_kubernetes import _utilities as k8s_sdk
from pydantic import BaseModel, ConfigDict

from components.model.catalog import ROUTES, SERVICE_BY_NAME, SERVICE_NAMES
from components.model.manifests import (
    DB_SECRET_NAME,
    DB_SECRET_PASSWORD_KEY,
    DB_SECRET_USER_KEY,
    PART_OF,
    selector_labels,
)

Obj = dict[str, Any]

# Who may do what, per environment (the design: developer in dev, SRE in staging, viewer in prod).
_READ = ["get", "list", "watch"]
ROLES: dict[str, tuple[str, str, list[Obj]]] = {
    "dev": (
        "traderx-developer",
        "traderx-developers",
        [
            {
                "apiGroups": ["", "apps"],
                "resources": [
                    "pods",
                    "pods/log",
                    "services",
                    "configmaps",
                    "events",
                    "deployments",
                    "replicasets",
                    "deployments/scale",
                ],
                "verbs": [*_READ, "create", "update", "patch", "delete"],
            },
            {
                "apiGroups": [""],
                "resources": ["pods/exec", "pods/portforward"],
                "verbs": ["create"],
            },
            {"apiGroups": ["networking.k8s.io"], "resources": ["ingresses"], "verbs": _READ},
        ],
    ),
    "staging": (
        "traderx-sre",
        "traderx-sre",
        [
            {
                "apiGroups": ["", "apps", "networking.k8s.io"],
                "resources": [
                    "pods",
                    "pods/log",
                    "services",
                    "events",
                    "deployments",
                    "replicasets",
                    "ingresses",
                    "networkpolicies",
                    "configmaps",
                ],
                "verbs": _READ,
            },
            {
                "apiGroups": ["apps"],
                "resources": ["deployments", "deployments/scale"],
                "verbs": ["patch", "update"],
            },
            {"apiGroups": [""], "resources": ["pods"], "verbs": ["delete"]},
            {"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["create"]},
        ],
    ),
    "prod": (
        "traderx-viewer",
        "traderx-viewers",
        [
            {
                "apiGroups": ["", "apps", "networking.k8s.io"],
                "resources": [
                    "pods",
                    "services",
                    "events",
                    "deployments",
                    "replicasets",
                    "ingresses",
                ],
                "verbs": _READ,
            }
        ],
    ),
}
ROLES["prod-eu"] = ROLES["prod"]  # a second prod region: viewers only, like prod


def _ports(names: Sequence[str]) -> list[Obj]:
    return [
        {"protocol": "TCP", "port": p.port} for name in names for p in SERVICE_BY_NAME[name].ports
    ]


def network_policies(namespace: str, ingress_controller_namespace: str) -> list[Obj]:
    """Default deny; DNS egress; TraderX-internal on native ports; controller → routed services."""
    traderx = {"matchLabels": {"app.kubernetes.io/part-of": PART_OF}}
    routed = sorted({r.service for r in ROUTES})
    return [
        {
            "metadata": {"name": "default-deny-all", "namespace": namespace},
            "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
        },
        {
            "metadata": {"name": "allow-dns-egress", "namespace": namespace},
            "spec": {
                "podSelector": {},
                "policyTypes": ["Egress"],
                "egress": [
                    {
                        "to": [
                            {
                                "namespaceSelector": {
                                    "matchLabels": {"kubernetes.io/metadata.name": "kube-system"}
                                },
                                "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                            }
                        ],
                        "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
                    }
                ],
            },
        },
        {
            "metadata": {"name": "allow-traderx-internal", "namespace": namespace},
            "spec": {
                "podSelector": traderx,
                "policyTypes": ["Ingress", "Egress"],
                "ingress": [{"from": [{"podSelector": traderx}], "ports": _ports(SERVICE_NAMES)}],
                "egress": [{"to": [{"podSelector": traderx}], "ports": _ports(SERVICE_NAMES)}],
            },
        },
        {
            "metadata": {"name": "allow-ingress-controller", "namespace": namespace},
            "spec": {
                "podSelector": {
                    "matchLabels": {"app.kubernetes.io/part-of": PART_OF},
                    "matchExpressions": [
                        {"key": "app.kubernetes.io/name", "operator": "In", "values": routed}
                    ],
                },
                "policyTypes": ["Ingress"],
                "ingress": [
                    {
                        "from": [
                            {
                                "namespaceSelector": {
                                    "matchLabels": {
                                        "kubernetes.io/metadata.name": ingress_controller_namespace
                                    }
                                }
                            }
                        ],
                        "ports": _ports(routed),
                    }
                ],
            },
        },
    ]


def k8s_object(
    api_version: str,
    kind: str,
    name: str,
    props: Obj,
    opts: pulumi.ResourceOptions,
    aliases: Sequence[str] = (),
    secret_outputs: Sequence[str] = (),
) -> pulumi.CustomResource:
    """A pulumi-kubernetes resource as its typed class registers it: token
    `kubernetes:<group>/<version>:<Kind>` (core group: `core`), `apiVersion` and `kind` set,
    camelCase properties, the SDK's version default, the class's aliases and secret outputs."""
    group, _, version = api_version.rpartition("/")
    extra = pulumi.ResourceOptions(
        aliases=[pulumi.Alias(type_=a) for a in aliases] or None,
        additional_secret_outputs=list(secret_outputs) or None,
    )
    return pulumi.CustomResource(
        f"kubernetes:{group or 'core'}/{version}:{kind}",
        name,
        {"apiVersion": api_version, "kind": kind, **props},
        pulumi.ResourceOptions.merge(
            pulumi.ResourceOptions.merge(k8s_sdk.get_resource_opts_defaults(), opts), extra
        ),
    )


_RBAC_ALIASES = ("v1alpha1", "v1beta1")


class PlatformArgs(BaseModel):
    """Inputs of the platform component (the password travels separately, as a secret)."""

    model_config = ConfigDict(frozen=True)

    environment: str
    namespace: str
    ingress_controller_namespace: str
    rbac_group: str | None = None
    database_user: str


class Platform(pulumi.ComponentResource):
    """Secret, ServiceAccounts, NetworkPolicies and RBAC of one TraderX namespace."""

    def __init__(
        self,
        name: str,
        args: PlatformArgs,
        database_password: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("traderx:platform:Platform", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        ns = args.namespace
        meta_labels = {
            "app.kubernetes.io/part-of": PART_OF,
            "app.kubernetes.io/managed-by": "pulumi",
        }

        self.db_secret = k8s_object(
            "v1",
            "Secret",
            f"{name}-db-credentials",
            {
                "metadata": {"name": DB_SECRET_NAME, "namespace": ns, "labels": meta_labels},
                "type": "Opaque",
                # the typed class makes the whole map secret, as here
                "stringData": pulumi.Output.secret(
                    {
                        DB_SECRET_USER_KEY: args.database_user,
                        DB_SECRET_PASSWORD_KEY: pulumi.Output.secret(database_password),
                    }
                ),
            },
            child,
            secret_outputs=("data", "stringData"),
        )
        self.service_accounts = [
            k8s_object(
                "v1",
                "ServiceAccount",
                f"{name}-sa-{svc}",
                {
                    "metadata": {
                        "name": svc,
                        "namespace": ns,
                        "labels": {**meta_labels, **selector_labels(svc)},
                    },
                    "automountServiceAccountToken": False,
                },
                child,
            )
            for svc in SERVICE_NAMES
        ]
        self.network_policies = [
            k8s_object(
                "networking.k8s.io/v1",
                "NetworkPolicy",
                f"{name}-np-{p['metadata']['name']}",
                {"metadata": {**p["metadata"], "labels": meta_labels}, "spec": p["spec"]},
                child,
                aliases=("kubernetes:extensions/v1beta1:NetworkPolicy",),
            )
            for p in network_policies(ns, args.ingress_controller_namespace)
        ]
        role_name, default_group, rules = ROLES[args.environment]
        rbac = "rbac.authorization.k8s.io"
        self.role = k8s_object(
            f"{rbac}/v1",
            "Role",
            f"{name}-role",
            {
                "metadata": {"name": role_name, "namespace": ns, "labels": meta_labels},
                "rules": rules,
            },
            child,
            aliases=tuple(f"kubernetes:{rbac}/{v}:Role" for v in _RBAC_ALIASES),
        )
        self.role_binding = k8s_object(
            f"{rbac}/v1",
            "RoleBinding",
            f"{name}-rolebinding",
            {
                "metadata": {"name": role_name, "namespace": ns, "labels": meta_labels},
                "roleRef": {"apiGroup": rbac, "kind": "Role", "name": role_name},
                "subjects": [
                    {
                        "apiGroup": rbac,
                        "kind": "Group",
                        "name": args.rbac_group or default_group,
                    }
                ],
            },
            child,
            aliases=tuple(f"kubernetes:{rbac}/{v}:RoleBinding" for v in _RBAC_ALIASES),
        )
        self.ready: list[pulumi.Resource] = [
            self.db_secret,
            *self.service_accounts,
            *self.network_policies,
            self.role,
            self.role_binding,
        ]
        self.register_outputs({"role": role_name, "db_secret": DB_SECRET_NAME})
