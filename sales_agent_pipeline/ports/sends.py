"""The send gate: a slot of the tenant's daily cap, taken at the moment of sending."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Protocol

from sales_agent_pipeline.domain.sending import SendGrant
from sales_agent_pipeline.domain.workflow import ScheduledMail


class SendGate(Protocol):
    """Caps and kill switches decided in one short transaction just before Gmail is called;
    no lock is held across the call."""

    def reserve(
        self, tenant_id: uuid.UUID, workflow_id: uuid.UUID, *, approved: bool = False
    ) -> SendGrant:
        """Re-read the mode, the tenant's and the global kill switch and the day's slots,
        and take the workflow's slot when the send may go (one per workflow ever: a retry
        gets its own back). `approved`: a person asked for this send (the override is SEND)."""
        ...

    def mark_sent(self, workflow_id: uuid.UUID) -> None:
        """Gmail confirmed the send: the slot is used."""
        ...

    def release(self, workflow_id: uuid.UUID) -> None:
        """Nothing was sent (Gmail refused, or the gate did): the slot returns to the day."""
        ...


class SendSchedule(Protocol):
    """The mailboxes' scheduled sends (sent by the due-sends job when their time comes)."""

    def taken(self, tenant_id: uuid.UUID, mailbox: str, since: datetime) -> list[datetime]:
        """When the mailbox's sends since `since` went or are due (scheduled and sent)."""
        ...

    def schedule(self, mail: ScheduledMail) -> datetime:
        """Schedule the workflow's send (once: a re-run's schedule is brought up to date
        while it still waits); when it is due."""
        ...
