"""The send gate: a slot of the tenant's daily cap, taken at the moment of sending."""

from __future__ import annotations

import uuid
from typing import Protocol

from sales_agent_pipeline.domain.sending import SendGrant


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
