"""Watched mailboxes: where the reading of each one's Gmail history stands (its cursor and
Pub/Sub watch), and the messages found in it that were acted on (once each)."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from sales_agent_pipeline.db.models import (
    DraftEmail,
    HubspotTask,
    InboundMessage,
    MailboxCursor,
    Tenant,
    Workflow,
)
from sales_agent_pipeline.domain.compliance import InboundKind, normalise_address

# What a cursor's last_error keeps of a failure (a vendor's message, never mail content).
_ERROR_LENGTH = 500


@dataclass(frozen=True)
class Cursor:
    """A watched mailbox and where its reading stands."""

    tenant_id: uuid.UUID
    mailbox: str
    history_id: int | None
    pushed_history_id: int | None
    synced_at: datetime | None
    full_sync_at: datetime | None
    watch_expires_at: datetime | None
    last_error: str | None

    @classmethod
    def of(cls, row: MailboxCursor) -> Cursor:
        """The row's values."""
        return cls(
            tenant_id=row.tenant_id,
            mailbox=row.mailbox,
            history_id=row.history_id,
            pushed_history_id=row.pushed_history_id,
            synced_at=row.synced_at,
            full_sync_at=row.full_sync_at,
            watch_expires_at=row.watch_expires_at,
            last_error=row.last_error,
        )


@dataclass(frozen=True)
class LeadWorkflow:
    """One of the tenant's workflows for an address, with what a reply or bounce acts on."""

    workflow_id: uuid.UUID
    prospect_email: str
    thread_id: str | None
    stopped_reason: str | None
    hubspot_task_id: str | None
    contact_id: str | None
    created_at: datetime


def watched(session: Session, now: datetime, recent: timedelta) -> list[tuple[uuid.UUID, str]]:
    """The mailboxes to watch: of every enabled tenant, each mailbox its workflows wrote
    in since `now - recent`, and its sender's (lower case, once each)."""
    enabled = Tenant.disabled_at.is_(None)
    mailboxes = session.execute(
        select(Workflow.tenant_id, func.lower(Workflow.mailbox))
        .join(Tenant, Tenant.id == Workflow.tenant_id)
        .where(enabled, Workflow.mailbox.is_not(None), Workflow.created_at >= now - recent)
        .distinct()
    ).all()
    senders = session.execute(
        select(Tenant.id, func.lower(Tenant.sender_email)).where(
            enabled, Tenant.sender_email.is_not(None)
        )
    ).all()
    found = {(tenant_id, mailbox.strip()) for tenant_id, mailbox in [*mailboxes, *senders]}
    return sorted(pair for pair in found if pair[1])


def ensure(session: Session, pairs: Collection[tuple[uuid.UUID, str]]) -> int:
    """A cursor (never read yet) for each (tenant, mailbox) without one; how many are new."""
    if not pairs:
        return 0
    rows = [{"tenant_id": t, "mailbox": normalise_address(m)} for t, m in pairs]
    made = session.scalars(
        insert(MailboxCursor).values(rows).on_conflict_do_nothing().returning(MailboxCursor.mailbox)
    )
    return len(list(made))


def due(
    session: Session,
    now: datetime,
    poll: timedelta,
    pairs: Collection[tuple[uuid.UUID, str]],
    limit: int,
) -> list[Cursor]:
    """The cursors of `pairs` to read now: never read, pushed past what was read, or not
    read for `poll`; pushed ones first, then the longest unread."""
    if not pairs:
        return []
    wanted = {(t, normalise_address(m)) for t, m in pairs}
    pushed = MailboxCursor.pushed_history_id > func.coalesce(MailboxCursor.history_id, 0)
    rows = session.scalars(
        select(MailboxCursor)
        .where(
            or_(
                MailboxCursor.history_id.is_(None),
                MailboxCursor.synced_at.is_(None),
                MailboxCursor.synced_at <= now - poll,
                pushed,
            )
        )
        .order_by(pushed.desc(), MailboxCursor.synced_at.asc().nulls_first())
    ).all()
    return [Cursor.of(row) for row in rows if (row.tenant_id, row.mailbox) in wanted][:limit]


