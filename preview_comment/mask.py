"""Keep secrets out of the comment: Pulumi secrets stay `[secret]`, values under secret-looking
keys or env names are replaced, and known secret values (tokens from the CI environment) are
scrubbed from the final text wherever they appear."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any, Final

import yaml

from policies.secret_env import looks_secret

MASK: Final = "***"
SECRET_SIG: Final = "4dabf18193072939515e22adb298388d"  # Pulumi's secret marker key
#: Keys that name a secret rather than hold one (secretKeyRef.key: password).
_REFERENCE_KEYS: Final = frozenset({"key", "secretKeyRef", "secretName"})
#: Keys whose value is a path (harmless) or inline content with credentials (masked).
_CONTENT_KEYS: Final = frozenset({"kubeconfig", "kubeConfig"})
DEFAULT_SECRET_ENV: Final = ("CONFIGHUB_TOKEN", "GITHUB_TOKEN", "PULUMI_CONFIG_PASSPHRASE")


def mask_value(value: Any, key: str | None = None) -> Any:
    """Copy of `value` with Pulumi secrets shown as [secret] and secret-looking entries masked."""
    if isinstance(value, dict):
        if SECRET_SIG in value:
            return "[secret]"
        name = value.get("name")
        if isinstance(name, str) and "value" in value and looks_secret(name):
            return {k: (MASK if k == "value" else mask_value(v, k)) for k, v in value.items()}
        return {k: mask_value(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_value(v, key) for v in value]
    if isinstance(value, str) and key in _CONTENT_KEYS and ("\n" in value or "{" in value):
        return MASK  # inline kubeconfig (credentials), not a path
    if (
        isinstance(value, str)
        and key not in _REFERENCE_KEYS
        and key is not None
        and looks_secret(key)
        and value != "[secret]"
    ):
        return MASK
    return value


def mask_yaml_text(text: str) -> str:
    """Mask a unit's YAML data the same way (re-dumped; unparseable text is kept as is)."""
    try:
        docs = list(yaml.safe_load_all(text))
    except yaml.YAMLError:
        return text
    masked = [mask_value(d) for d in docs if d is not None]
    for doc in masked:
        if isinstance(doc, dict) and doc.get("kind") == "Secret":
            for field in ("data", "stringData"):
                if isinstance(doc.get(field), dict):
                    doc[field] = dict.fromkeys(doc[field], MASK)
    return yaml.safe_dump_all(masked, sort_keys=False)


class Scrubber:
    """Replaces known secret values in final text (longest first, so prefixes don't leak)."""

    def __init__(self, secrets: Iterable[str]) -> None:
        self._secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    @classmethod
    def from_env(cls, names: Iterable[str] = DEFAULT_SECRET_ENV) -> Scrubber:
        return cls(os.environ.get(n, "") for n in names)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        return text
