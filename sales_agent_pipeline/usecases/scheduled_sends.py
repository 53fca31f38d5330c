"""Send what is due: each scheduled send claimed by one run, sent exactly once.

The send is step 11's own: the send gate (a slot of the tenant's daily cap, the kill
switches and the mode re-read in one short transaction) and `send_draft_once` under the
workflow's record (scope gmail.message.send, keyed by the workflow), so a re-run of the
workflow, an approval, a second run or a retry after a crash can never send it twice.

Just before Gmail is asked, the lead is checked again: suppressed (an unsubscribe, a
bounce, an opt-out, by hand) or stopped (a reply) cancels the send with why.

What the gate refuses, and what becomes of the row:
- the tenant's daily cap: rescheduled to the first moment of the window after the cap's
  day ends (it goes out the next working day, never lost);
- a kill switch, or a mode no longer SEND: failed with the reason; the draft stays in
  Gmail for a person to send or approve (the kill switch is an emergency stop: mail
  queued behind it is not let out by switching it off);
- anything else the gate names (a suppression, a stop): cancelled with the reason.
Gmail unavailable: back to scheduled a little later (a few attempts, then failed).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from sales_agent_pipeline.db.base import utcnow
from sales_agent_pipeline.db.effects import PostgresEffects, effect_policy
from sales_agent_pipeline.db.models import DraftEmail, Tenant, Workflow
from sales_agent_pipeline.db.repositories import (
    outputs,
    scheduled_sends,
    sends,
    suppressions,
)
from sales_agent_pipeline.db.repositories.scheduled_sends import ScheduledSendView
from sales_agent_pipeline.db.repositories.sends import PostgresSendGate
from sales_agent_pipeline.domain.enums import StepStatus, WorkflowMode
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
from sales_agent_pipeline.usecases.scheduled_send_rows import (
    SENT_EVENT,
    DueSendResult,
    Outcome,
    RowKeeper,
)

# (tenant id, mailbox) -> Gmail acting for that mailbox with the tenant's credentials (None:
# the tenant's own sender, as step 11 asks for it).
MailFor = Callable[[uuid.UUID, str | None], Mail]
# The mailbox step 11 names when neither an owner nor a sender is known.
UNNAMED_MAILBOX = "me"

# A row `sending` for longer than this belongs to a run that died: it is sent again (the
# idempotency record resolves whether the dead run's send reached Gmail).
STALE_SENDING = timedelta(minutes=10)
# Gmail unavailable: tried again after 1, 2, 4, 8 minutes, then failed.
MAX_ATTEMPTS = 5
RETRY_AFTER = timedelta(minutes=1)
# Another attempt holds the send's record (a re-run's step 11, an approval): look again then.
BUSY_AFTER = timedelta(minutes=1)
# Rows claimed per transaction: a slow run's claimed rows wait at most this many sends.
CLAIM_CHUNK = 10


@dataclass(frozen=True)
class _Sender(RowKeeper):
    """What one send needs around it: the rows' keeper, Gmail, the record's lease owner."""

    mail_for: MailFor
    owner: str | None


def _why_not(session: Session, row: ScheduledSendView) -> str | None:
    """Why the lead may no longer be mailed (stopped, suppressed), else None."""
    workflow = session.get(Workflow, row.workflow_id)
    if workflow is None:
        return "its workflow is gone"
    if workflow.stopped_reason:
        return f"stopped: {workflow.stopped_reason}"
    if workflow.suppressed_reason:
        return workflow.suppressed_reason
    found = suppressions.find(session, row.tenant_id, row.to_email)
    return found.label if found is not None else None


def _acting_for(session: Session, settings: Settings, row: ScheduledSendView) -> str | None:
    """The mailbox to send from as step 11 drafted in it: None for the tenant's own
    sender (its credentials as they are), else the owner's mailbox (delegation)."""
    own = session.scalar(select(Tenant.sender_email).where(Tenant.id == row.tenant_id))
    sender = (own or settings.resolved_sender_email or "").strip().lower()
    return None if row.mailbox in (sender, UNNAMED_MAILBOX) else row.mailbox


def _refused(sender: _Sender, row: ScheduledSendView, grant: SendGrant) -> DueSendResult:
    """What a refusal of the gate makes of the row (see the module's docstring)."""
    reason = grant.reason or "the send gate refused it"
    if grant.block is SendBlock.DAILY_CAP:
        # The gate's day is UTC's: the cap frees up at the next UTC midnight.
        tomorrow = (sender.now().astimezone(UTC) + timedelta(days=1)).replace(
            hour=0, minute=0, second=0, microsecond=0
        )
        return sender.reschedule(row, sender.next_window(row, tomorrow), reason)
    if grant.block in (SendBlock.KILL_SWITCH, SendBlock.MODE):
        return sender.fail(row, f"not sent: {reason}; the draft stays in Gmail for a person")
    return sender.cancel(row, reason)


