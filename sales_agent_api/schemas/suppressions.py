"""The suppression list as the admin API shows and changes it, and the one-click
unsubscribe's answers."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from sales_agent_pipeline.db.repositories.suppressions import MAX_ADDRESS, MAX_SOURCE
from sales_agent_pipeline.domain.compliance import SuppressionKind, SuppressionReason


class SuppressionView(BaseModel):
    """One address or domain the tenant never mails, and why."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    kind: SuppressionKind
    value: str = Field(description="a lower-case address, or a domain (every address of it)")
    reason: SuppressionReason
    source: str | None = Field(
        description="what fed it: one-click, mailto, a bounce's status, hs_email_optout, a note"
    )
    created_by: str | None = Field(description="the API key or CLI user that added it by hand")
    workflow_id: uuid.UUID | None = Field(description="the workflow whose mail led to it")
    created_at: datetime


class SuppressionPage(BaseModel):
    """A page of the list, newest first; pass `next_cursor` back for the next page."""

    items: list[SuppressionView]
    next_cursor: str | None = Field(description="null on the last page")


class SuppressionAdd(BaseModel):
    """Never mail this address, or any address of this domain."""

    model_config = ConfigDict(extra="forbid")

    value: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_ADDRESS)
    ] = Field(description="ana@example.com, or example.com (also @example.com) for the domain")
    kind: SuppressionKind | None = Field(
        default=None, description="address or domain; by default an address when it holds an @"
    )
    reason: SuppressionReason = SuppressionReason.MANUAL
    note: (
        Annotated[
            str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_SOURCE)
        ]
        | None
    ) = Field(default=None, description="why, kept as the entry's source")


class SuppressionChange(BaseModel):
    """What an add or a removal did."""

    status: Literal["suppressed", "already_suppressed", "removed"]
    message: str
    suppression: SuppressionView | None = Field(
        description="the entry (the one already there on a no-op); null once removed"
    )


class UnsubscribeAnswer(BaseModel):
    """What a one-click unsubscribe did (RFC 8058)."""

    status: Literal["unsubscribed", "already_unsubscribed"]
    message: str
