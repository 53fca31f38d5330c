"""The app's engine against a real server: a pooled connection the server dropped while it
sat idle is replaced at checkout, not handed to a step to fail on."""

from __future__ import annotations

from sqlalchemy import Engine, text
from sqlalchemy.engine import URL

from sales_agent_pipeline.db.session import make_engine


def _backend_pid(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


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
