"""The workflow's Services over the in-memory fakes: one tenant, one of each vendor."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sales_agent_pipeline.domain.workflow import TenantSettings, WorkItem
from sales_agent_pipeline.settings import Settings
from sales_agent_pipeline.workflow.services import Services
from sales_agent_pipeline.workflow.state import LeadBatch, LeadState
from tests.fakes.calendar import FakeCalendar
from tests.fakes.crm import FakeCRM
from tests.fakes.drive import FakeDrive
from tests.fakes.effects import FakeEffects
from tests.fakes.history import FakeLeadHistory
from tests.fakes.mail import FakeMail
from tests.fakes.sends import FakeSendGate, FakeSendSchedule
from tests.fakes.trail import FakeLeadRecords
from tests.fakes.writer import FakeModelWriter, FakeTokenBudget

NOW = datetime(2026, 11, 24, 9, 30, tzinfo=UTC)  # a Tuesday morning


@dataclass
class FakeWorld:
    """Every fake a run touches, to seed before and inspect after."""

    tenant: TenantSettings = field(
        default_factory=lambda: TenantSettings(
            tenant_id=uuid.uuid4(),
            portal_id=4242,
            name="Our Co",
            sender_email="owner@ourco.example",
        )
    )
    crm: FakeCRM = field(default_factory=FakeCRM)
    mail: FakeMail = field(default_factory=FakeMail)
    drive: FakeDrive = field(default_factory=FakeDrive)
    calendar: FakeCalendar = field(default_factory=FakeCalendar)
    effects: FakeEffects = field(default_factory=FakeEffects)
    history: FakeLeadHistory = field(default_factory=FakeLeadHistory)
    records: FakeLeadRecords = field(default_factory=FakeLeadRecords)
    sends: FakeSendGate = field(default_factory=FakeSendGate)
    writer: FakeModelWriter = field(default_factory=FakeModelWriter)
    tokens: FakeTokenBudget = field(default_factory=FakeTokenBudget)
    schedule: FakeSendSchedule = field(default_factory=FakeSendSchedule)
    # Owners' mailboxes by address, and those the tenant's identity may act for.
    owner_mail: dict[str, FakeMail] = field(default_factory=dict)
    delegated: set[str] = field(default_factory=set)

    def services(self, settings: Settings | None = None, now: datetime = NOW) -> Services:
        """The ports a step sees, all answered by this world's fakes."""
        return Services(
            settings=settings or Settings(_env_file=None),
            records=self.records,
            effects=self.effects,
            sends=self.sends,
            crm=lambda _tenant: self.crm,
            mail=self.mailbox,
            drive=lambda _tenant: self.drive,
            calendar=lambda _tenant: self.calendar,
            history=lambda _tenant, _workflow: self.history,
            now=lambda: now,
            log=logging.getLogger("tests.workflow"),
            writer=lambda _kind, _tenant: self.writer,
            tokens=self.tokens,
            delegated=lambda _tenant, mailbox: mailbox.lower() in self.delegated,
            unsubscribe_token=lambda _tenant, email, workflow: f"tok-{workflow.hex[:8]}",
            schedule=self.schedule,
        )

    def mailbox(self, _tenant: uuid.UUID, mailbox: str | None) -> FakeMail:
        """The tenant sender's mailbox (None), else that owner's (made on first use)."""
        if mailbox is None:
            return self.mail
        return self.owner_mail.setdefault(mailbox.lower(), FakeMail())

    def batch(self, *payloads: dict[str, Any]) -> LeadBatch:
        """A run's batch: one claimed workflow per payload."""
        return LeadBatch(
            leads=tuple(
                LeadState(
                    item=WorkItem(
                        workflow_id=uuid.uuid4(),
                        tenant=self.tenant,
                        payload=payload,
                        form_id="form-1",
                        hubspot_submission_id=f"sub-{index}",
                        received_at=NOW,
                    )
                )
                for index, payload in enumerate(payloads)
            )
        )


def form_payload(email: str, **fields: str) -> dict[str, Any]:
    """A form webhook's body with these fields."""
    values = {"email": email, **fields}
    return {"fieldValues": [{"name": k, "value": v} for k, v in values.items()]}
