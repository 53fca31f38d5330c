"""Find or start the database server, make sure both databases exist, migrate the app schema."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import structlog
from sqlalchemy.engine import URL, make_url

from sales_agent_pipeline.db import migrate
from sales_agent_pipeline.db.budget import ConnectionBudget, ConnectionBudgetExceeded, check_budget
from sales_agent_pipeline.db.embedded import EmbeddedPostgres
from sales_agent_pipeline.db.urls import app_url, dagster_url, ensure_database, libpq_dsn
from sales_agent_pipeline.settings import Settings

log = structlog.get_logger(__name__)

EMBEDDED_APP_DATABASE = "sales_agent"


@dataclass
class Databases:
    """Where the app's and Dagster's data live, and the embedded server when we run one."""

    app: URL
    dagster: URL
    embedded: EmbeddedPostgres | None = None

    @property
    def app_dsn(self) -> str:
        """The app database as a libpq URL, the form DATABASE_URL takes."""
        return libpq_dsn(self.app)

    @property
    def dagster_sqlalchemy_url(self) -> str:
        """Dagster's database as the SQLAlchemy URL its dagster.yaml reads."""
        return self.dagster.render_as_string(hide_password=False)


def embedded_server(settings: Settings, max_connections: int | None = None) -> EmbeddedPostgres:
    """The embedded server of this data dir (not started)."""
    return EmbeddedPostgres(
        pgdata=Path(settings.data_dir).resolve() / "postgres",
        port=settings.embedded_pg_port,
        max_connections=max_connections,
    )


def provision(
    settings: Settings, *, upgrade: bool = True, budget: ConnectionBudget | None = None
) -> Databases:
    """Start the embedded server if DATABASE_URL is unset, create the databases, migrate.

    With a connection budget, the embedded server is sized for it, and the server (either
    one) is checked to take it: ConnectionBudgetExceeded in production, a warning otherwise.
    """
    embedded: EmbeddedPostgres | None = None
    if settings.database_url is None:
        size = budget.server_max_connections if budget is not None else None
        embedded = embedded_server(settings, size).start()
        raw = embedded.url.rsplit("/", 1)[0] + f"/{EMBEDDED_APP_DATABASE}"
    else:
        raw = settings.database_url.get_secret_value()
    app = app_url(raw)
    if settings.dagster_database_url is not None:
        explicit = settings.dagster_database_url.get_secret_value()
        dagster = dagster_url(explicit, database=make_url(explicit).database)
    else:
        dagster = dagster_url(raw)
    # Dagster's storage (psycopg2, libpq too) gives up on a silent server as ours does.
    if "connect_timeout" not in dagster.query:
        dagster = dagster.update_query_dict(
            {"connect_timeout": str(settings.db_connect_timeout_seconds)}
        )
    ensure_database(app)
    ensure_database(dagster)
    if budget is not None:
        _check(settings, app, budget)
    if upgrade:
        migrate.upgrade(app)
        log.info("database.migrated", database=app.database)
    return Databases(app=app, dagster=dagster, embedded=embedded)


def _check(settings: Settings, app: URL, budget: ConnectionBudget) -> None:
    problem = check_budget(app, budget)
    if problem is None:
        log.info("database.connection_budget", total=budget.total, budget=budget.table())
    elif settings.environment == "production":
        raise ConnectionBudgetExceeded(problem)
    else:
        log.warning("database.connection_budget_exceeded", problem=problem)
