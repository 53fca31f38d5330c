"""Per-tenant daily usage: counters the runs add to (vendor calls, quota units)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import date

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from sales_agent_pipeline.db.base import utcnow
from sales_agent_pipeline.db.models import TenantUsage

# Counter names: "<what>.<vendor>", e.g. vendor_calls.hubspot, quota_units.gmail.
VENDOR_CALLS = "vendor_calls"
QUOTA_UNITS = "quota_units"


def add_usage(
    session: Session, tenant_id: uuid.UUID, counts: Mapping[str, int], day: date | None = None
) -> None:
    """Add to the tenant's counters for a day (today, UTC, by default); zeros are skipped."""
    rows = [
        {"tenant_id": tenant_id, "day": day or utcnow().date(), "metric": metric, "value": value}
        for metric, value in sorted(counts.items())
        if value
    ]
    if not rows:
        return
    statement = insert(TenantUsage).values(rows)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[TenantUsage.tenant_id, TenantUsage.day, TenantUsage.metric],
            set_={"value": TenantUsage.value + statement.excluded.value},
        )
    )
