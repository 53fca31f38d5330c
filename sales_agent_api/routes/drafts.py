"""GET /api/drafts, one draft in full; POST /api/drafts/{id}/approve sends it (admin);
PATCH /api/drafts/{id} edits it and POST /api/drafts/{id}/regenerate rewrites it (admin)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool

from sales_agent_api.auth import ADMIN_RESPONSES, AUTH_RESPONSES, AdminKey, CurrentKey
from sales_agent_api.deps import ReadSession, Responses
from sales_agent_api.errors import ApiError, ErrorResponse
from sales_agent_api.mailboxes import TenantMailboxes
from sales_agent_api.pagination import DEFAULT_LIMIT, Cursor, Limit, decode_cursor, encode_cursor
from sales_agent_api.redaction import redact_draft, sources_for
from sales_agent_api.schemas.workflows import (
    Approval,
    Draft,
    DraftEdit,
    DraftPage,
    DraftRevision,
    DraftRevisions,
    DraftSummary,
    ScheduledSendInfo,
)
from sales_agent_pipeline.db.repositories import browse, scheduled_sends
from sales_agent_pipeline.db.repositories.draft_revisions import list_revisions
from sales_agent_pipeline.domain.drafting import WriterKind
from sales_agent_pipeline.domain.errors import ConfigurationError
from sales_agent_pipeline.usecases.approvals import ApprovalRefused, Refusal, approve_draft
from sales_agent_pipeline.usecases.draft_edits import (
    Actor,
    EditRefusal,
    EditRefused,
    edit_draft,
    regenerate_draft,
)

router = APIRouter(prefix="/api/drafts", tags=["drafts"])

NOT_FOUND: Responses = {
    404: {"model": ErrorResponse, "description": "No such draft for this tenant"}
}
BAD_REQUEST: Responses = {400: {"model": ErrorResponse, "description": "Invalid parameter (named)"}}
# Refusals the operator can act on are 409; Gmail's own trouble is a bad gateway.
STATUS = {
    Refusal.KILL_SWITCH: 409,
    Refusal.DAILY_CAP: 409,
    Refusal.IN_FLIGHT: 409,
    Refusal.NO_GMAIL_DRAFT: 409,
    Refusal.GMAIL_REFUSED: 502,
    Refusal.GMAIL_UNAVAILABLE: 503,
    Refusal.NOT_ALLOWED: 403,
}


@router.get(
    "",
    response_model=DraftPage,
    responses={**AUTH_RESPONSES, **BAD_REQUEST},
    summary="List drafts, newest first",
)
def list_drafts(
    principal: CurrentKey,
    session: ReadSession,
    sent: Annotated[bool | None, Query(description="only sent (true) or unsent (false)")] = None,
    cursor: Cursor = None,
    limit: Limit = DEFAULT_LIMIT,
) -> DraftPage:
    """The tenant's follow-up emails, newest first, one page at a time."""
    rows, more = browse.list_drafts(
        session, principal.tenant_id, sent=sent, after=decode_cursor(cursor), limit=limit
    )
    last = rows[-1] if rows and more else None
    items = [DraftSummary.model_validate(row) for row in rows]
    if not principal.is_admin:
        sources = sources_for(session, [item.workflow_id for item in items])
        items = [redact_draft(item, sources.get(item.workflow_id, [])) for item in items]
    return DraftPage(
        items=items,
        next_cursor=encode_cursor(last.created_at, last.id) if last else None,
    )


