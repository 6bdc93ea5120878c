"""/info, /me, the single default organization and its one user."""

from __future__ import annotations

from fastapi import APIRouter, Request

from confighub_local import __version__
from confighub_local.errors import not_found
from confighub_local.routes.common import JSON, ok, st_of
from confighub_local.validation import check_uuid

router = APIRouter()


@router.get("/info")
def api_info(request: Request) -> JSON:
    return ok(
        {
            "Version": __version__,
            "Build": "confighub-local",
            "BuiltAt": "",
            "WorkerPort": str(request.url.port or ""),
        }
    )


def _member(request: Request) -> dict[str, str]:
    st = st_of(request)
    user = st.store.get("User", st.user_id) or {}
    return {
        "OrganizationID": st.org_id,
        "UserID": st.user_id,
        "Username": user.get("Username", "local"),
        "DisplayName": user.get("DisplayName", "Local user"),
        "Slug": user.get("Slug", "local"),
        "ExternalID": "local",
        "ExternalOrganizationID": "local",
    }


@router.get("/me")
def get_me(request: Request) -> JSON:
    return ok(_member(request))


@router.get("/organization")
def list_organizations(request: Request) -> JSON:
    st = st_of(request)
    return ok([st.store.get("Organization", st.org_id)])


@router.get("/organization/{organization_id}")
def get_organization(request: Request, organization_id: str) -> JSON:
    st = st_of(request)
    check_uuid(organization_id, "organization_id")
    org = st.store.get("Organization", organization_id)
    if org is None:
        raise not_found("Organization", organization_id)
    return ok(org)


@router.get("/organization/{organization_id}/organization_member")
def list_members(request: Request, organization_id: str) -> JSON:
    get_organization(request, organization_id)
    return ok([_member(request)])


@router.get("/user")
def list_users(request: Request) -> JSON:
    st = st_of(request)
    return ok([st.store.get("User", st.user_id)])


@router.get("/user/{user_id}")
def get_user(request: Request, user_id: str) -> JSON:
    st = st_of(request)
    check_uuid(user_id, "user_id")
    user = st.store.get("User", user_id)
    if user is None:
        raise not_found("User", user_id)
    return ok(user)
