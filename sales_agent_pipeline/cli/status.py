"""`sales-agent status [--json]`: is the pipeline ready, and what waits.

The same three checks as GET /readyz (the app database, Dagster's daemon heartbeats, the
code location), with each daemon's last heartbeat, then the backlog, the oldest waiting
lead, the dead letters and the circuit breakers that stop calls. It only reads: no
migration, no embedded server started (unlike the other commands: a status that started
the database would report on what it did, not on what runs). Exit 0 when ready, 1 not.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import typer
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from sales_agent_pipeline.cli.breakers import COLUMNS as BREAKER_COLUMNS
from sales_agent_pipeline.cli.breakers import _row as breaker_row
from sales_agent_pipeline.cli.context import settings as load_settings
from sales_agent_pipeline.connectors.dagster_status import (
    DagsterHealth,
    dagster_health,
    short_message,
)
from sales_agent_pipeline.connectors.ui_identity import service_headers
from sales_agent_pipeline.db.migrate import current_revision, head_revision
from sales_agent_pipeline.db.provision import EMBEDDED_APP_DATABASE, embedded_server
from sales_agent_pipeline.db.repositories.alerts import oldest_pending
from sales_agent_pipeline.db.repositories.backlog import backlog
from sales_agent_pipeline.db.repositories.breakers import every_tenants_breakers
from sales_agent_pipeline.db.session import SessionLimits, make_engine
from sales_agent_pipeline.domain.enums import BreakerState
from sales_agent_pipeline.settings import Settings

# A person waits on this command; a webserver that does not answer in 5 s is down to them.
DAGSTER_TIMEOUT_SECONDS = 5.0


@dataclass
class Check:
    """One dependency's verdict and why (the /readyz shape)."""

    ok: bool
    detail: str


@dataclass
class Status:
    """Everything `status` prints."""

    database: Check
    dagster_daemon: Check
    code_server: Check
    daemons: list[dict[str, Any]] = field(default_factory=list)
    code_locations: dict[str, bool] = field(default_factory=dict)
    schema_revision: str | None = None
    expected_revision: str | None = None
    backlog: dict[str, int] | None = None
    oldest_pending_seconds: float | None = None
    oldest_pending_portal: int | None = None
    dead_letters: int | None = None
    open_breakers: list[dict[str, Any]] | None = None

    @property
    def ready(self) -> bool:
        """All three checks pass (what makes /readyz answer 200)."""
        return self.database.ok and self.dagster_daemon.ok and self.code_server.ok

    def as_json(self) -> dict[str, Any]:
        """The document --json prints."""
        return {
            "status": "ready" if self.ready else "not_ready",
            "accepting_leads": self.database.ok,
            **asdict(self),
        }


def _database_url(config: Settings) -> str | None:
    """The app database `up` uses: DATABASE_URL, else the data dir's embedded server when
    it runs (None when it does not)."""
    if config.database_url is not None:
        return config.database_url.get_secret_value()
    server = embedded_server(config)
    if server.running_pid() is None:
        return None
    return server.url.rsplit("/", 1)[0] + f"/{EMBEDDED_APP_DATABASE}"


def _read_database(engine: Engine, status: Status) -> None:
    head = head_revision()
    status.expected_revision = head
    current = status.schema_revision = current_revision(engine)
    if current != head:
        status.database = Check(
            False,
            f"schema at {current or 'no revision'}, expected {head}: run `sales-agent db upgrade`",
        )
        return
    status.database = Check(True, f"reachable, schema at {current}")
    with Session(engine) as session, session.begin():
        counts = backlog(session)
        pending = oldest_pending(session)
        breakers = every_tenants_breakers(session)
    status.backlog = counts.by_state()
    status.dead_letters = counts.dead_letter_redrive_due + counts.dead_letter_for_a_person
    if pending is not None:
        age = datetime.now(UTC) - pending.created_at
        status.oldest_pending_seconds = round(max(0.0, age.total_seconds()), 1)
        status.oldest_pending_portal = pending.portal_id
    status.open_breakers = [
        breaker_row(portal, breaker)
        for portal, breaker in breakers
        if breaker.state != BreakerState.CLOSED
    ]


