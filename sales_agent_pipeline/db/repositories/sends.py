"""The send gate over PostgreSQL: a slot of the tenant's daily cap per send (send_reservations),
taken in one short transaction that locks the tenant's row, so concurrent runs, imports and
approvals of one tenant take turns at the count and never pass the cap together."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date, datetime

from sqlalchemy import exists, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session, sessionmaker

from sales_agent_pipeline.db.base import utcnow
from sales_agent_pipeline.db.models import DraftEmail, SendReservation, Tenant, Workflow
from sales_agent_pipeline.db.repositories import scheduled_sends
from sales_agent_pipeline.db.repositories.lead_records import mail_block
from sales_agent_pipeline.db.repositories.switches import is_on
from sales_agent_pipeline.domain.enums import ReservationStatus, WorkflowMode
from sales_agent_pipeline.domain.errors import PermanentError
from sales_agent_pipeline.domain.sending import (
    SEND_KILL_SWITCH,
    ModePolicy,
    SendBlock,
    SendGrant,
    block_reason,
    send_block,
)
from sales_agent_pipeline.domain.workflow import ScheduledMail
from sales_agent_pipeline.settings import Settings

LIVE = (ReservationStatus.RESERVED.value, ReservationStatus.SENT.value)
# Why a synthetic canary lead (workflows.synthetic) is only ever drafted.
SYNTHETIC_REASON = "a synthetic canary lead is drafted, never sent"


def _used_today(
    session: Session, tenant_id: uuid.UUID, workflow_id: uuid.UUID, day: date, midnight: datetime
) -> int:
    """The day's live slots of the tenant's other workflows, plus emails recorded as sent
    today without a slot (sent before slots existed)."""
    slots = (
        select(func.count())
        .select_from(SendReservation)
        .where(
            SendReservation.tenant_id == tenant_id,
            SendReservation.day == day,
            SendReservation.status.in_(LIVE),
            SendReservation.workflow_id != workflow_id,
        )
        .scalar_subquery()
    )
    unslotted = (
        select(func.count())
        .select_from(DraftEmail)
        .join(Workflow, DraftEmail.workflow_id == Workflow.id)
        .where(
            Workflow.tenant_id == tenant_id,
            DraftEmail.sent,
            DraftEmail.sent_at >= midnight,
            DraftEmail.workflow_id != workflow_id,
            ~exists().where(SendReservation.workflow_id == DraftEmail.workflow_id),
        )
        .scalar_subquery()
    )
    return int(session.scalar(select(slots + unslotted)) or 0)


def reserve(
    session: Session,
    settings: Settings,
    tenant_id: uuid.UUID,
    workflow_id: uuid.UUID,
    *,
    approved: bool = False,
    now: datetime | None = None,
) -> SendGrant:
    """Decide the send on what the database says now, and take the workflow's slot when
    it may go. Call in its own short transaction: it locks the tenant's row until commit."""
    moment = now or utcnow()
    day = moment.date()
    midnight = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    # The lock first: in READ COMMITTED the counts below then see every slot committed by
    # the tenant's previous holder of the lock.
    tenant = session.execute(
        select(Tenant.mode, Tenant.send_kill_switch, Tenant.daily_send_cap)
        .where(Tenant.id == tenant_id)
        .with_for_update()
    ).one_or_none()
    if tenant is None:
        raise PermanentError(f"no tenant {tenant_id}")
    global_on, override, own, synthetic, recipient = session.execute(
        select(
            is_on(SEND_KILL_SWITCH),
            select(Workflow.mode_override).where(Workflow.id == workflow_id).scalar_subquery(),
            select(SendReservation.status)
            .where(SendReservation.workflow_id == workflow_id)
            .scalar_subquery(),
            select(Workflow.synthetic).where(Workflow.id == workflow_id).scalar_subquery(),
            # The draft's recipient (what would be sent), else the lead's address.
            func.coalesce(
                select(DraftEmail.to_email)
                .where(DraftEmail.workflow_id == workflow_id)
                .scalar_subquery(),
                select(Workflow.prospect_email).where(Workflow.id == workflow_id).scalar_subquery(),
            ),
        )
    ).one()
    if own == ReservationStatus.SENT.value:
        # Sent already: the send's own record answers it, nothing goes out again.
        return SendGrant(granted=True)
    held = own == ReservationStatus.RESERVED.value
    # A suppressed address (or domain) or a stopped workflow is never mailed, whatever
    # the modes and approvals say: step 11, an approval and a scheduled send all ask here.
    blocked = mail_block(session, tenant_id, workflow_id, recipient or "")
    if blocked is not None:
        return SendGrant(False, SendBlock.SUPPRESSED, f"not mailed: {blocked}", held=held)
    if synthetic:
        # The canary's lead is drafted, never sent, whatever the modes and approvals say.
        return SendGrant(False, SendBlock.MODE, SYNTHETIC_REASON, held=held)
    asked = WorkflowMode.SEND if approved else (WorkflowMode(override) if override else None)
    policy = ModePolicy(
        global_mode=settings.workflow_mode,
        # SEND_KILL_SWITCH in the environment still forces it on for this process.
        global_kill_switch=settings.send_kill_switch or bool(global_on),
        tenant_mode=WorkflowMode(tenant.mode) if tenant.mode else None,
        tenant_kill_switch=tenant.send_kill_switch,
        override=asked,
        # A slot held from an earlier attempt is already counted (on its own day).
        sent_today=0 if held else _used_today(session, tenant_id, workflow_id, day, midnight),
        daily_send_cap=tenant.daily_send_cap,
    )
    block = send_block(policy)
    if block is not None:
        return SendGrant(False, block, block_reason(block, policy), held=held)
    if not held:
        values = {"tenant_id": tenant_id, "day": day, "status": ReservationStatus.RESERVED.value}
        session.execute(
            insert(SendReservation)
            .values(workflow_id=workflow_id, **values)
            .on_conflict_do_update(
                index_elements=["workflow_id"], set_={**values, "updated_at": func.now()}
            )
        )
    return SendGrant(granted=True)


