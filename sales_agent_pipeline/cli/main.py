"""`sales-agent`: database migrations and the whole stack with one command."""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import httpx
import psutil
import psycopg
import typer
from sqlalchemy.engine import URL
from sqlalchemy.exc import OperationalError

from sales_agent_pipeline.cli.apikey import apikey_app
from sales_agent_pipeline.cli.breakers import breakers
from sales_agent_pipeline.cli.bulk import import_file, rerun
from sales_agent_pipeline.cli.context import settings as load_settings
from sales_agent_pipeline.cli.dlq import dlq_app
from sales_agent_pipeline.cli.operator import operator_app
from sales_agent_pipeline.cli.secrets import secrets_app
from sales_agent_pipeline.cli.status import status
from sales_agent_pipeline.cli.suppress import suppress_app
from sales_agent_pipeline.cli.switches import send_app
from sales_agent_pipeline.cli.tenant import tenant_app
from sales_agent_pipeline.cli.usage import usage
from sales_agent_pipeline.db import migrate
from sales_agent_pipeline.db.embedded import EmbeddedPostgresError
from sales_agent_pipeline.db.provision import Databases, provision
from sales_agent_pipeline.domain.errors import ConfigurationError
from sales_agent_pipeline.settings import Settings

if TYPE_CHECKING:
    from sales_agent_pipeline.cli.stack import Stack

app = typer.Typer(help="Sales Agent Pipeline: HubSpot form leads to Gmail drafts and tasks.")
db_app = typer.Typer(help="The app database: migrations.")
app.add_typer(db_app, name="db")
app.add_typer(apikey_app, name="apikey")
app.add_typer(tenant_app, name="tenant")
app.add_typer(secrets_app, name="secrets")
app.add_typer(send_app, name="send")
app.add_typer(dlq_app, name="dlq")
app.add_typer(operator_app, name="operator")
app.add_typer(suppress_app, name="suppress")
app.command("import")(import_file)
app.command("rerun")(rerun)
app.command("usage")(usage)
app.command("breakers")(breakers)
app.command("status")(status)


def _migrate(step: Callable[[URL, str], None], revision: str) -> None:
    settings = load_settings()
    databases = provision(settings, upgrade=False)
    try:
        step(databases.app, revision)
        typer.echo(f"app database {databases.app.database} at {revision}")
    finally:
        if databases.embedded is not None and databases.embedded.started_here:
            databases.embedded.stop()


@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Argument("head")) -> None:
    """Migrate the app database up (starting the embedded server when DATABASE_URL is unset)."""
    _migrate(migrate.upgrade, revision)


@db_app.command("downgrade")
def db_downgrade(revision: str = typer.Argument(..., help="target revision, e.g. base")) -> None:
    """Migrate the app database down to a revision."""
    _migrate(migrate.downgrade, revision)


@app.command()
def sandbox(
    host: str = typer.Option(None, help="default: SANDBOX_HOST"),
    port: int = typer.Option(None, help="default: SANDBOX_PORT"),
    empty: bool = typer.Option(False, help="start without the demo data"),
) -> None:
    """Serve the HubSpot + Google sandbox on its own (what `up` starts without credentials)."""
    settings = load_settings()
    argv = [
        sys.executable,
        "-m",
        "sales_agent_sandbox",
        "--host",
        host or settings.sandbox_host,
        "--port",
        str(port or settings.sandbox_port),
    ]
    if empty:
        argv.append("--empty")
    # The sandbox imports nothing of ours, and we import nothing of it: hand over the process.
    os.execv(sys.executable, argv)  # noqa: S606 (our own interpreter and module)


