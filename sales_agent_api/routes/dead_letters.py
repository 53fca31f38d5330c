"""GET /api/admin/dead-letters, POST .../replay and .../discard (admin key, its tenant only).

A workflow of another tenant is a 404 like one that does not exist; one that is not a dead
letter is a 409 naming its status. Either way nothing changes.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Query, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session

from sales_agent_api.auth import ADMIN_RESPONSES, AdminKey
from sales_agent_api.deps import ReadSession, Responses
from sales_agent_api.errors import ApiError, ErrorResponse
from sales_agent_api.launch import request_runs
from sales_agent_api.pagination import DEFAULT_LIMIT, MAX_LIMIT
from sales_agent_api.schemas.dead_letters import (
    DeadLetterList,
    DeadLetterReceipt,
    DeadLetterView,
    DiscardRequest,
    ReplayRequest,
)
from sales_agent_pipeline import run_tags
from sales_agent_pipeline.db.repositories.dead_letters import list_dead_letters
from sales_agent_pipeline.domain.enums import WorkflowStatus
from sales_agent_pipeline.usecases import dead_letters

router = APIRouter(prefix="/api/admin/dead-letters", tags=["admin"])

ACTION_RESPONSES: Responses = {
    **ADMIN_RESPONSES,
    400: {"model": ErrorResponse, "description": "Invalid body (the fields are named)"},
    404: {"model": ErrorResponse, "description": "No such workflow for this tenant"},
    409: {"model": ErrorResponse, "description": "A workflow is not a dead letter"},
}


@router.get(
    "",
    response_model=DeadLetterList,
    responses=ADMIN_RESPONSES,
    summary="The tenant's dead letters, newest first",
)
def list_letters(
    principal: AdminKey,
    session: ReadSession,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> DeadLetterList:
    """Workflows whose transient retries ran out: the error class and reason, how often
    each was re-driven and when the next automatic re-drive is due (null: a person's)."""
    letters = list_dead_letters(session, principal.tenant_id, limit)
    return DeadLetterList(items=[DeadLetterView.model_validate(letter) for letter in letters])


def _act(request: Request, action: Callable[[Session], list[uuid.UUID]]) -> list[uuid.UUID]:
    """The action in one transaction; its refusals as a 404 or a 409, nothing written."""
    try:
        with request.app.state.sessions.begin() as session:
            return action(session)
    except dead_letters.UnknownWorkflows as exc:
        raise ApiError(404, "not_found", str(exc)) from None
    except dead_letters.NotDeadLetter as exc:
        raise ApiError(409, "not_dead_letter", str(exc)) from None


@router.post(
    "/replay",
    status_code=202,
    response_model=DeadLetterReceipt,
    responses=ACTION_RESPONSES,
    summary="Replay dead letters through the same path as any lead (audited)",
)
async def replay(
    body: ReplayRequest, principal: AdminKey, request: Request, background: BackgroundTasks
) -> DeadLetterReceipt:
    """Queue the dead letters given (or all of the tenant's) and ask Dagster for a run; the
    sensor launches it if Dagster does not answer. Drafts, emails and tasks already written
    are found by their idempotency records: a replay never writes one twice."""
    queued = await run_in_threadpool(
        _act,
        request,
        lambda session: dead_letters.replay(
            session,
            None if body.all else body.workflow_ids,
            tenant_id=principal.tenant_id,
            actor=principal.actor,
        ),
    )
    if queued:
        background.add_task(
            request_runs,
            request.app.state.sessions,
            request.app.state.launcher,
            queued,
            {run_tags.TENANT: str(principal.portal_id)},
            trigger="replay",
        )
    return DeadLetterReceipt(workflow_ids=queued, status=WorkflowStatus.QUEUED)


@router.post(
    "/discard",
    response_model=DeadLetterReceipt,
    responses=ACTION_RESPONSES,
    summary="Fail dead letters for good, with the reason (audited)",
)
async def discard(body: DiscardRequest, principal: AdminKey, request: Request) -> DeadLetterReceipt:
    """The dead letters given become failed with the reason; no re-drive follows."""
    discarded = await run_in_threadpool(
        _act,
        request,
        lambda session: dead_letters.discard(
            session,
            body.workflow_ids,
            tenant_id=principal.tenant_id,
            actor=principal.actor,
            reason=body.reason.strip(),
        ),
    )
    return DeadLetterReceipt(workflow_ids=discarded, status=WorkflowStatus.FAILED)
