"""GET /api/workflows (filters, cursor pages), one workflow, its trail; POST .../retry."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Query, Request
from fastapi.concurrency import run_in_threadpool

from sales_agent_api.auth import AUTH_RESPONSES, CurrentKey, Principal
from sales_agent_api.deps import ReadSession, Responses
from sales_agent_api.errors import ApiError, ErrorResponse
from sales_agent_api.launch import request_runs
from sales_agent_api.pagination import DEFAULT_LIMIT, Cursor, Limit, decode_cursor, encode_cursor
from sales_agent_api.redaction import redact_draft, redact_trail, sources_for
from sales_agent_api.schemas.workflows import (
    Draft,
    Event,
    RetryReceipt,
    ScheduledSendInfo,
    StepError,
    Submission,
    Task,
    Trail,
    WorkflowDetail,
    WorkflowPage,
    WorkflowSummary,
)
from sales_agent_pipeline import run_tags
from sales_agent_pipeline.db.repositories import browse, scheduled_sends
from sales_agent_pipeline.db.repositories.synthetic import synthetic_among
from sales_agent_pipeline.domain.enums import WorkflowStatus
from sales_agent_pipeline.usecases.retries import RetryRefused, requeue_workflow

router = APIRouter(prefix="/api/workflows", tags=["workflows"])

NOT_FOUND: Responses = {
    404: {"model": ErrorResponse, "description": "No such workflow for this tenant"}
}
BAD_REQUEST: Responses = {400: {"model": ErrorResponse, "description": "Invalid parameter (named)"}}


def _not_found(workflow_id: uuid.UUID) -> ApiError:
    return ApiError(404, "not_found", f"no workflow {workflow_id}")


@router.get(
    "",
    response_model=WorkflowPage,
    responses={**AUTH_RESPONSES, **BAD_REQUEST},
    summary="List workflows, newest first",
)
def list_workflows(
    principal: CurrentKey,
    session: ReadSession,
    status: Annotated[WorkflowStatus | None, Query(description="only this status")] = None,
    created_from: Annotated[
        datetime | None, Query(description="created at or after (ISO 8601 with offset)")
    ] = None,
    created_to: Annotated[datetime | None, Query(description="created before")] = None,
    email: Annotated[str | None, Query(max_length=320, description="prospect email")] = None,
    domain: Annotated[str | None, Query(max_length=255, description="prospect domain")] = None,
    synthetic: Annotated[
        bool, Query(description="the synthetic canary's workflows instead of the others")
    ] = False,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> WorkflowPage:
    """The tenant's workflows, newest first, one page at a time."""
    for name, value in (("created_from", created_from), ("created_to", created_to)):
        if value is not None and value.tzinfo is None:
            raise ApiError(
                400, "invalid_request", f"{name}: give a time zone offset (e.g. Z)", [name]
            )
    rows, more = browse.list_workflows(
        session,
        principal.tenant_id,
        browse.WorkflowFilter(
            status=status.value if status else None,
            created_from=created_from,
            created_to=created_to,
            email=email,
            domain=domain,
            synthetic=synthetic,
        ),
        after=decode_cursor(cursor),
        limit=limit,
    )
    last = rows[-1] if rows and more else None
    return WorkflowPage(
        items=[WorkflowSummary.model_validate(row) for row in rows],
        next_cursor=encode_cursor(last.created_at, last.id) if last else None,
    )


@router.get(
    "/{workflow_id}",
    response_model=WorkflowDetail,
    responses={**AUTH_RESPONSES, **BAD_REQUEST, **NOT_FOUND},
    summary="One workflow with its submission, draft and task",
)
def get_workflow(
    workflow_id: uuid.UUID, principal: CurrentKey, session: ReadSession
) -> WorkflowDetail:
    """The workflow, its submission, its draft, its HubSpot task and its scheduled send;
    why it was not mailed (suppressed_reason) or stopped (stopped_reason, stopped_at)."""
    found = browse.get_workflow(session, principal.tenant_id, workflow_id)
    if found is None:
        raise _not_found(workflow_id)
    summary = WorkflowSummary.model_validate(found.workflow)
    draft = Draft.model_validate(found.draft) if found.draft else None
    if draft is not None and not principal.is_admin:
        draft = redact_draft(draft, sources_for(session, [workflow_id]).get(workflow_id, []))
    return WorkflowDetail(
        **summary.model_dump(),
        submission=Submission.model_validate(found.submission),
        draft=draft,
        task=Task.model_validate(found.task) if found.task else None,
        scheduled_send=_scheduled(scheduled_sends.get(session, workflow_id)),
    )


def _scheduled(found: scheduled_sends.ScheduledSendView | None) -> ScheduledSendInfo | None:
    return ScheduledSendInfo.model_validate(found) if found is not None else None


@router.get(
    "/{workflow_id}/events",
    response_model=Trail,
    responses={**AUTH_RESPONSES, **BAD_REQUEST, **NOT_FOUND},
    summary="A workflow's audit trail and errors, in order",
)
def get_trail(workflow_id: uuid.UUID, principal: CurrentKey, session: ReadSession) -> Trail:
    """Every event (step outcomes, retries, approvals) and every error, as written.

    A standard key sees ids, counts and our own texts: text read from the prospect's
    mailbox (thread snippets, subject, last message, and quotes of them) is hidden."""
    if browse.get_workflow(session, principal.tenant_id, workflow_id) is None:
        raise _not_found(workflow_id)
    events, errors = browse.workflow_trail(session, workflow_id)
    trail = Trail(
        workflow_id=workflow_id,
        events=[Event.model_validate(event) for event in events],
        errors=[StepError.model_validate(error) for error in errors],
    )
    return trail if principal.is_admin else redact_trail(trail)


def _requeue(
    request: Request, principal: Principal, workflow_id: uuid.UUID
) -> tuple[WorkflowStatus, bool]:
    """The workflow's status once queued again, and whether it is a synthetic canary's."""
    try:
        status = requeue_workflow(
            request.app.state.sessions,
            request.app.state.settings,
            principal.tenant_id,
            workflow_id,
            actor=principal.actor,
        )
    except RetryRefused as exc:
        raise ApiError(409, "not_retryable", str(exc)) from None
    if status is None:
        raise _not_found(workflow_id)
    with request.app.state.sessions() as session:
        synthetic = bool(synthetic_among(session, [workflow_id]))
    return status, synthetic


@router.post(
    "/{workflow_id}/retry",
    status_code=202,
    response_model=RetryReceipt,
    responses={
        **AUTH_RESPONSES,
        **BAD_REQUEST,
        **NOT_FOUND,
        409: {"model": ErrorResponse, "description": "Not failed or stuck: not retryable"},
    },
    summary="Re-run a failed (or stuck) workflow",
)
async def retry_workflow(
    workflow_id: uuid.UUID, principal: CurrentKey, request: Request, background: BackgroundTasks
) -> RetryReceipt:
    """Queue the workflow again and ask Dagster for a run (the sensor covers if it is down).

    The new run claims the workflow; drafts, emails and tasks already written are found by
    their idempotency records, so a retry never duplicates them.
    """
    status, synthetic = await run_in_threadpool(_requeue, request, principal, workflow_id)
    tags = {run_tags.TENANT: str(principal.portal_id)}
    if synthetic:
        # A canary's re-run is tagged like its first (filtered in the UI, metered nowhere).
        tags[run_tags.SYNTHETIC] = "true"
    background.add_task(
        request_runs,
        request.app.state.sessions,
        request.app.state.launcher,
        [workflow_id],
        tags,
        trigger="retry",
    )
    return RetryReceipt(workflow_id=workflow_id, status=status)
