"""Scheduled sends: a SEND lead's drafted email waiting for its window (scheduled_sends).

One row per workflow (its primary key), so a workflow is never scheduled twice. The row
moves scheduled -> sending (claimed by one run, SKIP LOCKED) -> sent, or back to scheduled
(a transient error, a run that died), or ends cancelled (a reply, an unsubscribe, a
suppression, a stop) or failed (nothing will send it: the draft stays for a person).
Repositories never commit: the caller owns the transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from sales_agent_pipeline.db.models import DraftEmail, ScheduledSend, Tenant, Workflow
from sales_agent_pipeline.domain.compliance import ScheduledSendStatus, normalise_address

SCHEDULED = ScheduledSendStatus.SCHEDULED.value
SENDING = ScheduledSendStatus.SENDING.value
SENT = ScheduledSendStatus.SENT.value
CANCELLED = ScheduledSendStatus.CANCELLED.value
FAILED = ScheduledSendStatus.FAILED.value
# A row a re-run of its workflow may schedule afresh: nothing will send it as it is.
ENDED_UNSENT = (CANCELLED, FAILED)


@dataclass(frozen=True)
class ScheduledSendView:
    """A scheduled send as the API, the step and the send's run read it."""

    workflow_id: uuid.UUID
    tenant_id: uuid.UUID
    mailbox: str
    to_email: str
    gmail_draft_id: str
    gmail_message_id: str | None
    gmail_thread_id: str | None
    due_at: datetime
    time_zone: str
    zone_of: str
    status: ScheduledSendStatus
    reason: str | None
    attempts: int
    dagster_run_id: str | None
    sent_at: datetime | None

    @classmethod
    def of(cls, row: ScheduledSend) -> ScheduledSendView:
        """The row, detached from the session."""
        return cls(
            workflow_id=row.workflow_id,
            tenant_id=row.tenant_id,
            mailbox=row.mailbox,
            to_email=row.to_email,
            gmail_draft_id=row.gmail_draft_id,
            gmail_message_id=row.gmail_message_id,
            gmail_thread_id=row.gmail_thread_id,
            due_at=row.due_at,
            time_zone=row.time_zone,
            zone_of=row.zone_of,
            status=ScheduledSendStatus(row.status),
            reason=row.reason,
            attempts=row.attempts,
            dagster_run_id=row.dagster_run_id,
            sent_at=row.sent_at,
        )


def schedule(
    session: Session,
    *,
    workflow_id: uuid.UUID,
    tenant_id: uuid.UUID,
    mailbox: str,
    to_email: str,
    draft_id: str,
    message_id: str | None,
    thread_id: str | None,
    due_at: datetime,
    time_zone: str,
    zone_of: str,
) -> ScheduledSendView:
    """Schedule the workflow's draft for `due_at`; what stands afterwards is returned.

    Idempotent per workflow (a re-run of step 11): a row still scheduled keeps its due time
    and takes the re-run's draft ids (an updated or re-written draft); a row being sent or
    sent is left as it is (never sent twice); a cancelled or failed one is scheduled afresh
    (the send re-checks suppression and stops before it goes, so a reply or an unsubscribe
    still wins).
    """
    fresh = {
        "tenant_id": tenant_id,
        "mailbox": normalise_address(mailbox),
        "to_email": normalise_address(to_email),
        "gmail_draft_id": draft_id,
        "gmail_message_id": message_id,
        "gmail_thread_id": thread_id,
        "due_at": due_at,
        "time_zone": time_zone,
        "zone_of": zone_of,
    }
    inserted = session.execute(
        insert(ScheduledSend)
        .values(workflow_id=workflow_id, status=SCHEDULED, **fresh)
        .on_conflict_do_nothing(index_elements=["workflow_id"])
        .returning(ScheduledSend.workflow_id)
    ).scalar_one_or_none()
    row = session.execute(
        select(ScheduledSend).where(ScheduledSend.workflow_id == workflow_id).with_for_update()
    ).scalar_one()
    if inserted is None:
        if row.status in ENDED_UNSENT:
            for name, value in fresh.items():
                setattr(row, name, value)
            row.status, row.reason, row.attempts = SCHEDULED, None, 0
            row.dagster_run_id, row.sent_at = None, None
            row.updated_at = func.now()
        elif row.status == SCHEDULED:
            row.gmail_draft_id = draft_id
            row.gmail_message_id = message_id
            row.gmail_thread_id = thread_id
            row.updated_at = func.now()
        session.flush()
        session.refresh(row)
    return ScheduledSendView.of(row)


