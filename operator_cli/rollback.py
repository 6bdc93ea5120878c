"""Rollback (issue #13): an environment to one of its releases, or one unit to a revision.

Both restore in ConfigHub (`PATCH ?restore=Tag:<id>|<n>|Before:HeadRevisionNum`), so the result
is a new head revision equal to the old one (history is never rewritten), then apply and wait
for the worker's health-gated result. An environment rollback applies in start order (tier by
tier) and then makes the stack agree: it writes the release's pins and services config into the
stack and runs `pulumi up` (Automation API), which records the rollback as a release and leaves
nothing for the next `up` to change. Every check happens before the first write.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from components.confighub.client import SPACE, UNIT, ConfigHubClient
from components.confighub.errors import ApiError
from components.confighub.models import decode_data, encode_data
from components.confighub.releases import Release, list_releases
from components.model.layout import space_slug
from components.model.settings import ENVIRONMENTS
from operator_cli import rollback_warm
from operator_cli import surge as surge_rules
from operator_cli.deploy import apply_tiers, start_rank
from operator_cli.output import CliError, Exit, Step


@dataclass(frozen=True)
class Environment:
    """An environment's space and its units (raw wire objects), in start order."""

    name: str
    space_id: str
    units: list[dict[str, Any]]

    def unit(self, slug: str) -> dict[str, Any]:
        for unit in self.units:
            if unit.get("Slug") == slug:
                return unit
        raise CliError(
            Exit.NOT_FOUND,
            f"{self.name} has no unit {slug!r} (units: {', '.join(u['Slug'] for u in self.units)})",
            f"traderx audit env {self.name} --prefix <prefix>   # lists its units",
        )


def environment(client: ConfigHubClient, prefix: str, env: str) -> Environment:
    if env not in ENVIRONMENTS:
        raise CliError(
            Exit.USAGE, f"unknown environment {env!r}", f"use one of {', '.join(ENVIRONMENTS)}"
        )
    slug = space_slug(prefix, env)
    space = client.find_by_slug(SPACE, None, slug)
    if space is None:
        raise CliError(
            Exit.NOT_FOUND,
            f"ConfigHub has no space {slug!r} (environment {env} of prefix {prefix})",
            "pulumi stack output prefix -s dev   # the prefix; then pulumi up -s <env>",
        )
    listed = client.request("GET", f"/space/{space.id}/unit") or []
    units = sorted((item.get("Unit", item) for item in listed), key=start_rank)
    return Environment(env, space.id, units)


def release_named(client: ConfigHubClient, env: Environment, name: str) -> Release:
    releases = list_releases(client, env.space_id)
    for release in releases:
        if release.name == name:
            return release
    names = ", ".join(r.name for r in releases) or "none yet"
    raise CliError(
        Exit.NOT_FOUND,
        f"{env.name} has no release {name!r} (releases: {names})",
        f"traderx release list {env.name} --prefix <prefix>",
    )


def revisions(client: ConfigHubClient, space_id: str, unit_id: str) -> list[dict[str, Any]]:
    body = client.request("GET", f"/space/{space_id}/unit/{unit_id}/revision") or []
    revs = [item.get("Revision", item) for item in body]
    return sorted(revs, key=lambda r: int(r.get("RevisionNum") or 0))


def restore(client: ConfigHubClient, space_id: str, unit_id: str, ref: str) -> dict[str, Any]:
    """One ConfigHub restore: a new head revision equal to the referenced one."""
    body = client.request(
        "PATCH",
        f"/space/{space_id}/unit/{unit_id}",
        params={"restore": ref},
        content=b"null",
        content_type="application/merge-patch+json",
    )
    unit: dict[str, Any] = body.get("Unit", body)
    return unit


def apply_in_order(
    client: ConfigHubClient,
    env: Environment,
    slugs: list[str],
    step: Step,
    *,
    timeout: float,
) -> list[str]:
    """Apply the named units tier by tier (start order), each waiting for the health gate."""
    chosen = [u for u in env.units if u.get("Slug") in slugs and u.get("TargetID")]
    return apply_tiers(
        client, env.space_id, env.name, chosen, step, timeout=timeout, again="the rollback"
    )


@dataclass(frozen=True)
class UnitPlan:
    slug: str
    unit_id: str
    head: int
    target: int
    ref: str


