"""`sales-agent import FILE.csv --tenant ...` and `sales-agent rerun --since ... --until ...`."""

from __future__ import annotations

import dataclasses
import getpass
import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from sales_agent_pipeline import run_tags as tags
from sales_agent_pipeline.cli.context import settings as load_settings
from sales_agent_pipeline.connectors.dagster_launcher import DagsterLauncher, LaunchError
from sales_agent_pipeline.connectors.ui_identity import service_headers
from sales_agent_pipeline.db.models import Tenant
from sales_agent_pipeline.db.provision import provision
from sales_agent_pipeline.db.session import make_engine, make_session_factory
from sales_agent_pipeline.settings import Settings
from sales_agent_pipeline.usecases.backfill import plan_reruns, workflows_in_window
from sales_agent_pipeline.usecases.imports import (
    ImportRefused,
    ImportResult,
    ImportStatus,
    import_csv,
    import_status,
)

console = Console(stderr=True)
DATETIME_FORMATS = [
    "%Y-%m-%d",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%dT%H:%M:%S.%f",
    "%Y-%m-%d %H:%M:%S",
]
SHOWN_REJECTIONS = 50
CSV_FILE = typer.Argument(..., exists=True, dir_okay=False, readable=True)
SINCE = typer.Option(..., formats=DATETIME_FORMATS, help="from (UTC unless given)")
UNTIL = typer.Option(None, formats=DATETIME_FORMATS, help="up to, excluded (default: now)")
IMPORT_ID = typer.Option(None, "--import", help="only this import's leads")


@contextmanager
def _sessions(settings: Settings) -> Iterator[sessionmaker[Session]]:
    databases = provision(settings)
    engine = make_engine(databases.app, pool_size=1)
    try:
        yield make_session_factory(engine)
    finally:
        engine.dispose()
        if databases.embedded is not None and databases.embedded.started_here:
            databases.embedded.stop()


def _tenant(session: Session, portal_id: int) -> Tenant:
    tenant = session.scalar(select(Tenant).where(Tenant.portal_id == portal_id))
    if tenant is None:
        console.print(f"[red]no tenant with portal id {portal_id}[/red]")
        raise typer.Exit(2)
    return tenant


def _jsonable(value: Any) -> Any:
    if isinstance(value, uuid.UUID | datetime):
        return str(value)
    return value


def _print_report(result: ImportResult, as_json: bool) -> None:
    if as_json:
        rows = [
            {k: _jsonable(v) for k, v in dataclasses.asdict(row).items()} for row in result.rows
        ]
        typer.echo(json.dumps({"import_id": str(result.import_id), "rows": rows}))
        return
    console.print(
        f"import {result.import_id}: {len(result.rows)} rows, "
        f"[green]{result.accepted} accepted[/green], [red]{result.rejected} rejected[/red]"
    )
    rejected = [row for row in result.rows if row.status == "rejected"]
    if rejected:
        table = Table("row", "email", "reason", title="rejected rows")
        for row in rejected[:SHOWN_REJECTIONS]:
            table.add_row(str(row.row), row.email, row.reason or "")
        console.print(table)
        if len(rejected) > SHOWN_REJECTIONS:
            console.print(f"... and {len(rejected) - SHOWN_REJECTIONS} more")


def _follow(
    sessions: sessionmaker[Session], tenant_id: uuid.UUID, import_id: uuid.UUID, total: int
) -> ImportStatus:
    """A progress bar until no lead is waiting or running; where they all ended."""
    columns = (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[detail]}"),
    )
    with Progress(*columns, console=console) as progress:
        bar = progress.add_task("leads", total=total, detail="waiting for the first run")
        while True:
            with sessions() as session:
                found = import_status(session, tenant_id, import_id, datetime.now(UTC))
            assert found is not None
            eta = (
                f", ~{found.estimated_seconds_remaining:.0f}s left"
                if found.estimated_seconds_remaining is not None and found.remaining
                else ""
            )
            rate = f"{found.leads_per_minute:.0f}/min" if found.leads_per_minute else "starting"
            progress.update(
                bar,
                completed=found.done + found.failed + found.dead_letter,
                detail=f"{found.failed} failed, {found.dead_letter} dead letters, {rate}{eta}",
            )
            if found.finished:
                return found
            time.sleep(1.0)


