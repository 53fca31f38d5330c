"""A vendor's circuit breaker for one tenant, as stored and as shown to operators."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sales_agent_pipeline.domain.enums import BreakerState

# The ports a breaker guards (the step table's vendor names), each with a breaker per tenant.
VENDORS = ("calendar", "crm", "drive", "mail")


@dataclass(frozen=True)
class Breaker:
    """One breaker's state. `updated_at` is the stored row's version (None: no row yet):
    a change is written only over the version it was computed from."""

    vendor: str
    tenant_id: uuid.UUID
    state: BreakerState = BreakerState.CLOSED
    consecutive_failures: int = 0
    # Times it opened in a row without closing: the cool-down grows with it.
    trips: int = 0
    opened_at: datetime | None = None
    open_until: datetime | None = None
    probe_owner: str | None = None
    probe_until: datetime | None = None
    last_error: str | None = None
    updated_at: datetime | None = None


def every_vendor(tenant_id: uuid.UUID, stored: list[Breaker]) -> list[Breaker]:
    """A breaker per vendor, by name: the stored ones, and closed ones for vendors that
    never failed (no row)."""
    known = {breaker.vendor: breaker for breaker in stored}
    return [known.get(vendor) or Breaker(vendor, tenant_id) for vendor in VENDORS]