def plan_environment(client: ConfigHubClient, env: Environment, release: Release) -> list[UnitPlan]:
    """What an environment rollback restores: units whose data differs from the release's
    tagged revision. Refuses (nothing written) when a unit or its tagged revision is missing."""
    plans: list[UnitPlan] = []
    problems: list[str] = []
    for slug, num in sorted(release.units.items()):
        unit = next((u for u in env.units if u.get("Slug") == slug), None)
        if unit is None:
            problems.append(f"unit {slug!r} of the release no longer exists")
            continue
        revs = {int(r["RevisionNum"]): r for r in revisions(client, env.space_id, unit["UnitID"])}
        tagged = revs.get(num)
        if tagged is None or release.tag_id not in (tagged.get("Tags") or {}):
            problems.append(f"unit {slug!r} has no revision {num} tagged {release.name!r}")
            continue
        if tagged.get("DataHash") != unit.get("DataHash"):
            head = int(unit.get("HeadRevisionNum") or 0)
            plans.append(UnitPlan(slug, unit["UnitID"], head, num, f"Tag:{release.tag_id}"))
    if problems:
        raise CliError(
            Exit.BAD_INPUT,
            f"cannot roll {env.name} back to {release.name}: " + "; ".join(problems),
            "nothing was changed; roll back to another release (traderx release list)",
        )
    return plans


@dataclass(frozen=True)
class Target:
    """What `--to` names: the restore reference, the revision number and its data."""

    ref: str
    num: int
    text: str


def unit_target(client: ConfigHubClient, env: Environment, unit: dict[str, Any], to: str) -> Target:
    """The revision `--to` names (-1, a number, a release name), from one revision listing."""
    revs = revisions(client, env.space_id, unit["UnitID"])
    ref, num = _unit_ref(client, env, unit, to, revs)
    data = next(r.get("Data") for r in revs if int(r["RevisionNum"]) == num)
    return Target(ref, num, decode_data(data))


def _unit_ref(
    client: ConfigHubClient,
    env: Environment,
    unit: dict[str, Any],
    to: str,
    revs: list[dict[str, Any]],
) -> tuple[str, int]:
    """The restore reference and revision number for `--to`."""
    nums = [int(r["RevisionNum"]) for r in revs]
    head = int(unit.get("HeadRevisionNum") or 0)
    slug = unit["Slug"]
    if to.lstrip("-").isdigit():
        value = int(to)
        num = _back(revs, head, -value) if value < 0 else value
        if num not in nums or num == head:
            raise CliError(
                Exit.BAD_INPUT,
                f"unit {env.name}/{slug} has no revision {to!r} to roll back to "
                f"(revisions 1..{head}, head {head})",
                f"traderx audit unit {env.name} {slug} --prefix <prefix>   # its history",
            )
        ref = "Before:HeadRevisionNum" if value == -1 and num == head - 1 else str(num)
        return ref, num
    release = release_named(client, env, to)
    for rev in reversed(revs):
        if release.tag_id in (rev.get("Tags") or {}):
            return f"Tag:{release.tag_id}", int(rev["RevisionNum"])
    raise CliError(
        Exit.BAD_INPUT,
        f"unit {env.name}/{slug} has no revision tagged {to!r}",
        f"traderx release list {env.name} --prefix <prefix>",
    )


def _back(revs: list[dict[str, Any]], head: int, steps: int) -> int:
    """The revision `steps` before head, not counting a rollback's transient surging
    revisions (operator_cli/surge.py): `-1` after a surged rollback is the state before it."""
    earlier = sorted(
        (
            int(r["RevisionNum"])
            for r in revs
            if int(r["RevisionNum"]) < head and r.get("Description") != surge_rules.DESCRIPTION
        ),
        reverse=True,
    )
    return earlier[steps - 1] if steps <= len(earlier) else 0  # 0: no such revision


def rollback_unit(
    client: ConfigHubClient,
    env: Environment,
    slug: str,
    to: str,
    step: Step,
    *,
    timeout: float,
    surge: bool = True,
) -> dict[str, Any]:
    """Restore one unit to `to` and apply it; with `surge`, first apply the target data with
    every replaced Deployment surging all replicas at once (operator_cli/surge.py)."""
    unit = env.unit(slug)
    target = unit_target(client, env, unit, to)
    ref, num, wanted = target.ref, target.num, target.text
    before = int(unit.get("HeadRevisionNum") or 0)
    warm = rollback_warm.find(client, env.space_id, env.name, unit, num, wanted)
    if warm is not None:  # the previous version still runs: the rollout switches back to it
        step.total(4)
        switched = rollback_warm.switch_back(warm, num, step, timeout=timeout)
        report = _exact(client, env, unit, num, wanted, step, timeout)
        return {**report, "previousHead": before, "surged": [], **switched}
    names = write_surge(client, env, unit, num) if surge else []
    step.total(4 if names else 2)
    if names:
        step.advance(f"wrote revision {num}'s data with {', '.join(names)} surging")
        apply_in_order(
            client, Environment(env.name, env.space_id, [unit]), [slug], step, timeout=timeout
        )
    after = restore(client, env.space_id, unit["UnitID"], str(num) if names else ref)
    step.advance(f"restored {slug} to revision {num}")
    if after.get("TargetID"):
        fresh = Environment(env.name, env.space_id, [after])
        apply_in_order(client, fresh, [slug], step, timeout=timeout)
    return {**_report(client, env, unit, num), "previousHead": before, "surged": names}