def taken(session: Session, tenant_id: uuid.UUID, mailbox: str, since: datetime) -> list[datetime]:
    """The mailbox's send instants from `since` on, sorted: its scheduled sends' due times
    (scheduled or being sent) and its emails recorded as sent (any path: step 11, an
    approval, a scheduled send) by their sent_at."""
    box = normalise_address(mailbox)
    pending = select(ScheduledSend.due_at).where(
        ScheduledSend.tenant_id == tenant_id,
        ScheduledSend.mailbox == box,
        ScheduledSend.status.in_((SCHEDULED, SENDING)),
        ScheduledSend.due_at >= since,
    )
    sent = (
        select(DraftEmail.sent_at)
        .join(Workflow, DraftEmail.workflow_id == Workflow.id)
        .where(
            Workflow.tenant_id == tenant_id,
            func.lower(Workflow.mailbox) == box,
            DraftEmail.sent,
            DraftEmail.sent_at >= since,
        )
    )
    moments = [*session.scalars(pending), *session.scalars(sent)]
    return sorted(moment for moment in moments if moment is not None)


def _disabled() -> ColumnElement[bool]:
    # A disabled tenant's mail waits with it (scheduled, not failed).
    return ScheduledSend.tenant_id.in_(select(Tenant.id).where(Tenant.disabled_at.is_not(None)))


def due_state(
    session: Session, now: datetime, stale_before: datetime
) -> dict[uuid.UUID, dict[str, object]]:
    """Per tenant, the sends due at `now` (scheduled and due, or left `sending` since
    before `stale_before` by a run that died): how many, their attempts and their last
    change. What the sensor launches runs for; the state changes whenever a run claims."""
    rows = session.execute(
        select(
            ScheduledSend.tenant_id,
            func.count(),
            func.sum(ScheduledSend.attempts),
            func.max(ScheduledSend.updated_at),
        )
        .where(
            or_(
                (ScheduledSend.status == SCHEDULED) & (ScheduledSend.due_at <= now),
                (ScheduledSend.status == SENDING) & (ScheduledSend.updated_at < stale_before),
            ),
            ~_disabled(),
        )
        .group_by(ScheduledSend.tenant_id)
    ).all()
    return {
        tenant_id: {
            "count": int(count),
            "attempts": int(attempts or 0),
            "changed": changed.isoformat() if changed else None,
        }
        for tenant_id, count, attempts, changed in rows
    }


def recover_stale(
    session: Session, stale_before: datetime, tenant_id: uuid.UUID | None = None
) -> list[uuid.UUID]:
    """Rows left `sending` since before `stale_before` (their run died mid-send) go back to
    scheduled, due now; the send's idempotency record makes the retry safe."""
    statement = update(ScheduledSend).where(
        ScheduledSend.status == SENDING, ScheduledSend.updated_at < stale_before
    )
    if tenant_id is not None:
        statement = statement.where(ScheduledSend.tenant_id == tenant_id)
    return list(
        session.scalars(
            statement.values(
                status=SCHEDULED,
                reason="its run stopped while sending; retried",
                updated_at=func.now(),
            ).returning(ScheduledSend.workflow_id)
        )
    )