@router.get(
    "/{draft_id}",
    response_model=Draft,
    responses={**AUTH_RESPONSES, **BAD_REQUEST, **NOT_FOUND},
    summary="One draft in full",
)
def get_draft(draft_id: uuid.UUID, principal: CurrentKey, session: ReadSession) -> Draft:
    """Content (text and HTML), assets, recipient, mode, sent or not, approved by and when;
    why it was not sent (suppressed_reason) and its scheduled send, if any.

    A standard key sees quotes of the prospect's mailbox (a "Re:" subject, a quoted line)
    hidden; an admin key sees the draft as written."""
    draft = browse.get_draft(session, principal.tenant_id, draft_id)
    if draft is None:
        raise ApiError(404, "not_found", f"no draft {draft_id}")
    view = Draft.model_validate(draft)
    scheduled = scheduled_sends.get(session, draft.workflow_id)
    if scheduled is not None:
        view = view.model_copy(
            update={"scheduled_send": ScheduledSendInfo.model_validate(scheduled)}
        )
    if principal.is_admin:
        return view
    return redact_draft(view, sources_for(session, [view.workflow_id]).get(view.workflow_id, []))


def _approve(request: Request, principal: AdminKey, draft_id: uuid.UUID) -> Approval:
    mailboxes: TenantMailboxes = request.app.state.mailboxes
    try:
        # The send goes from the key's tenant's own mailbox, with its own credentials.
        result = approve_draft(
            request.app.state.sessions,
            mailboxes,
            request.app.state.settings,
            approved_by=principal.actor,
            draft_id=draft_id,
            tenant_id=principal.tenant_id,
        )
    except ConfigurationError as exc:
        raise ApiError(503, "gmail_not_configured", str(exc)) from None
    except ApprovalRefused as exc:
        if exc.reason is Refusal.NOT_FOUND:
            raise ApiError(404, "not_found", f"no draft {draft_id}") from None
        raise ApiError(STATUS[exc.reason], exc.reason.value, exc.message) from None
    finally:
        mailboxes.record_usage(principal.tenant_id)
    return Approval(
        draft_id=result.draft_id,
        workflow_id=result.workflow_id,
        sent=result.sent,
        sent_at=result.sent_at,
        approved_by=result.approved_by,
        approved_at=result.approved_at,
        gmail_message_id=result.gmail_message_id,
        already_sent=result.already_sent,
    )


@router.post(
    "/{draft_id}/approve",
    response_model=Approval,
    responses={
        **ADMIN_RESPONSES,
        **BAD_REQUEST,
        **NOT_FOUND,
        409: {
            "model": ErrorResponse,
            "description": "Refused: kill switch on, daily cap reached, workflow still "
            "running, or no Gmail draft",
        },
        502: {"model": ErrorResponse, "description": "Gmail refused the send"},
        503: {"model": ErrorResponse, "description": "Gmail unavailable or not configured"},
    },
    summary="Approve a DRAFT_ONLY draft and send it (admin key)",
)
async def approve(draft_id: uuid.UUID, principal: AdminKey, request: Request) -> Approval:
    """Send the Gmail draft once and record who approved it; a repeat answers the sent state."""
    # The Gmail SDK blocks: the send runs in the threadpool.
    return await run_in_threadpool(_approve, request, principal, draft_id)


EDIT_STATUS = {
    EditRefusal.SENT: 409,
    EditRefusal.IN_FLIGHT: 409,
    EditRefusal.NO_GMAIL_DRAFT: 409,
    EditRefusal.NO_INPUTS: 409,
    EditRefusal.SUBJECT_LEAVES_THREAD: 409,
    EditRefusal.CONFLICT: 409,
    EditRefusal.GMAIL_REFUSED: 502,
    EditRefusal.GMAIL_UNAVAILABLE: 503,
}
EDIT_RESPONSES: Responses = {
    **ADMIN_RESPONSES,
    **BAD_REQUEST,
    **NOT_FOUND,
    409: {
        "model": ErrorResponse,
        "description": "Refused: the draft was sent, its workflow is still running, it has no "
        "Gmail draft (or no step outputs to write from), it changed meanwhile, or a new "
        "subject would move a reply out of the prospect's thread",
    },
    502: {"model": ErrorResponse, "description": "Gmail refused the update"},
    503: {"model": ErrorResponse, "description": "Gmail unavailable or not configured"},
}

# An edit or a regeneration, given the tenant's mailboxes and who asks.
Change = Callable[[TenantMailboxes, Actor], None]


