"""The ConfigHub edge of a rollout: prod's units, the rollout's own units, the record (lock).

Every change is a revision of a unit in prod's space, applied by the environment's bridge
worker (never kubectl):
- `trade-service` (the stack's unit): its Service's selector names the active slot; a canary
  promotion changes its Deployment. The stack declares neither the selector nor (unless prod
  pins it) the image, so `pulumi up` leaves both alone (docs/program.md, field ownership).
- `trade-service-blue`, `trade-service-green`, `trade-service-canary`: the rollout's units,
  owned by ConfigHub (no stack declares them), on the Target `prod-cluster-rollout`: the same
  worker as prod's Target with the rollout's own readiness timeout, so an apply that never
  turns available fails within that bound and names what is not ready.
- `trade-service-rollout`: the record (no target, never applied): one ConfigMap document
  holding the rollout's state; each transition is a revision (the audit), and a running
  state is the lock that keeps a second rollout out.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from components.confighub.client import SPACE, TARGET, UNIT, ConfigHubClient
from components.confighub.errors import OperationFailedError
from components.confighub.models import Target, Unit, encode_data
from components.confighub.operations import wait_for
from components.confighub.yamldata import documents
from components.model.layout import space_slug
from components.model.manifests import to_yaml
from components.model.rollout import ROLLOUT_LABEL, SERVICE, Rollout
from operator_cli.output import CliError, Exit
from operator_cli.rollout.lock import identity

RECORD = f"{SERVICE}-rollout"
ROLLOUT_TARGET = "prod-cluster-rollout"
MANAGED = {"traderx/owner": "rollout"}  # no stack marker: no stack adopts these
Docs = list[dict[str, Any]]


class ApplyFailed(Exception):
    """An apply the worker reported failed or that did not finish in time (its reason)."""


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass
class ProdHub:
    client: ConfigHubClient
    prefix: str
    space_id: str
    environment: str = "prod"

    @classmethod
    def open(cls, client: ConfigHubClient, prefix: str, environment: str = "prod") -> ProdHub:
        slug = space_slug(prefix, environment)  # type: ignore[arg-type]
        space = client.find_by_slug(SPACE, None, slug)
        if space is None:
            raise CliError(
                Exit.NOT_FOUND,
                f"ConfigHub has no space {slug!r} (prefix {prefix!r})",
                "pulumi stack output prefix -s dev   # the prefix; prod must be up first",
            )
        return cls(client, prefix, space.id, environment)

    def space(self, environment: str) -> str:
        slug = space_slug(self.prefix, environment)  # type: ignore[arg-type]
        space = self.client.find_by_slug(SPACE, None, slug)
        if space is None:
            raise CliError(Exit.NOT_FOUND, f"ConfigHub has no space {slug!r}")
        return space.id

    # ---------------------------------------------------------------- units

    def unit(self, slug: str, space_id: str | None = None) -> Unit | None:
        found = self.client.find_by_slug(UNIT, space_id or self.space_id, slug)
        if found is None:
            return None
        assert isinstance(found, Unit)
        return self.client.get_unit(space_id or self.space_id, found.unit_id)

    def need(self, slug: str) -> Unit:
        found = self.unit(slug)
        if found is None:
            raise CliError(
                Exit.NOT_FOUND, f"prod has no unit {slug!r}", "pulumi up -s prod   # deploy first"
            )
        return found

    def docs(self, slug: str) -> Docs:
        return [d for d in documents(self.need(slug).text) if d]

    def revision_docs(self, environment: str, slug: str, revision: int) -> Docs:
        space_id = self.space(environment)
        found = self.unit(slug, space_id)
        if found is None:
            raise CliError(Exit.NOT_FOUND, f"{environment} has no unit {slug!r}")
        try:
            rev = self.client.get_revision(space_id, found.unit_id, revision)
        except Exception as exc:
            raise CliError(
                Exit.BAD_INPUT,
                f"{environment}'s {slug} has no revision {revision} "
                f"(its head is {found.head_revision_num})",
                f"pick 1..{found.head_revision_num}",
            ) from exc
        return [d for d in documents(rev.text) if d]

    def rollout_target(self, ready_timeout: float) -> str:
        """The rollout's Target (created beside prod's, same worker), with its timeout."""
        stable = self.need(SERVICE)
        if not stable.target_id:
            raise CliError(Exit.REFUSED, "prod's trade-service unit has no target")
        base = self.client.get(TARGET, self.space_id, stable.target_id)
        assert isinstance(base, Target)
        params: dict[str, Any] = json.loads(base.parameters or "{}")
        params["ReadyTimeoutSeconds"] = str(max(1, int(ready_timeout)))
        body = {
            "Slug": ROLLOUT_TARGET,
            "BridgeWorkerID": base.bridge_worker_id,
            "ProviderType": base.provider_type,
            "ToolchainType": base.toolchain_type,
            "Parameters": json.dumps(params),
            "Annotations": MANAGED,
        }
        existing = self.client.find_by_slug(TARGET, self.space_id, ROLLOUT_TARGET)
        if existing is None:
            return self.client.create(TARGET, self.space_id, body).id
        assert isinstance(existing, Target)
        if json.loads(existing.parameters or "{}") != params:
            self.client.patch(
                TARGET, self.space_id, existing.id, {"Parameters": body["Parameters"]}
            )
        return existing.id

    def write(
        self, slug: str, docs: Docs, *, target_id: str | None = None, description: str = ""
    ) -> Unit:
        """One revision of the unit holding `docs` (created if missing); `description` is the
        revision's (who and why, for the audit)."""
        text = to_yaml(docs)
        described = {"LastChangeDescription": description} if description else {}
        found = self.unit(slug)
        if found is None:
            body: dict[str, Any] = {
                "Slug": slug,
                "ToolchainType": "Kubernetes/YAML",
                "Data": encode_data(text),
                "Labels": {ROLLOUT_LABEL: SERVICE},
                "Annotations": MANAGED,
                **described,
            }
            if target_id:
                body["TargetID"] = target_id
            created = self.client.create(UNIT, self.space_id, body)
            assert isinstance(created, Unit)
            return created
        patched = self.client.patch(
            UNIT, self.space_id, found.unit_id, {"Data": encode_data(text), **described}
        )
        assert isinstance(patched, Unit)
        return patched

    def apply(self, unit: Unit, timeout: float) -> None:
        what = f"apply of prod/{unit.slug}"
        try:
            op = self.client.apply_unit(self.space_id, unit.unit_id)
            wait_for(self.client, self.space_id, unit.unit_id, op, what=what, timeout=timeout)
        except OperationFailedError as exc:
            raise ApplyFailed(str(exc)) from exc

    def remove(self, slug: str, timeout: float) -> bool:
        """Destroy the unit's objects in the cluster, then delete the unit (False: none)."""
        found = self.unit(slug)
        if found is None:
            return False
        if found.live_revision_num:
            op = self.client.destroy_unit(self.space_id, found.unit_id)
            wait_for(
                self.client,
                self.space_id,
                found.unit_id,
                op,
                what=f"destroy of prod/{slug}",
                timeout=timeout,
            )
        self.client.delete(UNIT, self.space_id, found.unit_id)
        return True

    # ---------------------------------------------------------------- record

    def record(self) -> dict[str, Any] | None:
        found = self.unit(RECORD)
        if found is None:
            return None
        for doc in documents(found.text):
            if doc and doc.get("kind") == "ConfigMap":
                return dict(json.loads(doc["data"]["rollout"]))
        return None

    def save(
        self,
        state: Rollout,
        history: list[dict[str, Any]],
        extra: dict[str, Any],
        description: str = "",
    ) -> None:
        body = {**extra, "state": state.model_dump(mode="json"), "history": history}
        doc = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": RECORD, "labels": {ROLLOUT_LABEL: SERVICE}},
            "data": {"rollout": json.dumps(body, sort_keys=True)},
        }
        self.write(RECORD, [doc], description=description)

    def request_abort(self, record: dict[str, Any], reason: str) -> str:
        """Ask the running rollout to roll back now: one record revision carrying the request
        (the runner polls its record while it watches). Returns the request as recorded."""
        state = Rollout.model_validate(record["state"])
        extra = {k: v for k, v in record.items() if k not in ("state", "history")}
        me = identity()
        extra["abortRequested"] = f"{reason} (at {now()}, by {me['user']}@{me['host']})"
        self.save(
            state,
            list(record.get("history") or []),
            extra,
            description=f"rollout abort requested by {me['user']}@{me['host']}: {reason}",
        )
        return str(extra["abortRequested"])