def pushed_pending(session: Session) -> bool:
    """Whether any mailbox was pushed past what was read (a cheap look for the sensor)."""
    return bool(
        session.scalar(
            select(
                select(MailboxCursor.mailbox)
                .where(MailboxCursor.pushed_history_id > func.coalesce(MailboxCursor.history_id, 0))
                .exists()
            )
        )
    )


def get(session: Session, tenant_id: uuid.UUID, mailbox: str) -> Cursor | None:
    """A mailbox's cursor, if it has one."""
    row = session.get(
        MailboxCursor, (tenant_id, normalise_address(mailbox)), populate_existing=True
    )
    return Cursor.of(row) if row is not None else None


def advance(
    session: Session,
    tenant_id: uuid.UUID,
    mailbox: str,
    history_id: int,
    *,
    full_sync: bool = False,
) -> None:
    """Everything up to `history_id` was read (never moves back); a full sync is noted."""
    values: dict[str, Any] = {
        "history_id": func.greatest(func.coalesce(MailboxCursor.history_id, 0), history_id),
        "synced_at": func.now(),
        "last_error": None,
    }
    if full_sync:
        # The resync restarts from the profile's id, which may be below an expired one.
        values["history_id"] = history_id
        values["full_sync_at"] = func.now()
    session.execute(
        update(MailboxCursor)
        .where(
            MailboxCursor.tenant_id == tenant_id,
            MailboxCursor.mailbox == normalise_address(mailbox),
        )
        .values(**values)
    )


def failed(session: Session, tenant_id: uuid.UUID, mailbox: str, error: str) -> None:
    """The last read failed (it is retried at the next poll, not at once)."""
    session.execute(
        update(MailboxCursor)
        .where(
            MailboxCursor.tenant_id == tenant_id,
            MailboxCursor.mailbox == normalise_address(mailbox),
        )
        .values(last_error=error[:_ERROR_LENGTH], synced_at=func.now())
    )


def record_push(session: Session, mailbox: str, history_id: int) -> int:
    """Gmail pushed a change of `mailbox` at `history_id`: each tenant's cursor of it is
    read soon; how many cursors (0: a mailbox nobody watches)."""
    updated = session.scalars(
        update(MailboxCursor)
        .where(MailboxCursor.mailbox == normalise_address(mailbox))
        .values(
            pushed_history_id=func.greatest(
                func.coalesce(MailboxCursor.pushed_history_id, 0), history_id
            )
        )
        .returning(MailboxCursor.tenant_id)
    )
    return len(list(updated))


def watched_until(
    session: Session, tenant_id: uuid.UUID, mailbox: str, expires_at: datetime | None
) -> None:
    """The mailbox's Pub/Sub watch lasts until `expires_at` (None: stopped)."""
    session.execute(
        update(MailboxCursor)
        .where(
            MailboxCursor.tenant_id == tenant_id,
            MailboxCursor.mailbox == normalise_address(mailbox),
        )
        .values(watch_expires_at=expires_at)
    )


def claim_message(
    session: Session,
    tenant_id: uuid.UUID,
    mailbox: str,
    message_id: str,
    *,
    thread_id: str | None,
    kind: InboundKind,
    address: str | None,
    workflow_id: uuid.UUID | None,
    details: dict[str, Any],
) -> bool:
    """Record a message acted on; False when it already was (act on it only once)."""
    made = session.scalar(
        insert(InboundMessage)
        .values(
            tenant_id=tenant_id,
            mailbox=normalise_address(mailbox),
            gmail_message_id=message_id,
            gmail_thread_id=thread_id,
            kind=kind.value,
            address=address,
            workflow_id=workflow_id,
            details=details,
        )
        .on_conflict_do_nothing()
        .returning(InboundMessage.gmail_message_id)
    )
    return made is not None