def _draft_view(request: Request, tenant_id: uuid.UUID, draft_id: uuid.UUID) -> Draft:
    # A session of its own: the change committed after the request's session began.
    with request.app.state.sessions() as session:
        draft = browse.get_draft(session, tenant_id, draft_id)
        if draft is None:
            raise ApiError(404, "not_found", f"no draft {draft_id}")
        return Draft.model_validate(draft)


def _change(request: Request, principal: AdminKey, draft_id: uuid.UUID, change: Change) -> Draft:
    """Run an edit or a regeneration; its refusals in the API's shape; the draft after."""
    mailboxes: TenantMailboxes = request.app.state.mailboxes
    try:
        change(mailboxes, Actor(principal.actor, principal.key_id))
    except ConfigurationError as exc:
        raise ApiError(503, "gmail_not_configured", str(exc)) from None
    except EditRefused as exc:
        if exc.reason is EditRefusal.NOT_FOUND:
            raise ApiError(404, "not_found", f"no draft {draft_id}") from None
        raise ApiError(EDIT_STATUS[exc.reason], exc.reason.value, exc.message) from None
    finally:
        mailboxes.record_usage(principal.tenant_id)
    return _draft_view(request, principal.tenant_id, draft_id)


@router.patch(
    "/{draft_id}",
    response_model=Draft,
    responses=EDIT_RESPONSES,
    summary="Edit an unsent draft's subject and/or body, in Gmail too (admin key)",
)
async def edit(
    draft_id: uuid.UUID, changes: DraftEdit, principal: AdminKey, request: Request
) -> Draft:
    """Update the Gmail draft in place (same draft, thread and reply headers), then record
    the new text, who and when; an edit equal to the stored text changes nothing."""

    def change(mailboxes: TenantMailboxes, actor: Actor) -> None:
        edit_draft(
            request.app.state.sessions,
            mailboxes,
            tenant_id=principal.tenant_id,
            draft_id=draft_id,
            actor=actor,
            subject=changes.subject,
            body=changes.body,
        )

    # The Gmail SDK blocks: the update runs in the threadpool.
    return await run_in_threadpool(_change, request, principal, draft_id, change)


@router.post(
    "/{draft_id}/regenerate",
    response_model=Draft,
    responses=EDIT_RESPONSES,
    summary="Write an unsent draft again, into the same Gmail draft (admin key)",
)
async def regenerate(
    draft_id: uuid.UUID,
    principal: AdminKey,
    request: Request,
    writer: Annotated[
        WriterKind | None, Query(description="this once: template, openai or anthropic")
    ] = None,
) -> Draft:
    """Write the draft from the workflow's own step outputs with the tenant's writer (or
    `writer`), update the Gmail draft in place and record the provenance and who asked."""

    def change(mailboxes: TenantMailboxes, actor: Actor) -> None:
        regenerate_draft(
            request.app.state.engine,
            request.app.state.sessions,
            mailboxes,
            request.app.state.settings,
            tenant_id=principal.tenant_id,
            draft_id=draft_id,
            actor=actor,
            writer=writer,
        )

    # The model and Gmail SDKs block: the work runs in the threadpool.
    return await run_in_threadpool(_change, request, principal, draft_id, change)


@router.get(
    "/{draft_id}/revisions",
    response_model=DraftRevisions,
    responses={**ADMIN_RESPONSES, **BAD_REQUEST, **NOT_FOUND},
    summary="A draft's edits and regenerations, newest first (admin key)",
)
def revisions(draft_id: uuid.UUID, principal: AdminKey, session: ReadSession) -> DraftRevisions:
    """Who changed the draft, when, and its text before and after (the last 100)."""
    if browse.get_draft(session, principal.tenant_id, draft_id) is None:
        raise ApiError(404, "not_found", f"no draft {draft_id}")
    return DraftRevisions(
        items=[DraftRevision.model_validate(row) for row in list_revisions(session, draft_id)]
    )