def gather(config: Settings) -> Status:
    """Ask the database and the Dagster webserver."""
    health = dagster_health(
        config.resolved_dagster_webserver_url,
        DAGSTER_TIMEOUT_SECONDS,
        headers=service_headers(config),
    )
    status = Status(
        database=Check(False, "not checked"),
        dagster_daemon=Check(health.daemon_ok, health.daemon_detail),
        code_server=Check(health.code_server_ok, health.code_server_detail),
        daemons=_daemons(health),
        code_locations=dict(health.code_locations),
    )
    url = _database_url(config)
    if url is None:
        status.database = Check(
            False,
            f"DATABASE_URL is unset and the embedded PostgreSQL of {config.data_dir} is not "
            "running: start the stack with `sales-agent up`",
        )
        return status
    limits = SessionLimits.from_settings(config)
    engine = None
    try:
        engine = make_engine(url, pool_size=1, max_overflow=0, limits=limits)
        _read_database(engine, status)
    except SQLAlchemyError as exc:
        # The driver's first line (host, port, the OS's reason), never the password.
        reason = short_message(str(getattr(exc, "orig", None) or exc))
        status.database = Check(False, f"unreachable: {reason or type(exc).__name__}")
    finally:
        if engine is not None:
            engine.dispose()
    return status


def _daemons(health: DagsterHealth) -> list[dict[str, Any]]:
    return [
        {
            "daemon": name,
            "ok": ok,
            "last_heartbeat_age_seconds": None
            if (age := health.heartbeat_age(name)) is None
            else round(age, 1),
            "errors": health.daemon_errors.get(name, 0),
        }
        for name, ok in sorted(health.daemons.items())
    ]


def _age(seconds: float) -> str:
    minutes, rest = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min {rest} s" if minutes else f"{rest} s"


def _mark(ok: bool) -> str:
    return typer.style("ok", fg="green") if ok else typer.style("FAILED", fg="red", bold=True)


def _print(status: Status) -> None:
    verdict = (
        typer.style("ready", fg="green", bold=True)
        if status.ready
        else typer.style("NOT READY", fg="red", bold=True)
    )
    typer.echo(f"Sales Agent Pipeline: {verdict}")
    for label, check in (
        ("database", status.database),
        ("dagster daemon", status.dagster_daemon),
        ("code server", status.code_server),
    ):
        typer.echo(f"  {label:<15} {_mark(check.ok)}  {check.detail}")
        if label == "dagster daemon":
            for daemon in status.daemons:
                age = daemon["last_heartbeat_age_seconds"]
                beat = "never" if age is None else f"{_age(age)} ago"
                errors = f", {daemon['errors']} errors" if daemon["errors"] else ""
                typer.echo(f"    {daemon['daemon']:<24} last heartbeat {beat}{errors}")
    intake = (
        "accepting leads (the webhook stores them"
        + ("" if status.ready else "; runs start once Dagster is back")
        + ")"
        if status.database.ok
        else "NOT accepting leads (the database check failed)"
    )
    typer.echo(f"  {'intake':<15} {intake}")
    if status.backlog is None:
        return
    typer.echo("\nBacklog")
    for state, count in status.backlog.items():
        typer.echo(f"  {state.replace('_', ' '):<26} {count}")
    if status.oldest_pending_seconds is None:
        typer.echo(f"  {'oldest waiting lead':<26} none waits")
    else:
        typer.echo(
            f"  {'oldest waiting lead':<26} {_age(status.oldest_pending_seconds)} "
            f"(portal {status.oldest_pending_portal})"
        )
    typer.echo(f"  {'dead letters':<26} {status.dead_letters}")
    typer.echo("\nCircuit breakers")
    rows = [{k: str(v) for k, v in row.items()} for row in status.open_breakers or []]
    if not rows:
        typer.echo("  none open: every vendor's calls flow")
        return
    widths = {c: max(len(c), *(len(r[c]) for r in rows)) for c in BREAKER_COLUMNS}
    typer.echo("  " + "  ".join(c.ljust(widths[c]) for c in BREAKER_COLUMNS).rstrip())
    for row in rows:
        typer.echo("  " + "  ".join(row[c].ljust(widths[c]) for c in BREAKER_COLUMNS).rstrip())


def status(
    as_json: bool = typer.Option(False, "--json", help="one JSON document, for machines"),
) -> None:
    """Readiness as /readyz checks it, the backlog and the open breakers.

    The database, each Dagster daemon's last heartbeat and the code location; then the
    leads waiting or running, the oldest waiting lead, dead letters and open circuit
    breakers. Exit 0 when ready, 1 when not."""
    config = load_settings()
    # Alembic logs two lines each time it reads the revision: noise above the report.
    logging.getLogger("alembic.runtime.migration").setLevel(logging.WARNING)
    result = gather(config)
    if as_json:
        typer.echo(json.dumps(result.as_json(), default=str, indent=2))
    else:
        _print(result)
    raise typer.Exit(0 if result.ready else 1)
