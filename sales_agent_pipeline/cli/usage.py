"""`sales-agent usage --tenant P [--from D] [--to D] [--csv]`: a tenant's usage per day."""

from __future__ import annotations

import csv
import sys
from datetime import UTC, date, datetime, timedelta

import typer

from sales_agent_pipeline.cli.context import errors, fail, transaction
from sales_agent_pipeline.db.repositories.usage import MAX_REPORT_DAYS, UsageDay, usage_report
from sales_agent_pipeline.domain.enums import WorkflowStatus
from sales_agent_pipeline.usecases.tenants import find_tenant

DEFAULT_DAYS = 30
DAY_FORMAT = ["%Y-%m-%d"]
FIRST = typer.Option(
    None, "--from", formats=DAY_FORMAT, help=f"first day (UTC; default {DEFAULT_DAYS} days ago)"
)
LAST = typer.Option(
    None, "--to", formats=DAY_FORMAT, help="last day, included (UTC; default today)"
)


def _columns(days: list[UsageDay]) -> list[str]:
    """Fixed columns first, then one per vendor counter any day has."""
    calls = sorted({vendor for day in days for vendor in day.vendor_calls})
    units = sorted({name for day in days for name in day.quota_units})
    tokens = sorted({name for day in days for name in day.llm_tokens})
    writers = sorted({name for day in days for name in day.drafts_written})
    return [
        "day",
        "leads_received",
        *(f"workflows_{status.value}" for status in WorkflowStatus),
        "drafts",
        "sends",
        "tasks",
        *(f"vendor_calls_{vendor}" for vendor in calls),
        *(f"quota_units_{name}" for name in units),
        *(f"llm_tokens_{name}" for name in tokens),
        *(f"drafts_written_{name}" for name in writers),
    ]


def _row(day: UsageDay, columns: list[str]) -> dict[str, str]:
    values: dict[str, object] = {
        "day": day.day.isoformat(),
        "leads_received": day.leads_received,
        "drafts": day.drafts,
        "sends": day.sends,
        "tasks": day.tasks,
    }
    for column in columns:
        if column.startswith("workflows_"):
            values[column] = day.workflows.get(column.removeprefix("workflows_"), 0)
        elif column.startswith("vendor_calls_"):
            values[column] = day.vendor_calls.get(column.removeprefix("vendor_calls_"), 0)
        else:
            for prefix, counts in (
                ("quota_units_", day.quota_units),
                ("llm_tokens_", day.llm_tokens),
                ("drafts_written_", day.drafts_written),
            ):
                if column.startswith(prefix):
                    values[column] = counts.get(column.removeprefix(prefix), 0)
    return {column: str(values[column]) for column in columns}


def usage(
    tenant: int = typer.Option(..., "--tenant", help="the tenant's HubSpot portal id"),
    first: datetime | None = FIRST,
    last: datetime | None = LAST,
    as_csv: bool = typer.Option(False, "--csv", help="CSV with a header row"),
) -> None:
    """A tenant's usage per day (UTC): leads, outcomes, drafts, sends, tasks, vendor calls."""
    end: date = last.date() if last else datetime.now(UTC).date()
    start: date = first.date() if first else end - timedelta(days=DEFAULT_DAYS - 1)
    if end < start:
        raise fail(f"--to {end} is before --from {start}")
    if (end - start).days + 1 > MAX_REPORT_DAYS:
        raise fail(f"at most {MAX_REPORT_DAYS} days at a time")
    with errors(), transaction() as session:
        days = usage_report(session, find_tenant(session, tenant).id, start, end)
    columns = _columns(days)
    rows = [_row(day, columns) for day in days]
    if as_csv:
        writer = csv.DictWriter(sys.stdout, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return
    # The table leaves out workflow statuses no day has, to stay readable.
    shown = [c for c in columns if not c.startswith("workflows_") or any(r[c] != "0" for r in rows)]
    widths = {c: max(len(c), *(len(r[c]) for r in rows)) for c in shown}
    typer.echo("  ".join(c.ljust(widths[c]) for c in shown))
    for row in rows:
        typer.echo("  ".join(row[c].rjust(widths[c]) if c != "day" else row[c] for c in shown))
