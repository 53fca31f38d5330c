"""GET /api/usage: a tenant's metered usage per day (any key of the tenant)."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query

from sales_agent_api.auth import AUTH_RESPONSES, CurrentKey
from sales_agent_api.deps import ReadSession
from sales_agent_api.errors import ApiError, ErrorResponse
from sales_agent_api.schemas.usage import UsageDayView, UsageReport
from sales_agent_pipeline.db.base import utcnow
from sales_agent_pipeline.db.repositories.usage import MAX_REPORT_DAYS
from sales_agent_pipeline.usecases.usage import default_range, usage_summary

router = APIRouter(prefix="/api/usage", tags=["usage"])


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
    first, last = default_range(first, last, utcnow().date())
    if first > last:
        raise ApiError(400, "invalid_range", f"`from` ({first}) is after `to` ({last})", ["from"])
    if (last - first).days + 1 > MAX_REPORT_DAYS:
        raise ApiError(
            400, "invalid_range", f"a report covers at most {MAX_REPORT_DAYS} days", ["from", "to"]
        )
    summary = usage_summary(session, principal.tenant_id, first, last)
    return UsageReport(
        portal_id=principal.portal_id,
        first_day=first,
        last_day=last,
        days=[UsageDayView.model_validate(day) for day in summary.days],
        totals=UsageDayView.model_validate(summary.totals),
    )
