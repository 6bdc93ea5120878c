"""What an environment stack declares inside its units: a few fields, not the whole data.

A downstream unit's content comes from its upstream (cloned, then moved by promotion); the stack
owns only its environment's settings in it: namespace, replicas, resources, image (where the
stack pins it), env values, host and TLS, and the labels naming the environment. Each is one
field of the Unit's `fields` input (path language: `components.confighub.fields`). Pure.
"""

from __future__ import annotations

from collections.abc import Iterable

from components.confighub.fields import encode, extract, field_key
from components.model.catalog import DATABASE_CLAIM_NAME, SERVICE_BY_NAME, ComponentName
from components.model.manifests import RenderContext, render_component, to_yaml

ENV_LABELS = ("traderx/environment", "app.kubernetes.io/instance")
VERSION_LABEL = "app.kubernetes.io/version"


def _labels(doc: str, prefix: tuple[str, ...], names: Iterable[str]) -> list[str]:
    return [field_key(doc, *prefix, "labels", n) for n in names]


def owned_keys(
    component: ComponentName,
    *,
    image: bool,
    resources: bool = True,
    env_names: Iterable[str] = (),
    ingress_docs: Iterable[str] = (),
    storage_size: bool = False,
    storage_class: bool = False,
) -> list[str]:
    """The field keys an environment stack owns in one unit.

    `image`: the stack sets the image itself (dev always; staging and prod only where their
    config pins a tag or digest; otherwise the image comes with promotion). `resources`: the
    stack sets the container resources (dev always; staging and prod only where configured,
    otherwise the catalog's defaults arrive by promotion like any code change). `env_names`: env
    values this stack's config sets. `ingress_docs`: names of the ingress unit's documents.
    `storage_size`, `storage_class`: the stack sets the database volume's size or StorageClass
    (each only where its config does; otherwise they come from upstream, by promotion).
    """
    if component == "namespace":
        doc = "Namespace"
        return [
            field_key(doc, "metadata", "name"),
            *_labels(doc, ("metadata",), (*ENV_LABELS, "kubernetes.io/metadata.name")),
        ]
    if component == "ingress":
        keys: list[str] = []
        for name in ingress_docs:
            doc = f"Ingress/{name}"
            keys += [
                field_key(doc, "metadata", "namespace"),
                *_labels(doc, ("metadata",), ENV_LABELS),
                field_key(doc, "metadata", "annotations", "cert-manager.io/cluster-issuer"),
                field_key(doc, "spec", "ingressClassName"),
                field_key(doc, "spec", "rules", "0", "host"),
                field_key(doc, "spec", "tls"),
            ]
        return keys
    spec = SERVICE_BY_NAME[component]
    dep, svc = f"Deployment/{spec.name}", f"Service/{spec.name}"
    container = ("spec", "template", "spec", "containers", f"name={spec.name}")
    labels = (*ENV_LABELS, VERSION_LABEL) if image else ENV_LABELS
    keys = [
        field_key(dep, "metadata", "namespace"),
        *_labels(dep, ("metadata",), labels),
        *_labels(dep, ("spec", "template", "metadata"), labels),
        field_key(dep, "spec", "replicas"),
        *([field_key(dep, *container, "resources")] if resources else []),
        *([field_key(dep, *container, "image")] if image else []),
        *(field_key(dep, *container, "env", f"name={n}", "value") for n in env_names),
        field_key(svc, "metadata", "namespace"),
        *_labels(svc, ("metadata",), ENV_LABELS),
    ]
    if component == "database":
        pvc = f"PersistentVolumeClaim/{DATABASE_CLAIM_NAME}"
        keys += [field_key(pvc, "metadata", "namespace"), *_labels(pvc, ("metadata",), ENV_LABELS)]
        if storage_size:
            keys.append(field_key(pvc, "spec", "resources", "requests", "storage"))
        if storage_class:
            keys.append(field_key(pvc, "spec", "storageClassName"))
    return keys


def environment_fields(
    ctx: RenderContext,
    component: ComponentName,
    *,
    image: bool,
    resources: bool = True,
    storage_size: bool = False,
    storage_class: bool = False,
) -> dict[str, str]:
    """The fields an environment declares in one unit, with their values from its context.

    Values come from the same renderer as the base units, so a field holds exactly what a full
    render for this environment would hold there; they are JSON text (`fields.encode`).
    """
    docs = render_component(ctx, component)
    env_names = sorted(ctx.env.get(component, {})) if component in SERVICE_BY_NAME else []
    ingress_docs = [d["metadata"]["name"] for d in docs] if component == "ingress" else []
    keys = owned_keys(
        component,
        image=image,
        resources=resources,
        env_names=env_names,
        ingress_docs=ingress_docs,
        storage_size=storage_size,
        storage_class=storage_class,
    )
    return encode(extract(to_yaml(docs), keys))
