"""A tenant's circuit breakers, as GET /api/admin/breakers answers them."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from sales_agent_pipeline.domain.enums import BreakerState


class BreakerView(BaseModel):
    """One vendor's breaker for the tenant."""

    model_config = ConfigDict(from_attributes=True)

    vendor: str = Field(description="the port it guards: crm (HubSpot), mail, drive, calendar")
    state: BreakerState = Field(description="closed: calls flow; open: stopped; half_open: probing")
    consecutive_failures: int = Field(description="transient failures in a row (5xx, timeouts)")
    trips: int = Field(description="times it opened in a row without closing")
    opened_at: datetime | None
    open_until: datetime | None = Field(description="when calls may probe again (open)")
    probe_until: datetime | None = Field(description="when the probe's lease ends (half_open)")
    last_error: str | None = Field(description="the last failure counted, cut to its start")
    updated_at: datetime | None = Field(description="the last change; none: it never failed")


class BreakerList(BaseModel):
    """Every vendor's breaker of the tenant, by vendor; the leads of a tenant with one open
    wait (queued) until it may probe."""

    portal_id: int
    items: list[BreakerView]
