"""Revisions of a unit and its mutations (one per revision here, see mutations.py)."""

from __future__ import annotations

import re

from fastapi import APIRouter, Request
from fastapi.responses import Response

from confighub_local import mutations, service
from confighub_local.context import ServerState
from confighub_local.db.store import Doc
from confighub_local.errors import ApiError, not_found
from confighub_local.routes.common import JSON, ok, st_of, user_only
from confighub_local.unit_views import public_revision, public_unit, space_and_unit
from confighub_local.validation import check_uuid, decode_b64

router = APIRouter()


def _ext_revision(st: ServerState, rev: Doc, unit: Doc, space: Doc | None) -> Doc:
    """ExtendedRevision: the revision with its unit, space and author."""
    out: Doc = {"Revision": public_revision(rev), "Unit": public_unit(unit)}
    if space is not None:
        out["Space"] = space
    user = st.store.get("User", rev.get("UserID") or st.user_id)
    if user is not None:
        out["User"] = user
    return out


@router.get("/space/{space_id}/unit/{unit_id}/revision")
def list_revisions(
    request: Request,
    space_id: str,
    unit_id: str,
    where: str | None = None,
    contains: str | None = None,
    filter: str | None = None,
) -> JSON:
    user_only(request)
    st = st_of(request)
    space, unit = space_and_unit(st, space_id, unit_id)
    docs = service.list_docs(
        st, "Revision", where=where, contains=contains, filter_id=filter, parent_id=unit["UnitID"]
    )
    return ok([_ext_revision(st, d, unit, space) for d in docs])


def revision_by_id(st: ServerState, unit: Doc, revision_id: str) -> Doc:
    check_uuid(revision_id, "revision_id")
    rev = st.store.get("Revision", revision_id)
    if rev is None or rev["UnitID"] != unit["UnitID"]:
        raise not_found("Revision", revision_id)
    return rev


@router.get("/space/{space_id}/unit/{unit_id}/revision/{revision_id}")
def get_revision(request: Request, space_id: str, unit_id: str, revision_id: str) -> JSON:
    user_only(request)
    st = st_of(request)
    space, unit = space_and_unit(st, space_id, unit_id)
    return ok(_ext_revision(st, revision_by_id(st, unit, revision_id), unit, space))


@router.get("/space/{space_id}/unit/{unit_id}/revision/{revision_id}/data")
def revision_data(request: Request, space_id: str, unit_id: str, revision_id: str) -> Response:
    user_only(request)
    st = st_of(request)
    _, unit = space_and_unit(st, space_id, unit_id)
    rev = revision_by_id(st, unit, revision_id)
    return Response(
        decode_b64(rev.get("Data") or "", "Revision.Data"), media_type="application/octet-stream"
    )


@router.get("/revision")
def list_all_revisions(request: Request, where: str | None = None) -> JSON:
    user_only(request)
    docs = service.list_docs(st_of(request), "Revision", where=where)
    return ok([{"Revision": public_revision(d)} for d in docs])


# -- mutations: one per revision (see mutations.py) ------------------------------------------


def _ext_mutation(rev: Doc, unit: Doc, space: Doc | None) -> Doc:
    out: Doc = {
        "Mutation": mutations.from_revision(rev),
        "Revision": public_revision(rev),
        "Unit": public_unit(unit),
    }
    if space is not None:
        out["Space"] = space
    return out


_MUTATION_WHERE = re.compile(r"\b(MutationNum|MutationID)\b")


@router.get("/space/{space_id}/unit/{unit_id}/mutation")
def list_mutations(request: Request, space_id: str, unit_id: str, where: str | None = None) -> JSON:
    """Mutations of a unit. `where` may use the Mutation attributes that revisions share
    (RevisionNum, RevisionID, CreatedAt, ...; MutationNum means RevisionNum)."""
    user_only(request)
    st = st_of(request)
    space, unit = space_and_unit(st, space_id, unit_id)
    if where and "MutationID" in where:
        raise ApiError(400, "where on MutationID is not supported by this server; use RevisionID")
    rev_where = _MUTATION_WHERE.sub("RevisionNum", where) if where else None
    docs = service.list_docs(st, "Revision", where=rev_where, parent_id=unit["UnitID"])
    return ok([_ext_mutation(d, unit, space) for d in docs])


@router.get("/space/{space_id}/unit/{unit_id}/mutation/{mutation_id}")
def get_mutation(request: Request, space_id: str, unit_id: str, mutation_id: str) -> JSON:
    user_only(request)
    st = st_of(request)
    space, unit = space_and_unit(st, space_id, unit_id)
    check_uuid(mutation_id, "mutation_id")
    for rev in st.store.select("Revision", parent_id=unit["UnitID"]):
        if mutations.mutation_id(rev["RevisionID"]) == mutation_id.lower():
            return ok(_ext_mutation(rev, unit, space))
    raise not_found("Mutation", mutation_id)