def mark_sent(session: Session, workflow_id: uuid.UUID) -> None:
    """The workflow's slot is used: Gmail confirmed its send."""
    session.execute(
        update(SendReservation)
        .where(SendReservation.workflow_id == workflow_id)
        .values(status=ReservationStatus.SENT.value, updated_at=func.now())
    )


def release(session: Session, workflow_id: uuid.UUID) -> None:
    """Give the workflow's slot back (nothing was sent); a used slot stays used."""
    session.execute(
        update(SendReservation)
        .where(
            SendReservation.workflow_id == workflow_id,
            SendReservation.status == ReservationStatus.RESERVED.value,
        )
        .values(status=ReservationStatus.RELEASED.value, updated_at=func.now())
    )


class PostgresSendGate:
    """SendGate over PostgreSQL: each call is its own short transaction."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        settings: Settings,
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        self._sessions = sessions
        self._settings = settings
        self._now = now

    def reserve(
        self, tenant_id: uuid.UUID, workflow_id: uuid.UUID, *, approved: bool = False
    ) -> SendGrant:
        """The decision and, when granted, the workflow's slot, committed together."""
        with self._sessions.begin() as session:
            return reserve(
                session,
                self._settings,
                tenant_id,
                workflow_id,
                approved=approved,
                now=self._now(),
            )

    def mark_sent(self, workflow_id: uuid.UUID) -> None:
        """The slot is used."""
        with self._sessions.begin() as session:
            mark_sent(session, workflow_id)

    def release(self, workflow_id: uuid.UUID) -> None:
        """The slot returns."""
        with self._sessions.begin() as session:
            release(session, workflow_id)


class PostgresSendSchedule:
    """SendSchedule over PostgreSQL (db/repositories/scheduled_sends.py): each call is its
    own short transaction."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def taken(self, tenant_id: uuid.UUID, mailbox: str, since: datetime) -> list[datetime]:
        """The mailbox's scheduled and sent instants since `since`."""
        with self._sessions.begin() as session:
            return scheduled_sends.taken(session, tenant_id, mailbox, since)

    def schedule(self, mail: ScheduledMail) -> datetime:
        """The workflow's send scheduled (a waiting one keeps its time); when it is due."""
        with self._sessions.begin() as session:
            view = scheduled_sends.schedule(
                session,
                workflow_id=mail.workflow_id,
                tenant_id=mail.tenant_id,
                mailbox=mail.mailbox,
                to_email=mail.to_email,
                draft_id=mail.gmail_draft_id,
                message_id=mail.gmail_message_id,
                thread_id=mail.gmail_thread_id,
                due_at=mail.due_at,
                time_zone=mail.time_zone,
                zone_of=mail.zone_of,
            )
            return view.due_at
