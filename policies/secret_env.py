"""No secret-looking literals: env vars named like credentials must come from a Secret
(`secretKeyRef`), and ConfigHub unit data must not carry Secret objects with values."""

from __future__ import annotations

import re
from collections.abc import Iterator

from pulumi_policy import ResourceValidationPolicy

from .base import RuleContext, container_name, object_policy
from .objects import KubeObject
from .values import dig

_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
_SECRET_WORDS = ("PASSWORD", "PASSWD", "PASS", "PWD", "TOKEN", "SECRET", "KEY", "CREDENTIAL")

CONFIG = {
    "allowedNames": {
        "type": "array",
        "items": {"type": "string"},
        "description": "Env var names that look secret but are not (e.g. a key file path).",
    }
}


def looks_secret(name: str) -> bool:
    """True for names like DATABASE_DBPASS, apiToken, CLIENT_SECRET, SIGNING_KEY."""
    words = [w.upper() for part in re.split(r"[-_.]+", name) for w in _WORD.findall(part)]
    return any(
        w.endswith(s) or (w.startswith(s) and w[len(s) :] in ("", "S"))
        for w in words
        for s in _SECRET_WORDS
    )


def check(obj: KubeObject, ctx: RuleContext) -> Iterator[str]:
    in_unit = obj.origin.startswith("ConfigHub unit")
    if obj.kind == "Secret" and in_unit and (obj.body.get("data") or obj.body.get("stringData")):
        yield (
            f"{obj.origin}: a Secret with values is stored in ConfigHub in plain text; "
            "remove it from the unit, create the Secret outside ConfigHub (from a Pulumi "
            "secret) and reference it with secretKeyRef."
        )
    allowed = ctx.strings("allowedNames", ())
    for container in obj.containers(include_init=True):
        env = container.get("env")
        if not isinstance(env, list):
            continue
        for var in env:
            name = var.get("name") if isinstance(var, dict) else None
            if not isinstance(name, str) or name in allowed or not looks_secret(name):
                continue
            if dig(var, "valueFrom", "secretKeyRef") is not None:
                continue
            source = "a literal value" if "value" in var else "a non-Secret source"
            yield (
                f"{obj.origin}: container '{container_name(container)}' env {name} is set from "
                f"{source}; move it into a Kubernetes Secret and use "
                f"valueFrom.secretKeyRef (or list it in allowedNames if it is not secret)."
            )


def policies() -> list[ResourceValidationPolicy]:
    return [
        object_policy(
            "no-secret-literals",
            "Secret-looking env vars (PASSWORD/TOKEN/SECRET/KEY...) must use secretKeyRef; "
            "no Secret values in ConfigHub unit data.",
            check,
            CONFIG,
        )
    ]
