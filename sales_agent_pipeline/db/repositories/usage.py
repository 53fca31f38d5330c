"""Per-tenant daily usage: counters the runs add to (vendor calls, quota units), and the
report that adds what the audit trail holds (leads, workflows, drafts, sends, tasks)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Date, and_, cast, func, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session, sessionmaker

from sales_agent_pipeline.db.base import utcnow
from sales_agent_pipeline.db.models import (
    DraftEmail,
    FormSubmission,
    HubspotTask,
    TenantUsage,
    Workflow,
)
from sales_agent_pipeline.domain.drafting import WriterKind

# Counter names: "<what>.<vendor>", e.g. vendor_calls.hubspot, quota_units.gmail.
VENDOR_CALLS = "vendor_calls"
QUOTA_UNITS = "quota_units"
# The draft writer's: model tokens ("llm_tokens.input", ".output", ".cached") and drafts
# by the writer that wrote them ("drafts_written.openai", "drafts_written.template"),
# with the model drafts the template writer took over ("drafts_written.fallback").
LLM_TOKENS = "llm_tokens"
DRAFTS_WRITTEN = "drafts_written"


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


# A report covers at most this many days (a year and a leap day).
MAX_REPORT_DAYS = 366


@dataclass
class UsageDay:
    """One tenant's day (UTC): what arrived, what came of it, and what it cost at the vendors.

    leads_received: form submissions received that day (webhook, reconciliation, import);
    workflows: the workflows created that day, by their status now (so they add up to the
    workflows started that day); drafts: Gmail drafts created; sends: emails sent that day
    (directly or by approval); tasks: HubSpot tasks created; vendor_calls and quota_units:
    the runs' counters (`vendor_calls.hubspot` -> vendor_calls["hubspot"]); llm_tokens:
    the draft writer's model tokens (input, output, cached input); drafts_written: drafts
    by the writer that wrote them, and the model drafts the template took over (fallback).
    """

    day: date
    leads_received: int = 0
    workflows: dict[str, int] = field(default_factory=dict)
    drafts: int = 0
    sends: int = 0
    tasks: int = 0
    vendor_calls: dict[str, int] = field(default_factory=dict)
    quota_units: dict[str, int] = field(default_factory=dict)
    llm_tokens: dict[str, int] = field(default_factory=dict)
    drafts_written: dict[str, int] = field(default_factory=dict)


def _utc_day(column: Any) -> Any:
    return cast(func.timezone("UTC", column), Date)


def _window(column: Any, first: date, last: date) -> Any:
    start = datetime.combine(first, time.min, tzinfo=UTC)
    end = datetime.combine(last + timedelta(days=1), time.min, tzinfo=UTC)
    return and_(column >= start, column < end)


def usage_report(session: Session, tenant_id: uuid.UUID, first: date, last: date) -> list[UsageDay]:
    """Every day from first to last (inclusive, UTC), zeros included, oldest first."""
    if last < first:
        raise ValueError(f"the report's last day {last} is before its first {first}")
    if (last - first).days + 1 > MAX_REPORT_DAYS:
        raise ValueError(f"a report covers at most {MAX_REPORT_DAYS} days")
    days = {
        first + timedelta(days=n): UsageDay(first + timedelta(days=n))
        for n in range((last - first).days + 1)
    }
    received = _utc_day(FormSubmission.received_at)
    # The synthetic canary's leads (and whatever came of them) are no one's usage.
    for day, count in session.execute(
        select(received, func.count())
        .join(Workflow, Workflow.form_submission_id == FormSubmission.id)
        .where(
            FormSubmission.tenant_id == tenant_id,
            _window(FormSubmission.received_at, first, last),
            Workflow.synthetic.is_(False),
        )
        .group_by(received)
    ):
        days[day].leads_received = count
    started = _utc_day(Workflow.created_at)
    for day, status, count in session.execute(
        select(started, Workflow.status, func.count())
        .where(
            Workflow.tenant_id == tenant_id,
            _window(Workflow.created_at, first, last),
            Workflow.synthetic.is_(False),
        )
        .group_by(started, Workflow.status)
    ):
        days[day].workflows[status] = count
    _count_outputs(session, tenant_id, first, last, days)
    for day, metric, value in session.execute(
        select(TenantUsage.day, TenantUsage.metric, TenantUsage.value).where(
            TenantUsage.tenant_id == tenant_id, TenantUsage.day.between(first, last)
        )
    ):
        kind, _, vendor = metric.partition(".")
        if kind == VENDOR_CALLS:
            days[day].vendor_calls[vendor] = int(value)
        elif kind == QUOTA_UNITS:
            days[day].quota_units[vendor] = int(value)
        elif kind == LLM_TOKENS:
            days[day].llm_tokens[vendor] = int(value)
        elif kind == DRAFTS_WRITTEN:
            days[day].drafts_written[vendor] = int(value)
    _leave_out_synthetic_drafts(session, tenant_id, first, last, days)
    return list(days.values())


def _leave_out_synthetic_drafts(
    session: Session, tenant_id: uuid.UUID, first: date, last: date, days: dict[date, UsageDay]
) -> None:
    """Take the canary's drafts out of the writer counters: a draft's tokens and writer
    are counted when it is written (no workflow is known there), and a synthetic workflow's
    draft row holds what was counted for it (counted when a model writer was chosen: the
    model wrote it, or the template stood in with a fallback reason)."""
    day_of = _utc_day(DraftEmail.created_at)
    rows = session.execute(
        select(
            day_of,
            DraftEmail.writer,
            DraftEmail.fallback_reason.is_not(None),
            func.count(),
            func.sum(DraftEmail.input_tokens),
            func.sum(DraftEmail.output_tokens),
            func.sum(DraftEmail.cached_input_tokens),
        )
        .join(Workflow, Workflow.id == DraftEmail.workflow_id)
        .where(
            Workflow.tenant_id == tenant_id,
            Workflow.synthetic,
            _window(DraftEmail.created_at, first, last),
            or_(
                DraftEmail.writer != WriterKind.TEMPLATE.value,
                DraftEmail.fallback_reason.is_not(None),
            ),
        )
        .group_by(day_of, DraftEmail.writer, DraftEmail.fallback_reason.is_not(None))
    )
    for day, writer, fell_back, count, used_in, used_out, cached in rows:
        taken = {
            (LLM_TOKENS, "input"): int(used_in or 0),
            (LLM_TOKENS, "output"): int(used_out or 0),
            (LLM_TOKENS, "cached"): int(cached or 0),
            (DRAFTS_WRITTEN, writer or WriterKind.TEMPLATE.value): count,
            (DRAFTS_WRITTEN, "fallback"): count if fell_back else 0,
        }
        for (kind, name), value in taken.items():
            counters = days[day].llm_tokens if kind == LLM_TOKENS else days[day].drafts_written
            if value and name in counters:
                left = counters.pop(name) - value
                if left > 0:
                    counters[name] = left


def tokens_on(session: Session, tenant_id: uuid.UUID, day: date) -> int:
    """The model tokens (input and output) the tenant's drafts used on a day."""
    value = session.scalar(
        select(func.coalesce(func.sum(TenantUsage.value), 0)).where(
            TenantUsage.tenant_id == tenant_id,
            TenantUsage.day == day,
            TenantUsage.metric.in_((f"{LLM_TOKENS}.input", f"{LLM_TOKENS}.output")),
        )
    )
    return int(value or 0)


