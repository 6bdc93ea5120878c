"""Spaces: CRUD, labels, where, and recursive delete."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Request

from confighub_local import service
from confighub_local.errors import ApiError
from confighub_local.kinds import SIMPLE_KINDS, SPACE
from confighub_local.routes.common import JSON, flag, ok, st_of, user_only

router = APIRouter()


@router.get("/space")
def list_spaces(
    request: Request,
    where: str | None = None,
    contains: str | None = None,
    filter: str | None = None,
) -> JSON:
    user_only(request)
    docs = service.list_docs(
        st_of(request), "Space", where=where, contains=contains, filter_id=filter
    )
    return ok([{"Space": d} for d in docs])


@router.post("/space")
def create_space(
    request: Request, body: Annotated[Any, Body()] = None, allow_exists: str | None = None
) -> JSON:
    user_only(request)
    return ok(service.create(st_of(request), SPACE, None, body, allow_exists=flag(allow_exists)))


@router.get("/space/{space_id}")
def get_space(request: Request, space_id: str) -> JSON:
    user_only(request)
    st = st_of(request)
    space = service.get_space(st, space_id)
    out: dict[str, Any] = {
        "Space": space,
        "Organization": st.store.get("Organization", st.org_id),
        "TotalUnitCount": st.store.count("Unit", space_id=space_id),
    }
    for kind in SIMPLE_KINDS:
        if kind.name in (
            "Filter",
            "Link",
            "BridgeWorker",
            "Tag",
            "ChangeSet",
            "View",
            "Invocation",
        ):
            out[f"Total{kind.name}Count"] = st.store.count(kind.name, space_id=space_id)
    return ok(out)


@router.put("/space/{space_id}")
def update_space(request: Request, space_id: str, body: Annotated[Any, Body()] = None) -> JSON:
    user_only(request)
    st = st_of(request)
    old = service.get_space(st, space_id)
    return ok(service.update(st, SPACE, None, old, body, patch=False))


@router.patch("/space/{space_id}")
def patch_space(request: Request, space_id: str, body: Annotated[Any, Body()] = None) -> JSON:
    user_only(request)
    st = st_of(request)
    old = service.get_space(st, space_id)
    return ok(service.update(st, SPACE, None, old, body, patch=True))


@router.delete("/space/{space_id}")
def delete_space(
    request: Request,
    space_id: str,
    recursive: str | None = None,
    recursive_force: str | None = None,
) -> JSON:
    user_only(request)
    st = st_of(request)
    space = service.get_space(st, space_id)
    with st.store.tx():
        contents = st.store.sql(
            "SELECT kind, count(*) FROM entities WHERE space_id = ? GROUP BY kind", (space_id,)
        )
        if contents and not (flag(recursive) or flag(recursive_force)):
            what = ", ".join(f"{n} {k}" for k, n in contents)
            raise ApiError(409, f"Space {space['Slug']} is not empty ({what}); use recursive=true")
        st.store.sql("DELETE FROM entities WHERE space_id = ?", (space_id,))
        st.store.delete("Space", space_id)
    return ok({"Message": f"Space {space_id} deleted"})
