"""The connection budget: what each process of the stack can hold, added up against the
server's max_connections; the embedded server sized for it, and kept so across restarts."""

from __future__ import annotations

import socket
from pathlib import Path

import psycopg
import pytest
from pydantic import SecretStr
from sqlalchemy.engine import URL

from sales_agent_pipeline.cli.stack import PROJECT_ROOT, StackError, max_concurrent_runs
from sales_agent_pipeline.db.budget import (
    ConnectionBudgetExceeded,
    check_budget,
    server_limits,
    stack_budget,
)
from sales_agent_pipeline.db.embedded import EmbeddedPostgres
from sales_agent_pipeline.db.provision import provision
from sales_agent_pipeline.db.urls import drop_database, libpq_dsn
from sales_agent_pipeline.settings import Settings


def test_the_default_stack_needs_352_connections():
    budget = stack_budget(Settings(), max_concurrent_runs(PROJECT_ROOT / "dagster.yaml"))
    shares = {share.process: share.total for share in budget.shares}
    assert shares == {
        "run worker": 8 * (10 + 27),
        "API worker": 10,
        "Dagster webserver": 15,
        "Dagster daemon": 8,
        "code server": 13,
    }
    assert budget.total == 352
    assert budget.server_max_connections == 355


def test_more_runs_workers_or_pools_cost_their_share():
    base = stack_budget(Settings(), 8).total
    assert stack_budget(Settings(), 9).total == base + 37
    assert stack_budget(Settings(api_workers=3), 8).total == base + 2 * 10
    # One more pooled connection per engine: 8 run workers, 1 API worker, the code server.
    assert stack_budget(Settings(db_max_overflow=6), 8).total == base + 10


def test_the_run_limit_is_read_from_the_instance_config(tmp_path: Path, monkeypatch):
    config = tmp_path / "dagster.yaml"
    config.write_text("run_coordinator:\n  config:\n    max_concurrent_runs:\n      env: RUNS\n")
    monkeypatch.setenv("RUNS", "3")
    assert max_concurrent_runs(config) == 3
    config.write_text("storage: {}\n")
    assert max_concurrent_runs(config) == 10  # QueuedRunCoordinator's default
    config.write_text("run_coordinator:\n  config:\n    max_concurrent_runs: -1\n")
    with pytest.raises(StackError, match="unlimited"):
        max_concurrent_runs(config)


def test_a_budget_past_the_server_names_the_numbers(database_url: URL):
    limit, reserved = server_limits(database_url)
    small = stack_budget(Settings(db_pool_size=1, db_max_overflow=0), 1)
    assert small.total <= limit - reserved
    assert check_budget(database_url, small) is None
    big = stack_budget(Settings(), limit)
    problem = check_budget(database_url, big)
    assert problem is not None
    assert f"raise max_connections to {big.total + reserved}" in problem
    assert "max_concurrent_runs" in problem


def test_production_refuses_to_start_past_the_budget(database_url: URL):
    limit, _ = server_limits(database_url)
    big = stack_budget(Settings(), limit)
    url = SecretStr(libpq_dsn(database_url))
    # Development starts anyway (a warning in the log).
    databases = provision(Settings(database_url=url), upgrade=False, budget=big)
    # Dagster's storage gives up on a silent server too (libpq's connect_timeout).
    assert databases.dagster.query["connect_timeout"] == "5"
    try:
        production = Settings(
            environment="production", secrets_encryption_keys=SecretStr("k" * 44), database_url=url
        )
        with pytest.raises(ConnectionBudgetExceeded, match="raise max_connections"):
            provision(production, upgrade=False, budget=big)
    finally:
        drop_database(databases.dagster)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _max_connections(server: EmbeddedPostgres) -> int:
    with psycopg.connect(server.url) as conn:
        row = conn.execute("SELECT current_setting('max_connections')::int").fetchone()
    assert row is not None
    return int(row[0])


def test_the_embedded_server_is_sized_for_the_budget_and_stays_so(tmp_path: Path):
    pgdata, port = tmp_path / "postgres", _free_port()
    server = EmbeddedPostgres(pgdata=pgdata, port=port, max_connections=171).start()
    try:
        assert _max_connections(server) == 171
        server.stop()
        # Restarted by someone who knows nothing of the budget (an operator, a chaos test).
        plain = EmbeddedPostgres(pgdata=pgdata, port=port).start()
        assert _max_connections(plain) == 171
    finally:
        server.stop()
