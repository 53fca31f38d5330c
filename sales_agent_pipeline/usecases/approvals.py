"""Approve and send a DRAFT_ONLY draft: one function for the API and the Dagster job.

The send goes through the pipeline's own pieces: its send policy (`effective_mode` with a
SEND override, so the kill switches and the daily cap refuse exactly as they do in step 11)
and its exactly-once record (`gmail.message.send`, keyed by the workflow), so a re-run of
the workflow, a repeated approve, or an approve after a SEND run never sends twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from sales_agent_pipeline.db.base import utcnow
from sales_agent_pipeline.db.effects import PostgresEffects
from sales_agent_pipeline.db.models import DraftEmail, Tenant, Workflow
from sales_agent_pipeline.db.repositories import audit, outputs
from sales_agent_pipeline.domain.enums import StepStatus, WorkflowMode, WorkflowStatus
from sales_agent_pipeline.domain.errors import ConfigurationError, PermanentError, TransientError
from sales_agent_pipeline.domain.models import SentRef
from sales_agent_pipeline.domain.workflow import MailOutcome
from sales_agent_pipeline.ports.vendors import Mail
from sales_agent_pipeline.settings import Settings
from sales_agent_pipeline.steps.create_gmail_draft import ModePolicy, effective_mode

# The Gmail connector of a draft's tenant (its own credentials and mailbox).
MailFor = Callable[[Tenant], Mail]

# The pipeline's scope for a workflow's one email (steps/create_gmail_draft.py).
SEND_SCOPE = "gmail.message.send"
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


def _check_policy(session: Session, tenant: Tenant, settings: Settings) -> None:
    mode, reason = effective_mode(
        ModePolicy(
            global_mode=settings.workflow_mode,
            global_kill_switch=settings.send_kill_switch,
            tenant_mode=WorkflowMode(tenant.mode) if tenant.mode else None,
            tenant_kill_switch=tenant.send_kill_switch,
            # An approval is an explicit request to send this one email.
            override=WorkflowMode.SEND,
            sent_today=outputs.sent_today(session, tenant.id, utcnow()),
            daily_send_cap=tenant.daily_send_cap,
        )
    )
    if mode is WorkflowMode.SEND:
        return
    kill = settings.send_kill_switch or tenant.send_kill_switch
    raise ApprovalRefused(Refusal.KILL_SWITCH if kill else Refusal.DAILY_CAP, f"not sent: {reason}")


def approve_draft(
    sessions: sessionmaker[Session],
    mail: MailFor,
    settings: Settings,
    *,
    approved_by: str,
    draft_id: uuid.UUID | None = None,
    workflow_id: uuid.UUID | None = None,
    tenant_id: uuid.UUID | None = None,
) -> ApprovalResult:
    """Send the draft (named by its id or its workflow's) once, recording who approved it.

    `mail` gives the Gmail connector of the draft's tenant: the send goes from that
    tenant's mailbox with its credentials, never another's (the API passes its cached
    `vendors.tenant_mail`, the Dagster job its per-tenant resource). An already sent draft is
    answered as it is. The draft row stays locked from the check to the record, so a
    concurrent approve waits and then finds it sent.
    """
    if (draft_id is None) == (workflow_id is None):
        raise ValueError("name the draft by draft_id or by workflow_id")
    statement = (
        select(DraftEmail, Workflow, Tenant)
        .join(Workflow, DraftEmail.workflow_id == Workflow.id)
        .join(Tenant, Workflow.tenant_id == Tenant.id)
        .with_for_update(of=DraftEmail)
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
        if draft.sent:
            return _result(draft, already_sent=True)
        if workflow.status in IN_FLIGHT:
            raise ApprovalRefused(
                Refusal.IN_FLIGHT,
                f"the workflow is {workflow.status}: approve once its run has finished",
            )
        if draft.gmail_draft_id is None:
            raise ApprovalRefused(Refusal.NO_GMAIL_DRAFT, "the draft was never written to Gmail")
        # Approvals of one tenant take turns from here to the record, so two approvals of
        # different drafts cannot both pass a cap with one send left.
        session.execute(select(Tenant.id).where(Tenant.id == tenant.id).with_for_update())
        _check_policy(session, tenant, settings)
        gmail_draft_id, to, key = draft.gmail_draft_id, draft.to_email, str(workflow.id)
        sender = mail(tenant)
        try:
            sent = PostgresEffects(sessions, workflow.id).once(
                SEND_SCOPE,
                key,
                lambda: sender.send_draft(gmail_draft_id),
                model=SentRef,
                recover=lambda: sender.find_sent_by_marker(to, key),
            )
        except (TransientError, ConfigurationError) as exc:
            raise ApprovalRefused(Refusal.GMAIL_UNAVAILABLE, f"Gmail: {exc}") from exc
        except PermanentError as exc:
            # Gmail answers 400 "Invalid draft" for a draft id it no longer has.
            gone = exc.http_status == 404 or (
                exc.http_status == 400 and "invalid draft" in str(exc).lower()
            )
            if gone:
                raise ApprovalRefused(
                    Refusal.NO_GMAIL_DRAFT,
                    "the Gmail draft is gone (deleted or sent from Gmail): retry the workflow",
                ) from exc
            raise ApprovalRefused(Refusal.GMAIL_REFUSED, f"Gmail refused: {exc}") from exc
        outputs.record_mail(
            session,
            workflow.id,
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
            workflow.id,
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