class PostgresTokenBudget:
    """The TokenBudget port on tenant_usage: today's tokens, and each draft's added."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def spent_today(self, tenant_id: uuid.UUID) -> int:
        """Input and output tokens the tenant's drafts used today (UTC)."""
        with self._sessions() as session:
            return tokens_on(session, tenant_id, utcnow().date())

    def record(self, tenant_id: uuid.UUID, counts: Mapping[str, int]) -> None:
        """Add one draft's counters (tokens, the writer that wrote it)."""
        with self._sessions.begin() as session:
            add_usage(session, tenant_id, counts)


def _count_outputs(
    session: Session, tenant_id: uuid.UUID, first: date, last: date, days: dict[date, UsageDay]
) -> None:
    """Drafts, sends and tasks per day, through their workflows' tenant."""
    queries: list[tuple[str, Any, Any, Any]] = [
        ("drafts", DraftEmail, DraftEmail.created_at, DraftEmail.gmail_draft_id.is_not(None)),
        ("sends", DraftEmail, DraftEmail.sent_at, DraftEmail.sent.is_(True)),
        ("tasks", HubspotTask, HubspotTask.created_at, HubspotTask.hubspot_task_id.is_not(None)),
    ]
    for name, model, moment, condition in queries:
        day_of = _utc_day(moment)
        rows = session.execute(
            select(day_of, func.count())
            .select_from(model)
            .join(Workflow, Workflow.id == model.workflow_id)
            .where(
                Workflow.tenant_id == tenant_id,
                Workflow.synthetic.is_(False),
                condition,
                _window(moment, first, last),
            )
            .group_by(day_of)
        )
        for day, count in rows:
            setattr(days[day], name, count)