def _record(sender: _Sender, row: ScheduledSendView, sent: SentRef) -> DueSendResult:
    """Record the send: the row, the draft, the slot, the workflow's trail."""
    with sender.sessions.begin() as session:
        draft = session.execute(
            select(DraftEmail).where(DraftEmail.workflow_id == row.workflow_id).with_for_update()
        ).scalar_one_or_none()
        sends.mark_sent(session, row.workflow_id)
        already = draft is not None and draft.sent
        outputs.record_mail(
            session,
            row.workflow_id,
            MailOutcome(
                mode=WorkflowMode.SEND,
                message_id=sent.message_id,
                thread_id=sent.thread_id,
                sent=True,
            ),
        )
        sent_at = (draft.sent_at if draft is not None else None) or sender.now()
        scheduled_sends.mark_sent(
            session,
            row.workflow_id,
            sent_at,
            message_id=sent.message_id or None,
            thread_id=sent.thread_id or None,
        )
        if not already:
            sender.event(
                session,
                row,
                SENT_EVENT,
                StepStatus.SUCCEEDED,
                sent_at=sent_at.isoformat(),
                gmail_message_id=sent.message_id,
            )
    return sender.result(
        row,
        Outcome.ALREADY_SENT if already else Outcome.SENT,
        sent_at=sent_at,
        gmail_message_id=sent.message_id,
    )


def send_claimed(
    sessions: sessionmaker[Session],
    settings: Settings,
    mail_for: MailFor,
    row: ScheduledSendView,
    *,
    now: Callable[[], datetime] = utcnow,
    owner: str | None = None,
    run_id: str | None = None,
) -> DueSendResult:
    """Send one row this caller claimed (scheduled_sends.claim_due) exactly once, or say
    why not; the row is updated either way."""
    return _send_one(_Sender(sessions, settings, now, run_id, mail_for, owner), row)


def _send_one(sender: _Sender, row: ScheduledSendView) -> DueSendResult:
    with sender.sessions.begin() as session:
        draft = outputs.get_draft(session, row.workflow_id)
        if draft is not None and draft.sent:
            # Sent by another path (an approval, a re-run in a window): recorded as such.
            scheduled_sends.mark_sent(session, row.workflow_id, draft.sent_at or sender.now())
            return sender.result(
                row,
                Outcome.ALREADY_SENT,
                sent_at=draft.sent_at,
                gmail_message_id=draft.gmail_message_id,
            )
        why = _why_not(session, row)
        acting = _acting_for(session, sender.settings, row)
    if why is not None:
        return sender.cancel(row, why)
    gate = PostgresSendGate(sender.sessions, sender.settings, sender.now)
    grant = gate.reserve(row.tenant_id, row.workflow_id)
    if not grant.granted and not grant.held:
        return _refused(sender, row, grant)
    effects = PostgresEffects(
        sender.sessions,
        row.workflow_id,
        owner=sender.owner,
        policy=effect_policy(sender.settings),
    )
    draft_ref = DraftRef(
        draft_id=row.gmail_draft_id,
        message_id=row.gmail_message_id or "",
        thread_id=row.gmail_thread_id or "",
    )
    try:
        sent = send_draft_once(
            sender.mail_for(row.tenant_id, acting),
            effects,
            draft_ref,
            str(row.workflow_id),
            refused=None if grant.granted else grant.reason,
        )
    except WriteInProgress:
        # Another attempt holds the record: its answer settles it; this row looks again.
        return sender.reschedule(
            row, sender.now() + BUSY_AFTER, "another attempt is sending it: looked at again"
        )
    except (TransientError, ConfigurationError) as exc:
        # The send may have reached Gmail: the slot stays until a retry resolves it.
        if row.attempts >= MAX_ATTEMPTS:
            return sender.fail(row, f"Gmail unavailable after {row.attempts} attempts: {exc}")
        wait = RETRY_AFTER * (2 ** (row.attempts - 1))
        return sender.reschedule(row, sender.now() + wait, f"Gmail unavailable: {exc}")
    except PermanentError as exc:
        gate.release(row.workflow_id)
        if isinstance(exc, SendRefused):
            return _refused(sender, row, grant)
        if draft_gone(exc):
            return sender.fail(
                row,
                "the Gmail draft is gone (deleted, or sent by a person from Gmail) and no "
                "sent copy was found: nothing sent",
            )
        return sender.fail(row, f"Gmail refused: {exc}")
    return _record(sender, row, sent)


def send_due(
    sessions: sessionmaker[Session],
    settings: Settings,
    mail_for: MailFor,
    *,
    tenant_id: uuid.UUID | None = None,
    limit: int = 200,
    now: Callable[[], datetime] = utcnow,
    owner: str | None = None,
    run_id: str | None = None,
    on_result: Callable[[DueSendResult], None] | None = None,
) -> list[DueSendResult]:
    """Send what is due (of one tenant, or of all): first rows a dead run left `sending`
    go back to scheduled, then due rows are claimed a few at a time (SKIP LOCKED, so a
    concurrent run takes others) and each is sent once. At most `limit` rows per call."""
    sender = _Sender(sessions, settings, now, run_id, mail_for, owner)
    with sessions.begin() as session:
        scheduled_sends.recover_stale(session, now() - STALE_SENDING, tenant_id)
    results: list[DueSendResult] = []
    while len(results) < limit:
        with sessions.begin() as session:
            claimed = scheduled_sends.claim_due(
                session,
                now(),
                min(CLAIM_CHUNK, limit - len(results)),
                tenant_id=tenant_id,
                run_id=run_id,
            )
        if not claimed:
            break
        for index, row in enumerate(claimed):
            try:
                result = _send_one(sender, row)
            except BaseException:
                # The rest of the claim goes back as it was, for the next run; this row
                # too, unless its send settled it (the record makes a retry safe).
                with sessions.begin() as session:
                    for left in claimed[index:]:
                        scheduled_sends.release(session, left.workflow_id, left.due_at)
                raise
            results.append(result)
            if on_result is not None:
                on_result(result)
    return results
