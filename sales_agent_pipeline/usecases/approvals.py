"""Approve and send a DRAFT_ONLY draft: one function for the API and the Dagster job.

The send goes through the pipeline's own pieces: the send gate (a slot of the tenant's
daily cap, with the kill switches re-read, in one short transaction, as step 11 takes it)
and step 11's send of a draft under its exactly-once record (`gmail.message.send`, keyed
by the workflow), so a re-run of the workflow, a repeated approve, or an approve after a
SEND run never sends twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from tenacity import retry, retry_if_exception_type, stop_after_delay, wait_exponential

from sales_agent_pipeline.db.effects import PostgresEffects
from sales_agent_pipeline.db.models import DraftEmail, Tenant, Workflow
from sales_agent_pipeline.db.repositories import audit, outputs, sends
from sales_agent_pipeline.db.repositories.sends import PostgresSendGate
from sales_agent_pipeline.domain.enums import StepStatus, WorkflowMode, WorkflowStatus
from sales_agent_pipeline.domain.errors import (
    ConfigurationError,
    PermanentError,
    TransientError,
    WriteInProgress,
)
from sales_agent_pipeline.domain.models import DraftRef, SentRef
from sales_agent_pipeline.domain.sending import SendBlock, SendGrant
from sales_agent_pipeline.domain.workflow import MailOutcome
from sales_agent_pipeline.ports.vendors import Mail
from sales_agent_pipeline.settings import Settings
from sales_agent_pipeline.steps.create_gmail_draft import SendRefused, draft_gone, send_draft_once

# The Gmail connector of a draft's tenant (its own credentials) acting for the mailbox the
# draft is in (the workflow's: an owner's under delegation; None: the tenant's sender).
MailFor = Callable[[Tenant, str | None], Mail]

IN_FLIGHT = (
    WorkflowStatus.RECEIVED.value,
    WorkflowStatus.QUEUED.value,
    WorkflowStatus.RUNNING.value,
)


class Refusal(StrEnum):
    """Why an approval did not send."""

    NOT_FOUND = "draft_not_found"
    KILL_SWITCH = "send_kill_switch_on"
    DAILY_CAP = "daily_send_cap_reached"
    IN_FLIGHT = "workflow_in_flight"
    NO_GMAIL_DRAFT = "draft_not_in_gmail"
    GMAIL_REFUSED = "gmail_refused"
    GMAIL_UNAVAILABLE = "gmail_unavailable"
    NOT_ALLOWED = "operator_not_allowed"


class ApprovalRefused(Exception):
    """The draft was not sent; `reason` says why, `message` says it for a person."""

    def __init__(self, reason: Refusal, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class ApprovalResult:
    """The draft's state after the approval."""

    draft_id: uuid.UUID
    workflow_id: uuid.UUID
    sent: bool
    sent_at: datetime | None
    approved_by: str | None
    approved_at: datetime | None
    gmail_message_id: str | None
    already_sent: bool


def _result(draft: DraftEmail, *, already_sent: bool) -> ApprovalResult:
    return ApprovalResult(
        draft_id=draft.id,
        workflow_id=draft.workflow_id,
        sent=draft.sent,
        sent_at=draft.sent_at,
        approved_by=draft.approved_by,
        approved_at=draft.approved_at,
        gmail_message_id=draft.gmail_message_id,
        already_sent=already_sent,
    )


def _refusal(grant: SendGrant) -> ApprovalRefused:
    kill = grant.block is SendBlock.KILL_SWITCH
    return ApprovalRefused(
        Refusal.KILL_SWITCH if kill else Refusal.DAILY_CAP, f"not sent: {grant.reason}"
    )


@dataclass(frozen=True)
class _Pending:
    """What the approval read of the draft before calling Gmail (no lock kept)."""

    draft_id: uuid.UUID
    workflow_id: uuid.UUID
    tenant_id: uuid.UUID
    gmail_draft: DraftRef
    sender: Mail


def _pending(
    sessions: sessionmaker[Session],
    mail: MailFor,
    draft_id: uuid.UUID | None,
    workflow_id: uuid.UUID | None,
    tenant_id: uuid.UUID | None,
    allowed: frozenset[uuid.UUID] | None,
) -> _Pending | ApprovalResult:
    """The draft to send, or its result when it was sent already; refusals raised."""
    statement = (
        select(DraftEmail, Workflow, Tenant)
        .join(Workflow, DraftEmail.workflow_id == Workflow.id)
        .join(Tenant, Workflow.tenant_id == Tenant.id)
    )
    if draft_id is not None:
        statement = statement.where(DraftEmail.id == draft_id)
    else:
        statement = statement.where(DraftEmail.workflow_id == workflow_id)
    if tenant_id is not None:
        statement = statement.where(Workflow.tenant_id == tenant_id)
    with sessions.begin() as session:
        row = session.execute(statement).one_or_none()
        if row is None:
            raise ApprovalRefused(Refusal.NOT_FOUND, "no such draft")
        draft, workflow, tenant = row
        if allowed is not None and tenant.id not in allowed:
            raise ApprovalRefused(
                Refusal.NOT_ALLOWED,
                f"you may not act for portal {tenant.portal_id}: an administrator grants it "
                f"with `sales-agent operator grant YOUR-EMAIL --portal {tenant.portal_id}`",
            )
        if draft.sent:
            return _result(draft, already_sent=True)
        if workflow.status in IN_FLIGHT:
            raise ApprovalRefused(
                Refusal.IN_FLIGHT,
                f"the workflow is {workflow.status}: approve once its run has finished",
            )
        if draft.gmail_draft_id is None:
            raise ApprovalRefused(Refusal.NO_GMAIL_DRAFT, "the draft was never written to Gmail")
        return _Pending(
            draft_id=draft.id,
            workflow_id=workflow.id,
            tenant_id=tenant.id,
            gmail_draft=DraftRef(
                draft_id=draft.gmail_draft_id,
                message_id=draft.gmail_message_id or "",
                thread_id=draft.gmail_thread_id or "",
            ),
            sender=mail(tenant, workflow.mailbox),
        )


