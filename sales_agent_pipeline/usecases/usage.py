"""Tenants' usage: the counts their vendor calls add, and the report of a range of days
with its totals."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy.orm import Session

from sales_agent_pipeline.connectors.metering import UsageMeter
from sales_agent_pipeline.db.repositories.usage import UsageDay, add_usage, usage_report

# A report without a first day covers this many days up to its last.
DEFAULT_DAYS = 30
# The per-day counters that are maps (by status, vendor or quota), summed key by key.
_MAPS = ("workflows", "vendor_calls", "quota_units", "llm_tokens", "drafts_written")


def default_range(first: date | None, last: date | None, today: date) -> tuple[date, date]:
    """The range asked for, with its gaps filled: the last day today, the first
    DEFAULT_DAYS - 1 days before the last."""
    last = last or today
    return first or last - timedelta(days=DEFAULT_DAYS - 1), last


def totals(days: list[UsageDay]) -> UsageDay:
    """The sums over the days (at least one), dated with the first."""
    sums: dict[str, Counter[str]] = {name: Counter() for name in _MAPS}
    for day in days:
        for name, counter in sums.items():
            counter.update(getattr(day, name))
    return UsageDay(
        day=days[0].day,
        leads_received=sum(day.leads_received for day in days),
        drafts=sum(day.drafts for day in days),
        sends=sum(day.sends for day in days),
        tasks=sum(day.tasks for day in days),
        **{name: dict(counter) for name, counter in sums.items()},
    )


@dataclass(frozen=True)
class UsageSummary:
    """Every day from first to last (zeros included, oldest first) and their totals."""

    days: list[UsageDay]
    totals: UsageDay


def usage_summary(session: Session, tenant_id: uuid.UUID, first: date, last: date) -> UsageSummary:
    """The tenant's usage per UTC day from first to last (inclusive), and its totals."""
    days = usage_report(session, tenant_id, first, last)
    return UsageSummary(days, totals(days))


def record_usage(
    transaction: Callable[[], AbstractContextManager[Session]],
    meters: Mapping[uuid.UUID, UsageMeter],
) -> None:
    """Add what each tenant's meter counted since it was last drained to the tenant's usage
    today, in one `transaction()` (none is opened when nothing was counted).

    When the write fails the counts go back to their meters, to ride with the next write
    (counted late, never lost), and the error is raised for the caller to log."""
    drained = {tenant_id: meter.drain() for tenant_id, meter in meters.items()}
    drained = {tenant_id: counts for tenant_id, counts in drained.items() if counts}
    if not drained:
        return
    try:
        with transaction() as session:
            for tenant_id, counts in drained.items():
                add_usage(session, tenant_id, counts)
    except Exception:
        for tenant_id, counts in drained.items():
            meters[tenant_id].restore(counts)
        raise
