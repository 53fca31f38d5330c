"""The send gate in memory: the same decision as PostgresSendGate on values a test sets."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sales_agent_pipeline.domain.enums import ReservationStatus, WorkflowMode
from sales_agent_pipeline.domain.sending import (
    ModePolicy,
    SendBlock,
    SendGrant,
    block_reason,
    send_block,
)
from sales_agent_pipeline.domain.workflow import ScheduledMail

LIVE = {ReservationStatus.RESERVED, ReservationStatus.SENT}


@dataclass
class FakeSendGate:
    """One tenant's switches and cap, and a slot per workflow; a test flips them between
    (or during) calls as an operator would."""

    mode: WorkflowMode | None = WorkflowMode.SEND
    global_kill_switch: bool = False
    tenant_kill_switch: bool = False
    daily_send_cap: int = 50
    slots: dict[uuid.UUID, ReservationStatus] = field(default_factory=dict)
    asked: int = 0
    # Workflows the gate refuses whatever else says (suppressed or stopped), and why.
    blocked: dict[uuid.UUID, str] = field(default_factory=dict)

    def reserve(
        self, tenant_id: uuid.UUID, workflow_id: uuid.UUID, *, approved: bool = False
    ) -> SendGrant:
        """Decide as the PostgreSQL gate does; take the slot when granted."""
        self.asked += 1
        own = self.slots.get(workflow_id)
        if own is ReservationStatus.SENT:
            return SendGrant(granted=True)
        held = own is ReservationStatus.RESERVED
        if workflow_id in self.blocked:
            reason = f"not mailed: {self.blocked[workflow_id]}"
            return SendGrant(False, SendBlock.SUPPRESSED, reason, held=held)
        used = sum(1 for w, s in self.slots.items() if s in LIVE and w != workflow_id)
        policy = ModePolicy(
            global_mode=WorkflowMode.DRAFT_ONLY,
            global_kill_switch=self.global_kill_switch,
            tenant_mode=self.mode,
            tenant_kill_switch=self.tenant_kill_switch,
            override=WorkflowMode.SEND if approved else None,
            sent_today=0 if held else used,
            daily_send_cap=self.daily_send_cap,
        )
        block = send_block(policy)
        if block is not None:
            return SendGrant(False, block, block_reason(block, policy), held=held)
        self.slots[workflow_id] = ReservationStatus.RESERVED
        return SendGrant(granted=True)

    def mark_sent(self, workflow_id: uuid.UUID) -> None:
        """The slot is used."""
        if workflow_id in self.slots:
            self.slots[workflow_id] = ReservationStatus.SENT

    def release(self, workflow_id: uuid.UUID) -> None:
        """A reserved slot returns."""
        if self.slots.get(workflow_id) is ReservationStatus.RESERVED:
            self.slots[workflow_id] = ReservationStatus.RELEASED


@dataclass
class FakeSendSchedule:
    """Scheduled sends in memory: one per workflow, a waiting one keeps its time."""

    scheduled: dict[uuid.UUID, ScheduledMail] = field(default_factory=dict)
    sent_at: dict[str, list[datetime]] = field(default_factory=dict)

    def taken(self, tenant_id: uuid.UUID, mailbox: str, since: datetime) -> list[datetime]:
        """The mailbox's scheduled and sent instants since `since`."""
        due = [m.due_at for m in self.scheduled.values() if m.mailbox == mailbox]
        return sorted(t for t in [*due, *self.sent_at.get(mailbox, [])] if t >= since)

    def schedule(self, mail: ScheduledMail) -> datetime:
        """Schedule once; a re-run keeps the first due time."""
        found = self.scheduled.get(mail.workflow_id)
        kept = mail if found is None else mail.model_copy(update={"due_at": found.due_at})
        self.scheduled[mail.workflow_id] = kept
        return kept.due_at
