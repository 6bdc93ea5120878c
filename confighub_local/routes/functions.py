"""Functions: list signatures, invoke over a where selection (space or org)."""

from __future__ import annotations

import base64
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request

from confighub_local import service
from confighub_local.errors import ApiError
from confighub_local.functions import REGISTRY
from confighub_local.functions.invoke import invoke, signatures
from confighub_local.routes.common import JSON, flag, ok, st_of, unsupported, user_only
from confighub_local.validation import check_uuid

router = APIRouter()


@router.get("/function")
def list_org_functions(request: Request) -> JSON:
    user_only(request)
    return ok(signatures())


@router.get("/space/{space_id}/function")
def list_functions(request: Request, space_id: str) -> JSON:
    user_only(request)
    service.get_space(st_of(request), space_id)
    return ok(signatures())


def _run(
    request: Request,
    space_id: str | None,
    body: Any,
    where: str | None,
    filter_id: str | None,
    unit_id: str | None,
    dry_run: str | None,
    where_data: str | None = None,
    resource_type: str | None = None,
) -> JSON:
    st = st_of(request)
    if space_id is not None:
        service.get_space(st, space_id)
    if unit_id:
        check_uuid(unit_id, "unit_id")
        extra = f"UnitID = '{unit_id}'"
        where = f"{where} AND {extra}" if where else extra
    if not where and not filter_id:
        raise ApiError(400, "function invocation needs where, filter or unit_id to select units")
    units = service.list_docs(
        st,
        "Unit",
        space_id=space_id,
        where=where,
        filter_id=filter_id,
        where_data=where_data,
        resource_type=resource_type,
    )
    with st.store.tx():
        status, results = invoke(st, units, body, dry_run=flag(dry_run))
    return ok([with_output(r, body) for r in results], status=status)


def with_output(result: dict[str, Any], body: Any) -> dict[str, Any]:
    """Add the SDK's single `Output` (base64 JSON of the last function's output) and
    `OutputType`, and the `Mutators`/`Mutations` lists, beside the spec's `Outputs` map."""
    out = dict(result)
    outputs = out.get("Outputs") or {}
    chain = [i.get("FunctionName") for i in body.get("FunctionInvocations") or []]
    out["Mutators"] = (
        [
            i
            for i, name in enumerate(chain)
            if name in REGISTRY and REGISTRY[name].signature.get("Mutating")
        ]
        if out.get("HasNewMutations")
        else []
    )
    out.setdefault("Mutations", [])
    for name in reversed(chain):
        if name in outputs:
            out["Output"] = base64.b64encode(str(outputs[name]).encode()).decode()
            info = REGISTRY[name].signature.get("OutputInfo") or {}
            out["OutputType"] = info.get("OutputType", "JSON")
            break
    return out


@router.post("/space/{space_id}/function/invoke")
def invoke_functions(
    request: Request,
    space_id: str,
    body: Annotated[Any, Body()] = None,
    where: str | None = None,
    filter: str | None = None,
    unit_id: str | None = None,
    dry_run: str | None = None,
    where_data: str | None = None,
    resource_type: str | None = None,
    revision_id: str | None = None,
    change_set_id: str | None = None,
    where_trigger: str | None = None,
    trigger_filter: str | None = None,
    view: str | None = None,
) -> JSON:
    user_only(request)
    unsupported(
        revision_id=revision_id,
        change_set_id=change_set_id,
        where_trigger=where_trigger,
        trigger_filter=trigger_filter,
        view=view,
    )
    return _run(request, space_id, body, where, filter, unit_id, dry_run, where_data, resource_type)


@router.post("/function/invoke")
def invoke_functions_on_org(
    request: Request,
    body: Annotated[Any, Body()] = None,
    where: str | None = None,
    filter: str | None = None,
    dry_run: str | None = None,
    where_data: str | None = None,
    resource_type: str | None = None,
    where_trigger: str | None = None,
    trigger_filter: str | None = None,
    view: str | None = None,
) -> JSON:
    user_only(request)
    unsupported(where_trigger=where_trigger, trigger_filter=trigger_filter, view=view)
    return _run(request, None, body, where, filter, None, dry_run, where_data, resource_type)
