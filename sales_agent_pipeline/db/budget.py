"""The connection budget: every process of the stack, the most connections it can hold, and
their sum against the server's max_connections.

Every pool below is a hard cap (a thread past it waits for a connection), except Dagster's
daemon and code server, whose storage opens a connection per operation (NullPool): those
count one per thread that can be in a storage call at once. With the defaults (DB_POOL_SIZE
5 + DB_MAX_OVERFLOW 5, 8 concurrent runs in dagster.yaml, one API worker):

| process              | count | each | total | what                                          |
|----------------------|-------|------|-------|-----------------------------------------------|
| run worker           | 8     | 37   | 296   | app pool 10 + Dagster's 3 storages x (1 + 8)  |
| API worker           | 1     | 10   | 10    | app pool (webhook stores, launch queue, routes)|
| Dagster webserver    | 1     | 15   | 15    | 3 storages x (1 + 4 overflow)                 |
| Dagster daemon       | 1     | 8    | 8     | one per daemon thread (NullPool)              |
| code server          | 1     | 13   | 13    | a sensor tick's app pool 10 + Dagster's 3     |
| headroom             |       |      | 10    | CLI commands, migrations, psql, `up` itself   |
| total                |       |      | 352   | the embedded server gets 352 + 3 reserved     |

Before this budget the worst case was about 390 (8 runs x (10 + 27), the webserver's
3 x (1 + 20), ...) on a server of 100. The run pools keep their sizes from before the
budget (a run's 8 lead threads may each hold a connection at once); the savings are the
webserver's overflow. A stock server (max_connections 100) fits the defaults only with
fewer runs or smaller pools: `sales-agent up` names the numbers (a
warning in development, a refusal to start in production).
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from sqlalchemy.engine import URL

from sales_agent_pipeline.db.urls import libpq_dsn
from sales_agent_pipeline.settings import Settings

# dagster-postgres keeps one engine per storage: runs, the event log, schedules.
DAGSTER_STORAGES = 3
# A run worker's storage pool (defs/ops.py): one connection each, more while the run's lead
# threads (STEP_CONCURRENCY, 8) log at once: their log lines are events.
DAGSTER_RUN_POOL_OVERFLOW = 8
# The webserver's (`dagster-webserver --db-pool-max-overflow`; Dagster's default is 20).
DAGSTER_WEBSERVER_POOL_OVERFLOW = 4
# The daemon's threads (scheduler, sensors, run queue, run monitoring, backfills, asset
# daemon, heartbeats), each in at most one storage call at a time.
DAEMON_CONNECTIONS = 8
# The code server's gRPC threads that evaluate a sensor or a schedule at once.
CODE_SERVER_DAGSTER_CONNECTIONS = 3
# Connections outside the stack's processes: CLI commands, migrations, an operator's psql.
HEADROOM = 10
# PostgreSQL's default superuser_reserved_connections: slots ordinary roles cannot take.
SUPERUSER_RESERVED = 3


@dataclass(frozen=True)
class Share:
    """One kind of process: how many run at once and the most connections each holds."""

    process: str
    count: int
    each: int
    what: str

    @property
    def total(self) -> int:
        """The connections all processes of this kind can hold at once."""
        return self.count * self.each


@dataclass(frozen=True)
class ConnectionBudget:
    """Every process's share; `total` includes the headroom for connections outside it."""

    shares: tuple[Share, ...]

    @property
    def total(self) -> int:
        """The most connections the whole stack can hold at once, headroom included."""
        return sum(share.total for share in self.shares) + HEADROOM

    @property
    def server_max_connections(self) -> int:
        """The max_connections a server needs for this budget (what the embedded one gets)."""
        return self.total + SUPERUSER_RESERVED

    def table(self) -> str:
        """One line per process, for logs and error messages."""
        lines = [f"{s.process}: {s.count} x {s.each} = {s.total} ({s.what})" for s in self.shares]
        return "; ".join([*lines, f"headroom {HEADROOM}", f"total {self.total}"])


class ConnectionBudgetExceeded(RuntimeError):
    """The stack can open more connections than the server accepts."""


def stack_budget(settings: Settings, max_concurrent_runs: int) -> ConnectionBudget:
    """The budget of `sales-agent up` with these settings and dagster.yaml's run limit."""
    app = settings.db_pool_size + settings.db_max_overflow
    run_dagster = DAGSTER_STORAGES * (1 + DAGSTER_RUN_POOL_OVERFLOW)
    webserver = DAGSTER_STORAGES * (1 + DAGSTER_WEBSERVER_POOL_OVERFLOW)
    return ConnectionBudget(
        (
            Share(
                "run worker",
                max_concurrent_runs,
                app + run_dagster,
                f"app pool {app} + Dagster {run_dagster}",
            ),
            Share("API worker", settings.api_workers, app, f"app pool {app}"),
            Share("Dagster webserver", 1, webserver, f"Dagster {webserver}"),
            Share("Dagster daemon", 1, DAEMON_CONNECTIONS, "a connection per daemon thread"),
            Share(
                "code server",
                1,
                app + CODE_SERVER_DAGSTER_CONNECTIONS,
                f"a sensor tick's app pool {app} + Dagster {CODE_SERVER_DAGSTER_CONNECTIONS}",
            ),
        )
    )


def server_limits(url: URL, connect_timeout: int = 5) -> tuple[int, int]:
    """The server's max_connections and superuser_reserved_connections."""
    with psycopg.connect(libpq_dsn(url), connect_timeout=connect_timeout) as conn:
        row = conn.execute(
            "SELECT current_setting('max_connections')::int,"
            " current_setting('superuser_reserved_connections')::int"
        ).fetchone()
    if row is None:
        raise RuntimeError("the server did not answer SHOW max_connections")
    return int(row[0]), int(row[1])


def check_budget(url: URL, budget: ConnectionBudget) -> str | None:
    """None when the budget fits the server at `url`; else a message naming the numbers and
    the settings that change them."""
    limit, reserved = server_limits(url)
    usable = limit - reserved
    if budget.total <= usable:
        return None
    return (
        f"the stack can open {budget.total} database connections but the server takes "
        f"{usable} (max_connections {limit} - {reserved} reserved): raise max_connections to "
        f"{budget.total + reserved}, or lower max_concurrent_runs in dagster.yaml, "
        f"API_WORKERS, DB_POOL_SIZE or DB_MAX_OVERFLOW. Budget: {budget.table()}"
    )