def claim_due(
    session: Session,
    now: datetime,
    limit: int,
    *,
    tenant_id: uuid.UUID | None = None,
    run_id: str | None = None,
) -> list[ScheduledSendView]:
    """Take up to `limit` due rows (earliest first) for sending: scheduled -> sending,
    attempts + 1. FOR UPDATE SKIP LOCKED: two runs or sensors never take one row."""
    candidates = (
        select(ScheduledSend.workflow_id)
        .where(ScheduledSend.status == SCHEDULED, ScheduledSend.due_at <= now, ~_disabled())
        .order_by(ScheduledSend.due_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    if tenant_id is not None:
        candidates = candidates.where(ScheduledSend.tenant_id == tenant_id)
    rows = session.scalars(
        update(ScheduledSend)
        .where(
            ScheduledSend.workflow_id.in_(candidates.scalar_subquery()),
            # Re-checked on the locked row: a cancel that committed first wins.
            ScheduledSend.status == SCHEDULED,
        )
        .values(
            status=SENDING,
            attempts=ScheduledSend.attempts + 1,
            dagster_run_id=run_id,
            updated_at=func.now(),
        )
        .returning(ScheduledSend),
        execution_options={"populate_existing": True},
    ).all()
    return sorted((ScheduledSendView.of(row) for row in rows), key=lambda view: view.due_at)


def _finish(
    session: Session,
    workflow_id: uuid.UUID,
    status: str,
    *,
    only: Collection[str],
    **values: object,
) -> bool:
    done = session.execute(
        update(ScheduledSend)
        .where(ScheduledSend.workflow_id == workflow_id, ScheduledSend.status.in_(only))
        .values(status=status, updated_at=func.now(), **values)
        .returning(ScheduledSend.workflow_id)
    ).scalar_one_or_none()
    return done is not None


def mark_sent(
    session: Session,
    workflow_id: uuid.UUID,
    sent_at: datetime,
    *,
    message_id: str | None = None,
    thread_id: str | None = None,
) -> bool:
    """Gmail sent it. Whatever the row's state (a slow run's send confirmed after its row
    went back to scheduled): a sent email is recorded as sent."""
    ids = {"gmail_message_id": message_id} if message_id else {}
    if thread_id:
        ids["gmail_thread_id"] = thread_id
    return _finish(
        session,
        workflow_id,
        SENT,
        only=(SCHEDULED, SENDING, CANCELLED, FAILED),
        sent_at=sent_at,
        reason=None,
        **ids,
    )


def mark_failed(session: Session, workflow_id: uuid.UUID, reason: str) -> bool:
    """Nothing will send it (Gmail refused, the draft is gone, the kill switch or the mode
    said no): the draft stays in Gmail for a person, the row says why."""
    return _finish(session, workflow_id, FAILED, only=(SCHEDULED, SENDING), reason=reason)


def mark_cancelled(session: Session, workflow_id: uuid.UUID, reason: str) -> bool:
    """The send found, when it came to it, that the lead may not be mailed (suppressed,
    stopped): cancelled with why, whether still scheduled or claimed."""
    return _finish(session, workflow_id, CANCELLED, only=(SCHEDULED, SENDING), reason=reason)


def release(
    session: Session, workflow_id: uuid.UUID, due_at: datetime, reason: str | None = None
) -> bool:
    """Back to scheduled for `due_at` (a transient error, the day's cap): sent later."""
    return _finish(session, workflow_id, SCHEDULED, only=(SENDING,), due_at=due_at, reason=reason)


def cancel(
    session: Session,
    tenant_id: uuid.UUID,
    *,
    address: str | None = None,
    domain: str | None = None,
    workflow_ids: Collection[uuid.UUID] | None = None,
    reason: str,
) -> list[uuid.UUID]:
    """Cancel the tenant's sends still scheduled to `address`, to any address of `domain`,
    or of `workflow_ids` (any of them); the workflows cancelled. A row already claimed by a
    run is not touched here: the send re-checks suppression and stops just before Gmail."""
    matches: list[ColumnElement[bool]] = []
    if address:
        matches.append(ScheduledSend.to_email == normalise_address(address))
    if domain:
        matches.append(
            func.split_part(ScheduledSend.to_email, "@", 2) == normalise_address(domain).lstrip("@")
        )
    if workflow_ids:
        matches.append(ScheduledSend.workflow_id.in_(list(workflow_ids)))
    if not matches:
        if workflow_ids is not None:
            return []  # an empty list of workflows: nothing to cancel
        raise ValueError("name what to cancel: an address, a domain or workflow ids")
    return list(
        session.scalars(
            update(ScheduledSend)
            .where(
                ScheduledSend.tenant_id == tenant_id,
                ScheduledSend.status == SCHEDULED,
                or_(*matches),
            )
            .values(status=CANCELLED, reason=reason, updated_at=func.now())
            .returning(ScheduledSend.workflow_id)
        )
    )


def get(session: Session, workflow_id: uuid.UUID) -> ScheduledSendView | None:
    """The workflow's scheduled send, if it ever had one."""
    row = session.get(ScheduledSend, workflow_id, populate_existing=True)
    return ScheduledSendView.of(row) if row is not None else None
