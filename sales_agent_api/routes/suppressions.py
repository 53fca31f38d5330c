"""GET/POST /api/suppressions and DELETE /api/suppressions/{value} (admin keys): the
key's tenant's suppression list."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session, sessionmaker

from sales_agent_api.auth import ADMIN_RESPONSES, AdminKey, Principal
from sales_agent_api.deps import ReadSession, Responses
from sales_agent_api.errors import ApiError, ErrorResponse
from sales_agent_api.pagination import DEFAULT_LIMIT, Cursor, Limit, decode_cursor, encode_cursor
from sales_agent_api.schemas.suppressions import (
    SuppressionAdd,
    SuppressionChange,
    SuppressionPage,
    SuppressionView,
)
from sales_agent_pipeline.db.repositories import suppressions
from sales_agent_pipeline.db.repositories.suppressions import MAX_ADDRESS, BadSuppression
from sales_agent_pipeline.domain.compliance import SuppressionKind, SuppressionReason
from sales_agent_pipeline.usecases.suppression import suppress, unsuppress

router = APIRouter(prefix="/api/suppressions", tags=["suppressions"])

BAD_REQUEST: Responses = {
    400: {"model": ErrorResponse, "description": "Invalid input (named): not an address or domain"}
}
NOT_FOUND: Responses = {
    404: {"model": ErrorResponse, "description": "The tenant has no such entry"}
}


def _bad(exc: BadSuppression, field: str = "value") -> ApiError:
    return ApiError(400, "invalid_request", f"{field}: {exc}", [field])


@router.get(
    "",
    response_model=SuppressionPage,
    responses={**ADMIN_RESPONSES, **BAD_REQUEST},
    summary="List the tenant's suppressed addresses and domains, newest first (admin key)",
)
def list_suppressions(
    principal: AdminKey,
    session: ReadSession,
    reason: Annotated[SuppressionReason | None, Query(description="only this reason")] = None,
    kind: Annotated[SuppressionKind | None, Query(description="only addresses or domains")] = None,
    address: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=MAX_ADDRESS,
            description="only what suppresses this address (its own entry and its domain's)",
        ),
    ] = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> SuppressionPage:
    """Every entry: what, why, from where, who added it and when."""
    rows, more = suppressions.list_(
        session,
        principal.tenant_id,
        reason=reason,
        kind=kind,
        address=address,
        after=decode_cursor(cursor),
        limit=limit,
    )
    last = rows[-1] if rows and more else None
    return SuppressionPage(
        items=[SuppressionView.model_validate(row) for row in rows],
        next_cursor=encode_cursor(last.created_at, last.id) if last else None,
    )


def _add(request: Request, principal: Principal, change: SuppressionAdd) -> SuppressionChange:
    sessions: sessionmaker[Session] = request.app.state.sessions
    try:
        with sessions.begin() as session:
            kind, value = suppressions.normalise(change.value, change.kind)
            added = suppress(
                session,
                principal.tenant_id,
                value,
                change.reason,
                kind=kind,
                source=change.note,
                created_by=principal.actor,
            )
            row = suppressions.get(session, principal.tenant_id, kind, value)
            assert row is not None
            view = SuppressionView.model_validate(row)
    except BadSuppression as exc:
        raise _bad(exc) from None
    if added:
        return SuppressionChange(
            status="suppressed", message=f"{value} is suppressed ({kind.value})", suppression=view
        )
    return SuppressionChange(
        status="already_suppressed",
        message=f"{value} was already suppressed ({view.reason.value}): nothing changed",
        suppression=view,
    )


@router.post(
    "",
    status_code=201,
    response_model=SuppressionChange,
    responses={
        **ADMIN_RESPONSES,
        **BAD_REQUEST,
        200: {"model": SuppressionChange, "description": "Already suppressed: nothing changed"},
    },
    summary="Suppress an address or a whole domain (admin key)",
)
async def add_suppression(
    change: SuppressionAdd, principal: AdminKey, request: Request, response: Response
) -> SuppressionChange:
    """Never mail it again: the entry, and what is scheduled to it cancelled (its workflows
    marked stopped). 201 when added; 200 when it already was (the entry there is kept)."""
    result = await run_in_threadpool(_add, request, principal, change)
    if result.status == "already_suppressed":
        response.status_code = 200
    return result


def _remove(
    request: Request, principal: Principal, value: str, kind: SuppressionKind | None
) -> SuppressionChange:
    sessions: sessionmaker[Session] = request.app.state.sessions
    try:
        with sessions.begin() as session:
            kind, clean = suppressions.normalise(value, kind)
            removed = unsuppress(session, principal.tenant_id, clean, kind=kind)
    except BadSuppression as exc:
        raise _bad(exc) from None
    if not removed:
        raise ApiError(404, "not_found", f"{clean} is not suppressed ({kind.value})")
    return SuppressionChange(
        status="removed",
        message=f"{clean} is no longer suppressed ({kind.value}); workflows already stopped "
        "stay stopped",
        suppression=None,
    )


@router.delete(
    "/{value}",
    response_model=SuppressionChange,
    responses={**ADMIN_RESPONSES, **BAD_REQUEST, **NOT_FOUND},
    summary="Mail an address or domain again (admin key)",
)
async def remove_suppression(
    principal: AdminKey,
    request: Request,
    value: Annotated[
        str,
        Path(
            min_length=1,
            max_length=MAX_ADDRESS,
            description="the address, or the domain (example.com or @example.com)",
        ),
    ],
    kind: Annotated[
        SuppressionKind | None,
        Query(description="address or domain; by default an address when it holds an @"),
    ] = None,
) -> SuppressionChange:
    """Remove the tenant's entry; 404 when there is none (nothing changes)."""
    return await run_in_threadpool(_remove, request, principal, value, kind)
