"""Engines and sessions. Repositories and steps never commit: the caller owns the transaction."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import ConnectionPoolEntry

from sales_agent_pipeline.db.urls import app_url
from sales_agent_pipeline.settings import Settings, get_settings

# A pooled connection idle longer than this is checked before use.
PING_AFTER_IDLE_SECONDS = 5.0


@dataclass(frozen=True)
class SessionLimits:
    """What every connection of an engine is held to, set by the server at connect time.

    Passed as libpq options (`-c name=value`), so they hold from the first statement of
    every connection, pooled or new, without a SET per checkout. Each ends its wait with
    an error db/errors.as_transient classifies as transient (the step is retried):
    - connect_timeout: a server that does not answer (restarting, unreachable) fails the
      connect in seconds instead of the OS's minutes;
    - lock_timeout, below the statement timeout: a wait behind another transaction's lock
      surfaces as LockNotAvailable, naming the lock, not as a generic timeout;
    - statement_timeout: a statement past it is cancelled (QueryCanceled);
    - idle_in_transaction_session_timeout: the server ends a session that left a transaction
      open (a thread that died, a lock held across a slow call), freeing its locks.
    Migrations use their own engine (migrations/env.py) without these limits; a bulk path
    that needs longer passes its own SessionLimits. 0 turns a limit off.
    """

    connect_timeout_seconds: int = 5
    statement_timeout_ms: int = 30_000
    lock_timeout_ms: int = 10_000
    idle_in_transaction_timeout_ms: int = 60_000

    @classmethod
    def from_settings(cls, settings: Settings) -> SessionLimits:
        """The limits DB_CONNECT_TIMEOUT_SECONDS and the DB_*_TIMEOUT_MS settings name."""
        return cls(
            connect_timeout_seconds=settings.db_connect_timeout_seconds,
            statement_timeout_ms=settings.db_statement_timeout_ms,
            lock_timeout_ms=settings.db_lock_timeout_ms,
            idle_in_transaction_timeout_ms=settings.db_idle_in_transaction_timeout_ms,
        )

    def connect_args(self, url: URL) -> dict[str, Any]:
        """psycopg's connect arguments; options the URL already carries are kept first."""
        server = {
            "statement_timeout": self.statement_timeout_ms,
            "lock_timeout": self.lock_timeout_ms,
            "idle_in_transaction_session_timeout": self.idle_in_transaction_timeout_ms,
        }
        ours = " ".join(f"-c {name}={value}" for name, value in server.items())
        theirs = url.query.get("options")
        if isinstance(theirs, tuple):
            theirs = " ".join(theirs)
        return {
            "connect_timeout": self.connect_timeout_seconds,
            "options": f"{theirs} {ours}" if theirs else ours,
        }


def make_engine(
    url: str | URL,
    *,
    pool_size: int | None = None,
    max_overflow: int | None = None,
    limits: SessionLimits | None = None,
    ping_after_idle_seconds: float = PING_AFTER_IDLE_SECONDS,
) -> Engine:
    """An engine on psycopg 3 whose connections carry the session limits and whose pool
    checks connections that sat idle.

    Unset arguments come from the process's settings (DB_POOL_SIZE, DB_MAX_OVERFLOW, the
    DB_*_TIMEOUT settings). The pool's size plus its overflow is a hard cap: a thread past
    it waits for a connection, so db/budget.py can add every process's share up.
    """
    target = app_url(url) if isinstance(url, str) else url
    if pool_size is None or max_overflow is None or limits is None:
        settings = get_settings()
        pool_size = settings.db_pool_size if pool_size is None else pool_size
        max_overflow = settings.db_max_overflow if max_overflow is None else max_overflow
        limits = limits or SessionLimits.from_settings(settings)
    engine = create_engine(
        target,
        pool_size=pool_size,
        max_overflow=max_overflow,
        pool_recycle=1800,
        connect_args=limits.connect_args(target),
    )
    ping_when_idle(engine, ping_after_idle_seconds)
    return engine


def ping_when_idle(engine: Engine, idle_seconds: float) -> None:
    """Check a connection at checkout only when it sat in the pool a while.

    SQLAlchemy's `pool_pre_ping` pings on every checkout: a round trip per transaction,
    which in a batch run (a few dozen short transactions per lead) was a seventh of the
    time its threads spent. A connection handed back moments ago is as alive as the one
    before it; one idle for seconds may have been closed by a server restart. This is
    SQLAlchemy's documented "pessimistic disconnect handling" with events, limited to
    idle connections; DisconnectionError makes the pool replace the connection and retry.
    A connection the server dropped within the last seconds fails its first statement
    instead: SQLAlchemy sees a disconnect, invalidates the whole pool (every connection
    older than the failure, so the restart costs one error, not one per pooled connection),
    and db/errors.as_transient makes that one step a retry.
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