def _exact(
    client: ConfigHubClient,
    env: Environment,
    unit: dict[str, Any],
    num: int,
    wanted: str,
    step: Step,
    timeout: float,
) -> dict[str, Any]:
    """After a switch-back: restore revision `num` itself (and apply it) unless the head is
    already byte for byte its data (`wanted`), so the head always equals the revision asked for."""
    head = client.get_unit(env.space_id, unit["UnitID"])
    if head.text != wanted:
        after = restore(client, env.space_id, unit["UnitID"], str(num))
        step.advance(f"restored {unit['Slug']} to revision {num} exactly")
        if after.get("TargetID"):
            fresh = Environment(env.name, env.space_id, [after])
            apply_in_order(client, fresh, [unit["Slug"]], step, timeout=timeout)
    else:
        step.advance(f"the head already equals revision {num}")
    return _report(client, env, unit, num)


def _report(
    client: ConfigHubClient, env: Environment, unit: dict[str, Any], num: int
) -> dict[str, Any]:
    live = client.get_unit(env.space_id, unit["UnitID"])
    return {
        "environment": env.name,
        "unit": unit["Slug"],
        "restoredRevision": num,
        "head": live.head_revision_num,
        "live": live.live_revision_num,
    }


def write_surge(
    client: ConfigHubClient, env: Environment, unit: dict[str, Any], num: int
) -> list[str]:
    """Write revision `num`'s data with its replaced Deployments surging (a new head, to apply
    before the exact restore); the Deployments' names, or [] when none gains (nothing written)."""
    fast = _surge_plan(client, env, unit, num) if unit.get("TargetID") else None
    if fast is None:
        return []
    data, names = fast
    try:
        client.patch(
            UNIT,
            env.space_id,
            unit["UnitID"],
            {"Data": encode_data(data), "LastChangeDescription": surge_rules.DESCRIPTION},
        )
    except ApiError as exc:
        raise CliError(
            Exit.FAILED,
            f"writing the surging data of unit {env.name}/{unit['Slug']} failed: {exc}",
            "run the rollback again, or with --no-surge",
        ) from exc
    return names


def _surge_plan(
    client: ConfigHubClient, env: Environment, unit: dict[str, Any], num: int
) -> tuple[str, list[str]] | None:
    """The surging variant of revision `num`'s data (None when no Deployment gains)."""
    revs = {
        int(r.get("RevisionNum") or 0): r for r in revisions(client, env.space_id, unit["UnitID"])
    }
    current = revs.get(int(unit.get("HeadRevisionNum") or 0))
    target = revs.get(num)
    if current is None or target is None:
        return None
    return surge_rules.surged(decode_data(current.get("Data")), decode_data(target.get("Data")))


def config_for(release: Release) -> dict[str, str]:
    """The release's pins and services as `config set --path` leaves (Automation API)."""
    out: dict[str, str] = {}
    for comp, pin in release.pins.items():
        out[f'traderx:promote["{comp}"]'] = str(pin)

    def leaves(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                leaves(f'{prefix}["{k}"]', v)
        else:
            out[prefix] = json.dumps(value) if not isinstance(value, str) else value

    for svc, cfg in release.services.items():
        leaves(f'traderx:services["{svc}"]', cfg)
    return out


def safe_restore(client: ConfigHubClient, env: Environment, plan: UnitPlan) -> dict[str, Any]:
    try:
        return restore(client, env.space_id, plan.unit_id, plan.ref)
    except ApiError as exc:
        raise CliError(
            Exit.FAILED,
            f"restore of unit {env.name}/{plan.slug} to revision {plan.target} failed: {exc}",
            "run the rollback again: units already restored are skipped",
        ) from exc
