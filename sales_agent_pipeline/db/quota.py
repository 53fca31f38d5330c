"""Vendor quotas shared by every process through PostgreSQL: a sliding-window log.

Gmail's per-user units per minute and HubSpot's per-portal requests per 10 s.

Each Dagster run is its own process, so an in-process limiter cannot see the units other
runs (and the run before it) took. Here every admitted call is a `quota_usage` row stamped
with the database's clock, and a caller admits itself only while it holds the row lock of
the quota's `quota_buckets` row, so the check and the record are one atomic step for all
processes. The window is Gmail's minute plus a margin, so bursts may use the whole
per-minute budget and the quiet phases of a run leave nothing on the table.

Two lanes keep live leads ahead of bulk imports: an import is admitted only while its own
units stay within `share` of the window, so it can never take the last (1 - share).

Hand-written rather than pyrate-limiter's PostgresBucket, which stores one row per unit
(a send is 100 rows), takes `LOCK TABLE ... NOWAIT` and fails instead of waiting when
another process holds it, needs psycopg_pool beside our SQLAlchemy pool, creates its
tables itself outside Alembic, and has no notion of lanes or priority.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Literal

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import OperationalError

from sales_agent_pipeline.domain.errors import TransientError
from sales_agent_pipeline.domain.quotas import DEFAULT_MAX_WAIT_SECONDS, QUOTA_WINDOW_SECONDS

Lane = Literal["live", "import"]

# Shortest pause between two tries, so a wait rounded to zero cannot spin on the lock.
MIN_SLEEP_SECONDS = 0.01

# A quota log needs no durability: after a crash the lost rows only make the window look
# emptier than Gmail's for one minute, and the 429 retry covers that. Not waiting for the
# WAL flush keeps the time the mutex is held to the statements themselves.
_TRANSACTION_SETTINGS = text(
    "SELECT set_config('synchronous_commit', 'off', true),"
    " set_config('lock_timeout', :lock_timeout, true)"
)
_ENSURE_BUCKET = text("INSERT INTO quota_buckets (key) VALUES (:key) ON CONFLICT DO NOTHING")
_LOCK_BUCKET = text("SELECT key FROM quota_buckets WHERE key = :key FOR UPDATE")

# A statement of its own after the lock: under READ COMMITTED it takes a new snapshot and
# so sees the rows the previous holder committed before releasing the lock (one statement
# with the lock inside a CTE would sum a snapshot taken before it waited). It also drops
# the rows that left the window, cheaply along the (key, at) index.
_TAKE = text(
    """
    WITH clock AS (SELECT clock_timestamp() AS now),
    purged AS (
        DELETE FROM quota_usage u USING clock
        WHERE u.key = :key AND u.at <= clock.now - make_interval(secs => :window)
    ),
    used AS (
        SELECT coalesce(sum(u.units), 0) AS total,
               coalesce(sum(u.units) FILTER (WHERE u.lane = 'import'), 0) AS import_total
        FROM quota_usage u, clock
        WHERE u.key = :key AND u.at > clock.now - make_interval(secs => :window)
    ),
    verdict AS (
        SELECT total, import_total,
               total + :units <= :limit
               AND (NOT :is_import OR import_total + :units <= :lane_limit) AS admitted
        FROM used
    ),
    taken AS (
        INSERT INTO quota_usage (key, at, units, lane)
        SELECT :key, clock.now, :units, :lane FROM clock, verdict WHERE verdict.admitted
    )
    SELECT verdict.admitted, verdict.total, verdict.import_total, clock.now
    FROM verdict, clock
    """
)

# How long until enough of the oldest rows leave the window: the first row at which the
# running sum (of all lanes, and of the import lane) reaches what is in excess. The rows
# are the window as the verdict saw it (:now): on a clock read later, a row that left in
# between would be missing from the sums and the wait would skip to the row after it.
_WAIT = text(
    """
    WITH recent AS (
        SELECT u.at,
               sum(u.units) OVER (ORDER BY u.at, u.id) AS running,
               coalesce(sum(u.units) FILTER (WHERE u.lane = 'import')
                        OVER (ORDER BY u.at, u.id), 0) AS import_running
        FROM quota_usage u
        WHERE u.key = :key AND u.at > :now - make_interval(secs => :window)
    )
    SELECT extract(epoch FROM greatest(
        (SELECT min(at) FROM recent WHERE running >= :excess),
        (SELECT min(at) FROM recent WHERE import_running >= :import_excess)
    ) + make_interval(secs => :window) - clock_timestamp())
    """
)


class PostgresQuota:
    """A weighted sliding-window quota shared by every process that uses the same key."""

    def __init__(
        self,
        engine: Engine,
        *,
        key: str,
        limit: int,
        lane: Lane = "live",
        share: float = 1.0,
        window_seconds: float = QUOTA_WINDOW_SECONDS,
    ) -> None:
        if lane not in ("live", "import"):
            raise ValueError(f"unknown quota lane {lane!r}")
        if not 0 < share <= 1:
            raise ValueError(f"quota share must be in (0, 1], not {share}")
        self._engine = engine
        self.key = key
        self.lane: Lane = lane
        # What one window holds: Gmail's units per minute, HubSpot's requests per 10 s.
        self.limit = max(1, limit)
        self.lane_limit = self.limit if lane == "live" else max(1, int(self.limit * share))
        self.window_seconds = window_seconds
        with engine.begin() as conn:
            conn.execute(_ENSURE_BUCKET, {"key": key})

    def acquire(self, units: int, max_wait_seconds: float = DEFAULT_MAX_WAIT_SECONDS) -> None:
        """Block until `units` fit in the window, then record them (clamped to the lane's)."""
        weight = max(1, min(units, self.lane_limit))
        deadline = time.monotonic() + max_wait_seconds
        while True:
            wait = self._try(weight, deadline)
            if wait is None:
                return
            if time.monotonic() + wait > deadline:
                raise TransientError(
                    f"quota {self.key} ({self.lane} lane) full for {max_wait_seconds:g}s",
                    retry_after_seconds=wait,
                )
            time.sleep(max(wait, MIN_SLEEP_SECONDS))

    def _try(self, weight: int, deadline: float) -> float | None:
        """One short transaction: None when admitted, else the seconds until room frees up."""
        # Never wait on the lock past the caller's deadline (lock_timeout 0 would disable it).
        lock_ms = max(1, int((deadline - time.monotonic()) * 1000))
        params = {
            "key": self.key,
            "window": self.window_seconds,
            "units": weight,
            "limit": self.limit,
            "lane": self.lane,
            "is_import": self.lane == "import",
            "lane_limit": self.lane_limit,
        }
        try:
            # The design needs a new snapshot per statement, whatever the engine's default.
            with (
                self._engine.connect().execution_options(isolation_level="READ COMMITTED") as conn,
                conn.begin(),
            ):
                conn.execute(_TRANSACTION_SETTINGS, {"lock_timeout": f"{lock_ms}ms"})
                self._lock(conn)
                admitted, total, import_total, now = conn.execute(_TAKE, params).one()
                if admitted:
                    return None
                return self._wait(conn, weight, int(total), int(import_total), now)
        except OperationalError as exc:
            # The lock was not granted in time, or the database was unreachable.
            raise TransientError(
                f"quota {self.key} unavailable: {type(exc.orig).__name__}",
                retry_after_seconds=1.0,
            ) from exc

    def _lock(self, conn: Connection) -> None:
        if conn.execute(_LOCK_BUCKET, {"key": self.key}).first() is None:
            # The row went away (an operator cleared the quotas): put it back.
            conn.execute(_ENSURE_BUCKET, {"key": self.key})
            conn.execute(_LOCK_BUCKET, {"key": self.key})

    def _wait(
        self, conn: Connection, weight: int, total: int, import_total: int, now: datetime
    ) -> float:
        excess = total + weight - self.limit
        import_excess = import_total + weight - self.lane_limit if self.lane == "import" else 0
        wait = conn.execute(
            _WAIT,
            {
                "key": self.key,
                "now": now,
                "window": self.window_seconds,
                # NULL matches no row, and greatest() ignores it: no bound from that sum.
                "excess": excess if excess > 0 else None,
                "import_excess": import_excess if import_excess > 0 else None,
            },
        ).scalar_one()
        # Never None (the excess is at most what the window holds); a window, to be safe.
        return float(wait) if wait is not None else self.window_seconds