def import_file(
    path: Path = CSV_FILE,
    tenant: int = typer.Option(..., "--tenant", help="the tenant's HubSpot portal id"),
    wait: bool = typer.Option(
        True, "--wait/--no-wait", help="follow the leads until done, or return at once"
    ),
    as_json: bool = typer.Option(False, "--json", help="print the per-row report as JSON"),
) -> None:
    """Import a CSV of leads; the stack's Dagster runs them in batches, below live leads."""
    settings = load_settings()
    size = path.stat().st_size
    if size > settings.import_max_bytes:
        console.print(f"[red]{path} has {size} bytes; the limit is {settings.import_max_bytes}")
        raise typer.Exit(2)
    with _sessions(settings) as sessions:
        try:
            with sessions.begin() as session:
                owner = _tenant(session, tenant)
                tenant_id = owner.id
                result = import_csv(
                    session,
                    owner,
                    path.read_bytes(),
                    filename=path.name,
                    created_by=f"cli ({getpass.getuser()})",
                    max_bytes=settings.import_max_bytes,
                    max_rows=settings.import_max_rows,
                )
        except ImportRefused as exc:
            console.print(f"[red]not imported ({exc.code}): {exc}[/red]")
            raise typer.Exit(2) from None
        _print_report(result, as_json)
        if not wait or not result.accepted:
            return
        ended = _follow(sessions, tenant_id, result.import_id, result.accepted)
    dead = (
        f", {ended.dead_letter} in the dead-letter queue (`sales-agent dlq list`)"
        if ended.dead_letter
        else ""
    )
    console.print(f"done: {ended.done} succeeded, {ended.failed} failed{dead}")
    if ended.failed or ended.dead_letter:
        raise typer.Exit(1)


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def rerun(
    since: datetime = SINCE,
    until: datetime | None = UNTIL,
    tenant: int | None = typer.Option(None, "--tenant", help="only this portal's leads"),
    import_id: uuid.UUID | None = IMPORT_ID,
    dry_run: bool = typer.Option(
        False, "--dry-run", help="list what each lead would create, update or leave alone"
    ),
    as_json: bool = typer.Option(False, "--json", help="print the plan as JSON"),
) -> None:
    """Re-run the workflows created in a window through Dagster (a partition backfill)."""
    settings = load_settings()
    start, end = _utc(since), _utc(until) if until else datetime.now(UTC)
    with _sessions(settings) as sessions, sessions() as session:
        # Read-only: a dry run must write nothing, and this one cannot.
        session.execute(text("SET TRANSACTION READ ONLY"))
        chosen = workflows_in_window(session, start, end, tenant, import_id)
        plans = plan_reruns(session, chosen, settings) if dry_run else []
        keys = [str(workflow.id) for workflow in chosen]
        session.rollback()
    if not keys:
        console.print("no workflow was created in that window")
        return
    if dry_run:
        if as_json:
            typer.echo(
                json.dumps(
                    [
                        {k: _jsonable(v) for k, v in dataclasses.asdict(plan).items()}
                        for plan in plans
                    ]
                )
            )
            return
        table = Table(
            "workflow", "email", "status", "HubSpot contact", "Gmail", "HubSpot task", "tenant"
        )
        for plan in plans:
            owner = f"{plan.portal_id}" + (f" {plan.tenant_note}" if plan.tenant_note else "")
            table.add_row(
                str(plan.workflow_id),
                plan.email,
                plan.status,
                plan.contact,
                plan.gmail,
                plan.task,
                owner,
            )
        Console().print(table)
        console.print(f"dry run: {len(plans)} lead(s), nothing written")
        return
    launcher = DagsterLauncher(
        settings.resolved_dagster_webserver_url, headers=service_headers(settings)
    )
    try:
        backfill_id = launcher.backfill(
            keys,
            title=f"rerun {start:%Y-%m-%d %H:%M} .. {end:%Y-%m-%d %H:%M} UTC",
            tags={tags.TRIGGER: "rerun"},
        )
    except LaunchError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    finally:
        launcher.close()
    ui = settings.resolved_dagster_webserver_url.rstrip("/")
    console.print(f"backfill {backfill_id}: {len(keys)} lead(s), see {ui}/runs/b/{backfill_id}")
    typer.echo(backfill_id)
