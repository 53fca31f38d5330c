"""A tenant's usage per day, as GET /api/usage answers it."""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field


class UsageDayView(BaseModel):
    """One UTC day of one tenant: what arrived, what came of it, what it cost at the vendors."""

    model_config = ConfigDict(from_attributes=True)

    day: date
    leads_received: int = Field(description="form submissions received (any source)")
    workflows: dict[str, int] = Field(
        description="the workflows started that day, by their status now"
    )
    drafts: int = Field(description="Gmail drafts created")
    sends: int = Field(description="emails sent (by a SEND run or an approval)")
    tasks: int = Field(description="HubSpot tasks created")
    vendor_calls: dict[str, int] = Field(description="calls made, by vendor (hubspot, google)")
    quota_units: dict[str, int] = Field(description="quota units spent, by quota (gmail)")
    llm_tokens: dict[str, int] = Field(
        default_factory=dict,
        description="the draft writer's model tokens: input, output, cached (input)",
    )
    drafts_written: dict[str, int] = Field(
        default_factory=dict,
        description="drafts by the writer that wrote them (template, openai, anthropic), and "
        "the model drafts the template writer took over (fallback)",
    )


class UsageReport(BaseModel):
    """Every day of the range (zeros included, oldest first) and the range's totals."""

    portal_id: int
    first_day: date
    last_day: date
    days: list[UsageDayView]
    totals: UsageDayView = Field(description="the sums over the range (`day`: its first day)")
