"""Lawful sending: who may be mailed (suppression), when (send windows), and what a
mailbox tells us back (replies, bounces, unsubscribe mail)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class SuppressionKind(StrEnum):
    """A suppressed address, or every address of a domain."""

    ADDRESS = "address"
    DOMAIN = "domain"


class SuppressionReason(StrEnum):
    """Why an address or domain is never mailed."""

    UNSUBSCRIBE = "unsubscribe"
    BOUNCE = "bounce"
    HUBSPOT_OPTOUT = "hubspot_optout"
    MANUAL = "manual"


class StopReason(StrEnum):
    """Why a workflow's pending work was cancelled after it ran."""

    REPLIED = "replied"
    UNSUBSCRIBED = "unsubscribed"
    BOUNCED = "bounced"
    SUPPRESSED = "suppressed"


class ScheduledSendStatus(StrEnum):
    """A SEND lead's email waiting for its window, and what became of it."""

    SCHEDULED = "scheduled"
    SENDING = "sending"
    SENT = "sent"
    CANCELLED = "cancelled"
    FAILED = "failed"


class InboundKind(StrEnum):
    """What a message found in a watched mailbox is to us."""

    REPLY = "reply"
    BOUNCE = "bounce"
    UNSUBSCRIBE = "unsubscribe"
    OTHER = "other"


class Suppression(BaseModel):
    """One entry of a tenant's suppression list."""

    model_config = ConfigDict(frozen=True)

    kind: SuppressionKind
    value: str
    reason: SuppressionReason
    source: str | None = None
    created_by: str | None = None
    created_at: datetime | None = None

    @property
    def label(self) -> str:
        """What a person reads: `suppressed (unsubscribe: one-click)`."""
        detail = f": {self.source}" if self.source else ""
        return f"suppressed ({self.reason.value}{detail})"


def normalise_address(value: str) -> str:
    """An address as the suppression list keys it (trimmed, lower case)."""
    return value.strip().lower()


def domain_of(address: str) -> str:
    """The domain part of an address, lower case ('' when there is none)."""
    return address.rpartition("@")[2].strip().lower() if "@" in address else ""
