"""The app's engine against a real server: a pooled connection the server dropped while it
sat idle is replaced at checkout, not handed to a step to fail on; every connection carries
the session limits, and a statement, lock wait or open transaction past them ends in an
error the runner retries."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
from dagster import instance_for_test
from sqlalchemy import Engine, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError, OperationalError

from sales_agent_pipeline.db.errors import as_transient
from sales_agent_pipeline.db.session import PING_AFTER_IDLE_SECONDS, SessionLimits, make_engine
from sales_agent_pipeline.db.urls import DAGSTER_DRIVER
from sales_agent_pipeline.defs.dagster_internals import pool_storage_connections
from sales_agent_pipeline.settings import Settings


def _backend_pid(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


@pytest.fixture
def tight(database_url: URL) -> Iterator[Engine]:
    """An engine whose limits a test can reach in a fraction of a second."""
    limits = SessionLimits(
        connect_timeout_seconds=2,
        statement_timeout_ms=300,
        lock_timeout_ms=200,
        idle_in_transaction_timeout_ms=400,
    )
    engine = make_engine(database_url, pool_size=2, max_overflow=0, limits=limits)
    yield engine
    engine.dispose()


def test_an_idle_connection_the_server_dropped_is_replaced(engine: Engine, database_url: URL):
    pooled = make_engine(database_url, pool_size=1, ping_after_idle_seconds=0.0)
    try:
        first = _backend_pid(pooled)
        # The server ends that session (a restart, an idle timeout, an operator).
        with engine.begin() as conn:
            assert conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first}).scalar()
        # Checked before use: the pool notices and opens a new one; the caller sees nothing.
        second = _backend_pid(pooled)
        assert second != first
    finally:
        pooled.dispose()


def test_every_connection_carries_the_limits_of_the_settings(database_url: URL):
    settings = Settings(
        db_connect_timeout_seconds=7,
        db_statement_timeout_ms=45_000,
        db_lock_timeout_ms=5_000,
        db_idle_in_transaction_timeout_ms=90_000,
    )
    engine = make_engine(database_url, limits=SessionLimits.from_settings(settings))
    try:
        # Two connections at once: the second is new, not the first one handed back.
        with engine.connect() as first, engine.connect() as second:
            for conn in (first, second):
                shown = {
                    name: conn.execute(text(f"SHOW {name}")).scalar_one()
                    for name in (
                        "statement_timeout",
                        "lock_timeout",
                        "idle_in_transaction_session_timeout",
                    )
                }
                assert shown == {
                    "statement_timeout": "45s",
                    "lock_timeout": "5s",
                    "idle_in_transaction_session_timeout": "90s",
                }
                params = conn.connection.driver_connection.info.get_parameters()  # type: ignore[union-attr]
                assert params["connect_timeout"] == "7"
    finally:
        engine.dispose()


def test_the_defaults_are_the_documented_ones(engine: Engine):
    with engine.connect() as conn:
        assert conn.execute(text("SHOW statement_timeout")).scalar_one() == "30s"
        assert conn.execute(text("SHOW lock_timeout")).scalar_one() == "10s"
        assert conn.execute(text("SHOW idle_in_transaction_session_timeout")).scalar_one() == "1min"


def test_options_in_the_url_are_kept_beside_the_limits(database_url: URL):
    url = database_url.update_query_dict({"options": "-c work_mem=8MB"})
    engine = make_engine(url, pool_size=1)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("SHOW work_mem")).scalar_one() == "8MB"
            assert conn.execute(text("SHOW statement_timeout")).scalar_one() == "30s"
    finally:
        engine.dispose()


def test_a_statement_past_the_timeout_is_cancelled_and_retried(tight: Engine):
    started = time.monotonic()
    with pytest.raises(OperationalError) as caught, tight.connect() as conn:
        conn.execute(text("SELECT pg_sleep(5)"))
    # Cancelled by the server at the limit, not after the five seconds.
    assert time.monotonic() - started < 3
    assert type(caught.value.orig).__name__ == "QueryCanceled"
    transient = as_transient(caught.value)
    assert transient is not None
    assert "statement_timeout" in str(transient)
    # The connection itself is fine: the next statement on the pool runs.
    with tight.connect() as conn:
        assert conn.execute(text("SELECT 1")).scalar_one() == 1


def test_a_lock_wait_past_the_lock_timeout_is_retried(engine: Engine, tight: Engine):
    with engine.connect() as holder:
        holder.execute(text("SELECT pg_advisory_lock(16016)"))
        try:
            with pytest.raises(OperationalError) as caught, tight.connect() as conn:
                conn.execute(text("SELECT pg_advisory_lock(16016)"))
        finally:
            holder.execute(text("SELECT pg_advisory_unlock(16016)"))
    assert type(caught.value.orig).__name__ == "LockNotAvailable"
    transient = as_transient(caught.value)
    assert transient is not None
    assert "lock_timeout" in str(transient)


def test_a_transaction_left_open_is_ended_by_the_server(tight: Engine):
    with tight.connect() as conn:
        conn.execute(text("SELECT 1"))
        time.sleep(1.0)
        with pytest.raises(DBAPIError) as caught:
            conn.execute(text("SELECT 2"))
    assert as_transient(caught.value) is not None
    # The pool replaced the dead connection: the next transaction works.
    with tight.connect() as conn:
        assert conn.execute(text("SELECT 1")).scalar_one() == 1


def test_a_statement_error_stays_permanent(engine: Engine):
    with pytest.raises(DBAPIError) as caught, engine.connect() as conn:
        conn.execute(text("SELECT 1 / 0"))
    assert as_transient(caught.value) is None


def test_a_server_restart_costs_one_error_not_one_per_pooled_connection(
    engine: Engine, database_url: URL
):
    pooled = make_engine(database_url, pool_size=2, max_overflow=0)
    try:
        with pooled.connect() as first, pooled.connect() as second:
            pids = [
                int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())
                for conn in (first, second)
            ]
        # Both pooled connections die at once, moments after use (too recent to be pinged).
        with engine.begin() as conn:
            for pid in pids:
                conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        with pytest.raises(DBAPIError) as caught, pooled.connect() as conn:
            conn.execute(text("SELECT 1"))
        assert caught.value.connection_invalidated
        assert as_transient(caught.value) is not None
        # The step's retry: the whole pool was invalidated, so both connections are new.
        with pooled.connect() as first, pooled.connect() as second:
            fresh = [
                int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())
                for conn in (first, second)
            ]
        assert not set(fresh) & set(pids)
    finally:
        pooled.dispose()


def test_dagster_storage_pools_replace_a_connection_the_server_dropped(
    engine: Engine, fresh_database: Callable[[str], URL]
):
    url = fresh_database("dagster_ping").set(drivername=DAGSTER_DRIVER)
    storage = {"postgres": {"postgres_url": url.render_as_string(hide_password=False)}}
    with instance_for_test(overrides={"storage": storage}) as instance:
        pool_storage_connections(instance, statement_timeout=0, pool_recycle=3600, max_overflow=2)
        assert instance.get_runs() == []
        with engine.begin() as conn:
            killed = conn.execute(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE datname = :db AND pid <> pg_backend_pid()"
                ),
                {"db": url.database},
            ).scalar_one()
        assert killed >= 1
        # Idle past the threshold: checked at checkout and replaced, the read goes through.
        time.sleep(PING_AFTER_IDLE_SECONDS + 0.2)
        assert instance.get_runs() == []
