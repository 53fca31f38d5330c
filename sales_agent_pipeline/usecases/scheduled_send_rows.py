"""What becomes of a claimed scheduled send that is not sent now: cancelled, failed or
rescheduled, each recorded on the row and on the workflow's trail; and the results a
send_due_mail run reports."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from sales_agent_pipeline.db.models import Tenant
from sales_agent_pipeline.db.repositories import audit, scheduled_sends
from sales_agent_pipeline.db.repositories.scheduled_sends import ScheduledSendView
from sales_agent_pipeline.domain.compliance import ScheduledSendStatus, domain_of
from sales_agent_pipeline.domain.enums import StepStatus
from sales_agent_pipeline.settings import Settings
from sales_agent_pipeline.steps.send_window import SendHours, next_send_time

# Event types on the workflow's trail.
SENT_EVENT = "scheduled_send_sent"
CANCELLED_EVENT = "scheduled_send_cancelled"
FAILED_EVENT = "scheduled_send_failed"
RESCHEDULED_EVENT = "scheduled_send_rescheduled"


class Outcome(StrEnum):
    """What one due send came to."""

    SENT = "sent"
    ALREADY_SENT = "already_sent"
    CANCELLED = "cancelled"
    RESCHEDULED = "rescheduled"
    FAILED = "failed"


@dataclass(frozen=True)
class DueSendResult:
    """One claimed send and what became of it (what the run's metadata shows)."""

    workflow_id: uuid.UUID
    tenant_id: uuid.UUID
    outcome: Outcome
    due_at: datetime
    mailbox_domain: str
    sent_at: datetime | None = None
    gmail_message_id: str | None = None
    reason: str | None = None
    # A rescheduled send's new due time.
    next_due_at: datetime | None = None


def send_hours(
    settings: Settings, tenant_owner_hours: Mapping[str, Any], row: ScheduledSendView
) -> SendHours:
    """The hours a send's window follows: its owner's (tenants.owner_hours of the mailbox)
    when the owner's zone chose it, else SEND_WINDOW_START/END on weekdays."""
    default = SendHours.of(settings.send_window_start, settings.send_window_end)
    if row.zone_of != "owner":
        return default
    hours = tenant_owner_hours.get(row.mailbox)
    if not isinstance(hours, Mapping):
        return default
    try:
        return SendHours.of(
            time.fromisoformat(str(hours.get("start", "09:00"))),
            time.fromisoformat(str(hours.get("end", "17:00"))),
            [int(day) for day in hours.get("days", [0, 1, 2, 3, 4])],
        )
    except (TypeError, ValueError):
        return default


@dataclass(frozen=True)
class RowKeeper:
    """Settles claimed rows (cancelled, failed, rescheduled), each with its event on the
    workflow's trail, in a short transaction of its own."""

    sessions: sessionmaker[Session]
    settings: Settings
    now: Callable[[], datetime]
    run_id: str | None

    def event(
        self,
        session: Session,
        row: ScheduledSendView,
        event_type: str,
        status: StepStatus,
        **details: Any,
    ) -> None:
        audit.record_event(
            session,
            row.workflow_id,
            event_type=event_type,
            status=status,
            details={
                "due_at": row.due_at.isoformat(),
                "time_zone": row.time_zone,
                "zone_of": row.zone_of,
                "mailbox_domain": domain_of(row.mailbox),
                "attempt": row.attempts,
                **{key: value for key, value in details.items() if value is not None},
            },
            run_id=self.run_id,
        )

    def result(self, row: ScheduledSendView, outcome: Outcome, **values: Any) -> DueSendResult:
        return DueSendResult(
            workflow_id=row.workflow_id,
            tenant_id=row.tenant_id,
            outcome=outcome,
            due_at=row.due_at,
            mailbox_domain=domain_of(row.mailbox),
            **values,
        )

    def as_it_is(self, session: Session, row: ScheduledSendView) -> DueSendResult:
        """The row moved on under another attempt (sent, cancelled, taken again) before
        this one could settle it: what it says now; no event of this attempt's."""
        current = scheduled_sends.get(session, row.workflow_id)
        if current is None:
            return self.result(row, Outcome.CANCELLED, reason="its workflow is gone")
        outcome = {
            ScheduledSendStatus.SENT: Outcome.ALREADY_SENT,
            ScheduledSendStatus.CANCELLED: Outcome.CANCELLED,
            ScheduledSendStatus.FAILED: Outcome.FAILED,
        }.get(current.status, Outcome.RESCHEDULED)
        return self.result(
            row,
            outcome,
            sent_at=current.sent_at,
            gmail_message_id=current.gmail_message_id if current.sent_at else None,
            reason=current.reason,
        )

    def cancel(self, row: ScheduledSendView, reason: str) -> DueSendResult:
        with self.sessions.begin() as session:
            if not scheduled_sends.mark_cancelled(session, row.workflow_id, reason):
                return self.as_it_is(session, row)
            self.event(session, row, CANCELLED_EVENT, StepStatus.SKIPPED, reason=reason)
        return self.result(row, Outcome.CANCELLED, reason=reason)

    def fail(self, row: ScheduledSendView, reason: str) -> DueSendResult:
        with self.sessions.begin() as session:
            if not scheduled_sends.mark_failed(session, row.workflow_id, reason):
                return self.as_it_is(session, row)
            self.event(session, row, FAILED_EVENT, StepStatus.FAILED, reason=reason)
        return self.result(row, Outcome.FAILED, reason=reason)

    def reschedule(self, row: ScheduledSendView, due_at: datetime, reason: str) -> DueSendResult:
        with self.sessions.begin() as session:
            if not scheduled_sends.release(session, row.workflow_id, due_at, reason):
                return self.as_it_is(session, row)
            self.event(
                session,
                row,
                RESCHEDULED_EVENT,
                StepStatus.RETRYING,
                reason=reason,
                next_due_at=due_at.isoformat(),
            )
        return self.result(row, Outcome.RESCHEDULED, reason=reason, next_due_at=due_at)

    def next_window(self, row: ScheduledSendView, after: datetime) -> datetime:
        """The first moment of the send's window at or after `after`, under the mailbox's
        cap and spacing."""
        with self.sessions.begin() as session:
            owner_hours = session.scalar(
                select(Tenant.owner_hours).where(Tenant.id == row.tenant_id)
            )
            taken = scheduled_sends.taken(
                session, row.tenant_id, row.mailbox, after - timedelta(days=1)
            )
        taken = [moment for moment in taken if moment != row.due_at]
        return next_send_time(
            after,
            row.time_zone,
            send_hours(self.settings, owner_hours or {}, row),
            taken,
            self.settings.mailbox_daily_cap,
            timedelta(seconds=self.settings.send_spacing_seconds),
        )
