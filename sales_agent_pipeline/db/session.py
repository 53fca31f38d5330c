"""Engines and sessions. Repositories and steps never commit: the caller owns the transaction."""

import time
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry

from sales_agent_pipeline.db.urls import app_url

# A pooled connection idle longer than this is checked before use.
PING_AFTER_IDLE_SECONDS = 5.0


def make_engine(
    url: str | URL, *, pool_size: int = 5, ping_after_idle_seconds: float = PING_AFTER_IDLE_SECONDS
) -> Engine:
    """An engine on psycopg 3 whose pool checks connections that sat idle."""
    target = app_url(url) if isinstance(url, str) else url
    engine = create_engine(
        target,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_recycle=1800,
    )
    _ping_when_idle(engine, ping_after_idle_seconds)
    return engine


def _ping_when_idle(engine: Engine, idle_seconds: float) -> None:
    """Check a connection at checkout only when it sat in the pool a while.

    SQLAlchemy's `pool_pre_ping` pings on every checkout: a round trip per transaction,
    which in a batch run (a few dozen short transactions per lead) was a seventh of the
    time its threads spent. A connection handed back moments ago is as alive as the one
    before it; one idle for seconds may have been closed by a server restart. This is
    SQLAlchemy's documented "pessimistic disconnect handling" with events, limited to
    idle connections; DisconnectionError makes the pool replace the connection and retry.
    """

    @event.listens_for(engine, "checkin")
    def checked_in(dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def checked_out(dbapi_connection: Any, record: ConnectionPoolEntry, proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < idle_seconds:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            raise DisconnectionError("pooled connection did not answer") from exc


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded values after commit (they are handed to pydantic models)."""
    return sessionmaker(engine, expire_on_commit=False)
