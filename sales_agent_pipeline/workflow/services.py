"""What the steps reach the outside through: every port, per tenant where it is per tenant."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sales_agent_pipeline.domain.drafting import WriterKind
from sales_agent_pipeline.ports.effects import EffectStore
from sales_agent_pipeline.ports.history import LeadHistory
from sales_agent_pipeline.ports.records import LeadRecords
from sales_agent_pipeline.ports.sends import SendGate, SendSchedule
from sales_agent_pipeline.ports.vendors import CRM, Calendar, Drive, Mail
from sales_agent_pipeline.ports.writer import DraftWriter, TokenBudget
from sales_agent_pipeline.settings import Settings


class Log(Protocol):
    """The shell's logger (Dagster's in a run, the standard library's in tests)."""

    def info(self, msg: str) -> None:
        """An informational line."""
        ...

    def warning(self, msg: str) -> None:
        """A warning line."""
        ...


@dataclass(frozen=True)
class Services:
    """The ports one step's work uses; the shell builds it, tests fill it with fakes."""

    settings: Settings
    records: LeadRecords
    effects: EffectStore
    # Step 11's slots of the daily cap, decided at send time.
    sends: SendGate
    crm: Callable[[uuid.UUID], CRM]
    # (tenant id, mailbox) -> Gmail acting for that mailbox (None: the tenant's sender),
    # each mailbox with its own quota window.
    mail: Callable[[uuid.UUID, str | None], Mail]
    drive: Callable[[uuid.UUID], Drive]
    calendar: Callable[[uuid.UUID], Calendar]
    # (tenant id, workflow id) -> that tenant's history, without this workflow.
    history: Callable[[uuid.UUID, uuid.UUID], LeadHistory]
    now: Callable[[], datetime]
    log: Log
    # Step 10's model writers by kind and tenant (built once per run; raises
    # ConfigurationError when one cannot be, e.g. no API key) and the tenants' daily tokens.
    writer: Callable[[WriterKind, uuid.UUID], DraftWriter]
    tokens: TokenBudget
    # Owner routing: (tenant id, mailbox) -> whether the tenant's Google identity may act
    # for that mailbox (domain-wide delegation); a refusal is remembered for a while.
    delegated: Callable[[uuid.UUID, str], bool] = lambda _tenant, _mailbox: False
    # (tenant id, recipient, workflow id) -> a one-click unsubscribe token; None: no links
    # (a process without a secrets key cannot mint them).
    unsubscribe_token: Callable[[uuid.UUID, str, uuid.UUID], str] | None = None
    # SEND outside the recipient's hours: the mailboxes' scheduled sends.
    schedule: SendSchedule | None = None