def known_messages(
    session: Session, tenant_id: uuid.UUID, mailbox: str, message_ids: Sequence[str]
) -> set[str]:
    """The ids among `message_ids` already acted on."""
    if not message_ids:
        return set()
    return set(
        session.scalars(
            select(InboundMessage.gmail_message_id).where(
                InboundMessage.tenant_id == tenant_id,
                InboundMessage.mailbox == normalise_address(mailbox),
                InboundMessage.gmail_message_id.in_(list(message_ids)),
            )
        )
    )


def set_details(
    session: Session, tenant_id: uuid.UUID, mailbox: str, message_id: str, details: dict[str, Any]
) -> None:
    """Merge `details` into an acted-on message's (the HubSpot follow-ups' outcome)."""
    session.execute(
        update(InboundMessage)
        .where(
            InboundMessage.tenant_id == tenant_id,
            InboundMessage.mailbox == normalise_address(mailbox),
            InboundMessage.gmail_message_id == message_id,
        )
        .values(details=InboundMessage.details.op("||")(details))
    )


def pending_followups(
    session: Session, tenant_id: uuid.UUID, mailbox: str, limit: int = 50
) -> list[InboundMessage]:
    """Messages acted on whose HubSpot follow-ups are still to be done (a failure earlier)."""
    return list(
        session.scalars(
            select(InboundMessage)
            .where(
                InboundMessage.tenant_id == tenant_id,
                InboundMessage.mailbox == normalise_address(mailbox),
                InboundMessage.details["hubspot"].astext == "pending",
            )
            .order_by(InboundMessage.created_at)
            .limit(limit)
        )
    )


def lead_workflows(
    session: Session,
    tenant_id: uuid.UUID,
    *,
    address: str | None = None,
    workflow_ids: Collection[uuid.UUID] = (),
    thread_id: str | None = None,
) -> list[LeadWorkflow]:
    """The tenant's workflows for `address`, or named by id, or whose mail is in the thread
    (any of them), oldest first, with their thread and HubSpot task."""
    matches = []
    if address:
        matches.append(Workflow.prospect_email == normalise_address(address))
    if workflow_ids:
        matches.append(Workflow.id.in_(list(workflow_ids)))
    if thread_id:
        matches.append(DraftEmail.gmail_thread_id == thread_id)
    if not matches:
        return []
    rows = session.execute(
        select(
            Workflow.id,
            Workflow.prospect_email,
            DraftEmail.gmail_thread_id,
            Workflow.stopped_reason,
            HubspotTask.hubspot_task_id,
            HubspotTask.contact_id,
            Workflow.created_at,
        )
        .outerjoin(DraftEmail, DraftEmail.workflow_id == Workflow.id)
        .outerjoin(HubspotTask, HubspotTask.workflow_id == Workflow.id)
        .where(Workflow.tenant_id == tenant_id, or_(*matches))
        .order_by(Workflow.created_at)
    ).all()
    return [
        LeadWorkflow(
            workflow_id=row[0],
            prospect_email=normalise_address(row[1]),
            thread_id=row[2],
            stopped_reason=row[3],
            hubspot_task_id=row[4],
            contact_id=row[5],
            created_at=row[6],
        )
        for row in rows
    ]


@dataclass(frozen=True)
class StoppedLead:
    """A workflow stopped after it ran (a reply, a bounce, an unsubscribe), for the UI."""

    workflow_id: uuid.UUID
    portal_id: int
    reason: str
    stopped_at: datetime


def stopped_since(session: Session, since: datetime, limit: int = 500) -> list[StoppedLead]:
    """Workflows stopped at or after `since`, oldest first."""
    rows = session.execute(
        select(Workflow.id, Tenant.portal_id, Workflow.stopped_reason, Workflow.stopped_at)
        .join(Tenant, Tenant.id == Workflow.tenant_id)
        .where(Workflow.stopped_at >= since, Workflow.stopped_reason.is_not(None))
        .order_by(Workflow.stopped_at)
        .limit(limit)
    )
    return [
        StoppedLead(workflow_id, int(portal), str(reason), stopped_at)
        for workflow_id, portal, reason, stopped_at in rows
        if stopped_at is not None
    ]
