"""GET /api/usage: a tenant's metered usage per day (any key of the tenant)."""

from __future__ import annotations

from collections import Counter
from datetime import date, timedelta
from typing import Annotated

from fastapi import APIRouter, Query

from sales_agent_api.auth import AUTH_RESPONSES, CurrentKey
from sales_agent_api.deps import ReadSession
from sales_agent_api.errors import ApiError, ErrorResponse
from sales_agent_api.schemas.usage import UsageDayView, UsageReport
from sales_agent_pipeline.db.base import utcnow
from sales_agent_pipeline.db.repositories.usage import MAX_REPORT_DAYS, usage_report

router = APIRouter(prefix="/api/usage", tags=["usage"])

DEFAULT_DAYS = 30


def _totals(days: list[UsageDayView]) -> UsageDayView:
    sums: dict[str, Counter[str]] = {
        name: Counter() for name in ("workflows", "vendor_calls", "quota_units")
    }
    for day in days:
        for name, counter in sums.items():
            counter.update(getattr(day, name))
    return UsageDayView(
        day=days[0].day,
        leads_received=sum(day.leads_received for day in days),
        drafts=sum(day.drafts for day in days),
        sends=sum(day.sends for day in days),
        tasks=sum(day.tasks for day in days),
        **{name: dict(counter) for name, counter in sums.items()},
    )


@router.get(
    "",
    response_model=UsageReport,
    responses={
        **AUTH_RESPONSES,
        400: {"model": ErrorResponse, "description": "A bad or reversed range (named)"},
    },
    summary="The tenant's usage per day",
)
def get_usage(
    principal: CurrentKey,
    session: ReadSession,
    first: Annotated[
        date | None,
        Query(alias="from", description="first day (UTC), inclusive; default: 29 days before `to`"),
    ] = None,
    last: Annotated[
        date | None, Query(alias="to", description="last day (UTC), inclusive; default: today")
    ] = None,
) -> UsageReport:
    """Leads received, workflows by outcome, drafts, sends, tasks, vendor calls and quota
    units, per UTC day, from the same rows the audit trail and the runs' meters write."""
    last = last or utcnow().date()
    first = first or last - timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise ApiError(400, "invalid_range", f"`from` ({first}) is after `to` ({last})", ["from"])
    if (last - first).days + 1 > MAX_REPORT_DAYS:
        raise ApiError(
            400, "invalid_range", f"a report covers at most {MAX_REPORT_DAYS} days", ["from", "to"]
        )
    days = [
        UsageDayView.model_validate(day)
        for day in usage_report(session, principal.tenant_id, first, last)
    ]
    return UsageReport(
        portal_id=principal.portal_id,
        first_day=first,
        last_day=last,
        days=days,
        totals=_totals(days),
    )