def _run_demo(settings: Settings, databases: Databases, stack: Stack) -> None:
    """Three signed demo leads through the webhook, and the first one's draft."""
    from sales_agent_pipeline.cli.demo import demo_secret, first_draft, post_demo_leads
    from sales_agent_pipeline.db.session import make_engine, make_session_factory

    engine = make_engine(databases.app, pool_size=1)
    try:
        sessions = make_session_factory(engine)
        # The demo tenant's webhook secret (ensure_demo_tenant stored this one).
        secret = demo_secret(Path(settings.data_dir).resolve())
        api = f"http://{settings.api_host}:{settings.api_port}"
        try:
            ids = post_demo_leads(api, secret, settings.sandbox_url)
        except httpx.HTTPError as exc:
            typer.secho(f"demo leads not posted: {exc}", fg="yellow", err=True)
            return
        typer.echo(
            f"\nPosted {len(ids)} demo leads through the webhook; waiting for the first draft..."
        )
        posted = time.monotonic()
        draft = first_draft(sessions, ids[0], timeout=90)
        ui = f"http://{settings.dagster_ui_host}:{settings.dagster_ui_port}"
        if draft is None or stack.stopping.is_set():
            typer.echo(f"the first draft is not ready yet: see {ui}/runs")
        else:
            typer.echo(
                f"\nFirst draft, {time.monotonic() - posted:.1f} s after posting:\n\n{draft}"
            )
            typer.echo(f"\nEvery lead's run: {ui}/runs  Ctrl-C stops everything.")
        sys.stdout.flush()
    finally:
        engine.dispose()


def _prepare_tenants(settings: Settings, databases: Databases) -> str | None:
    """Before the API answers: the environment's tenant (HUBSPOT_PORTAL_ID), else in sandbox
    mode the demo tenant; returns the demo's admin key."""
    from sales_agent_pipeline.cli.demo import ensure_demo_tenant
    from sales_agent_pipeline.cli.demo_key import demo_api_key
    from sales_agent_pipeline.db.session import make_engine, make_session_factory
    from sales_agent_pipeline.usecases.tenants import sync_environment_tenant

    engine = make_engine(databases.app, pool_size=1)
    try:
        sessions = make_session_factory(engine)
        line = sync_environment_tenant(sessions, settings)
        if line is not None:
            # Once, on the terminal; the API's start-up logs it again in its own log.
            typer.echo(line)
        if not settings.sandbox_mode:
            return None
        tenant = ensure_demo_tenant(sessions, settings)
        return demo_api_key(sessions, Path(settings.data_dir).resolve(), tenant.id)
    finally:
        engine.dispose()


@app.command()
def up() -> None:
    """Start everything: PostgreSQL if embedded, migrations, Dagster UI and daemon, the API."""
    from sales_agent_pipeline.cli.stack import Stack, StackError, check_ports, connection_budget
    from sales_agent_pipeline.cli.summary import StartTimes, up_summary
    from sales_agent_pipeline.db.budget import ConnectionBudgetExceeded

    # Wall clock from the process's start: Python and our imports take seconds too.
    launched = psutil.Process().create_time()
    started = time.time()
    settings = load_settings()
    try:
        check_ports(settings)
        databases = provision(settings, budget=connection_budget(settings))
    except (
        StackError,
        EmbeddedPostgresError,
        ConnectionBudgetExceeded,
        psycopg.OperationalError,
        OperationalError,
    ) as exc:
        typer.secho(f"cannot start: {exc}", fg="red", err=True)
        raise typer.Exit(1) from exc
    try:
        api_key = _prepare_tenants(settings, databases)
    except ConfigurationError as exc:
        typer.secho(f"cannot start: {exc.message}", fg="red", err=True)
        if databases.embedded is not None:
            databases.embedded.stop()
        raise typer.Exit(1) from exc
    provisioned = time.time()
    stack = Stack(settings, databases)

    def _stop(signum: int, _frame: FrameType | None) -> None:
        stack.stopping.set()

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    code = 0
    try:
        stack.start()
        if not stack.stopping.is_set():
            where = "embedded PostgreSQL" if databases.embedded else "DATABASE_URL"
            times = StartTimes(started - launched, provisioned - started, time.time() - provisioned)
            summary = up_summary(
                settings,
                database=f"{databases.app.database} on {where}",
                log_dir=stack.log_dir,
                times=times,
                api_key=api_key,
            )
            typer.echo(summary)
            sys.stdout.flush()
            if settings.sandbox_mode:
                _run_demo(settings, databases, stack)
            code = stack.watch()
    except StackError as exc:
        typer.secho(str(exc), fg="red", err=True)
        code = 1
    finally:
        typer.echo("stopping...")
        stack.stop()
        typer.echo("stopped")
    raise typer.Exit(code)