# Another approval of the same draft is sending it: wait for its answer, then report it.
_wait_for_other_send = retry(
    retry=retry_if_exception_type(WriteInProgress),
    wait=wait_exponential(multiplier=0.1, max=2),
    stop=stop_after_delay(20),
    reraise=True,
)


def _send(sessions: sessionmaker[Session], settings: Settings, pending: _Pending) -> SentRef:
    """Take a slot in the gate's short transaction, then send the draft once (no lock held
    across Gmail); the slot returns when nothing was sent."""
    gate = PostgresSendGate(sessions, settings)
    grant = gate.reserve(pending.tenant_id, pending.workflow_id, approved=True)
    if not grant.granted and not grant.held:
        raise _refusal(grant)
    effects = PostgresEffects(sessions, pending.workflow_id)
    marker = str(pending.workflow_id)
    try:
        return _wait_for_other_send(send_draft_once)(
            pending.sender,
            effects,
            pending.gmail_draft,
            marker,
            refused=None if grant.granted else grant.reason,
        )
    except WriteInProgress as exc:
        raise ApprovalRefused(
            Refusal.IN_FLIGHT, "another approval of this draft is still sending it"
        ) from exc
    except (TransientError, ConfigurationError) as exc:
        # The send may have reached Gmail: the slot stays until a retry resolves it.
        raise ApprovalRefused(Refusal.GMAIL_UNAVAILABLE, f"Gmail: {exc}") from exc
    except PermanentError as exc:
        gate.release(pending.workflow_id)
        if isinstance(exc, SendRefused):
            raise _refusal(grant) from exc
        if draft_gone(exc):
            raise ApprovalRefused(
                Refusal.NO_GMAIL_DRAFT,
                "the Gmail draft is gone (deleted or sent from Gmail): retry the workflow",
            ) from exc
        raise ApprovalRefused(Refusal.GMAIL_REFUSED, f"Gmail refused: {exc}") from exc


def _record(
    sessions: sessionmaker[Session], pending: _Pending, sent: SentRef, approved_by: str
) -> ApprovalResult:
    """Record the send, its slot used and who approved it; a concurrent approval that
    recorded it first makes this one report it as already sent."""
    with sessions.begin() as session:
        draft = session.execute(
            select(DraftEmail).where(DraftEmail.id == pending.draft_id).with_for_update()
        ).scalar_one()
        sends.mark_sent(session, pending.workflow_id)
        if draft.sent:
            return _result(draft, already_sent=True)
        outputs.record_mail(
            session,
            pending.workflow_id,
            MailOutcome(
                mode=WorkflowMode.SEND,
                message_id=sent.message_id,
                thread_id=sent.thread_id,
                sent=True,
            ),
        )
        draft.approved_by = approved_by
        draft.approved_at = draft.sent_at
        audit.record_event(
            session,
            pending.workflow_id,
            event_type="draft_approved",
            status=StepStatus.SUCCEEDED,
            details={
                "approved_by": approved_by,
                "draft_id": str(draft.id),
                "gmail_message_id": sent.message_id,
            },
        )
        session.flush()
        return _result(draft, already_sent=False)


def approve_draft(
    sessions: sessionmaker[Session],
    mail: MailFor,
    settings: Settings,
    *,
    approved_by: str,
    draft_id: uuid.UUID | None = None,
    workflow_id: uuid.UUID | None = None,
    tenant_id: uuid.UUID | None = None,
    allowed_tenants: frozenset[uuid.UUID] | None = None,
) -> ApprovalResult:
    """Send the draft (named by its id or its workflow's) once, recording who approved it.

    `mail` gives the Gmail connector of the draft's tenant: the send goes from that
    tenant's mailbox with its credentials, never another's (the API passes its cached
    `vendors.tenant_mail`, the Dagster job its per-tenant resource). An already sent draft is
    answered as it is; a draft of a tenant outside `allowed_tenants` (when given: the
    signed-in operator's grants) is refused before anything else. Three short transactions,
    none open during the Gmail call: read the draft, take the send slot (the kill switches
    and the cap re-checked there), record.
    """
    if (draft_id is None) == (workflow_id is None):
        raise ValueError("name the draft by draft_id or by workflow_id")
    pending = _pending(sessions, mail, draft_id, workflow_id, tenant_id, allowed_tenants)
    if isinstance(pending, ApprovalResult):
        return pending
    sent = _send(sessions, settings, pending)
    return _record(sessions, pending, sent, approved_by)
