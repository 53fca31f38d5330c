"""Gmail's quota shared through PostgreSQL, on a real server. The quota commits its rows (it
opens its own transactions), so each test uses a key of its own and deletes it afterwards;
short windows keep the tests to a few seconds."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, delete, select
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

from sales_agent_pipeline.db.models import QuotaBucket, QuotaUsage
from sales_agent_pipeline.db.quota import PostgresQuota
from sales_agent_pipeline.db.session import make_engine
from sales_agent_pipeline.domain.errors import TransientError


@pytest.fixture
def key(engine: Engine) -> Iterator[str]:
    """A quota key of this test's own; its bucket and usage rows go when the test ends."""
    name = f"test:{uuid.uuid4().hex}"
    yield name
    with Session(engine) as session, session.begin():
        session.execute(delete(QuotaBucket).where(QuotaBucket.key == name))


@pytest.fixture
def process_engines(database_url: URL) -> Iterator[tuple[Engine, Engine]]:
    """Two engines with pools of their own, standing in for two run processes."""
    engines = (make_engine(database_url, pool_size=4), make_engine(database_url, pool_size=4))
    yield engines
    for engine in engines:
        engine.dispose()


def _usage(engine: Engine, key: str) -> list[tuple[int, datetime, int, str]]:
    with Session(engine) as session:
        rows = session.execute(
            select(QuotaUsage.id, QuotaUsage.at, QuotaUsage.units, QuotaUsage.lane)
            .where(QuotaUsage.key == key)
            .order_by(QuotaUsage.at, QuotaUsage.id)
        ).all()
    return [(row.id, row.at, row.units, row.lane) for row in rows]


def _timed(quota: PostgresQuota, units: int) -> float:
    started = time.monotonic()
    quota.acquire(units, max_wait_seconds=5)
    return time.monotonic() - started


def test_two_processes_never_admit_more_than_the_limit_in_a_window(
    engine: Engine, process_engines: tuple[Engine, Engine], key: str
) -> None:
    window, limit = 2.0, 100
    quotas = [
        PostgresQuota(e, key=key, limit=limit, window_seconds=window) for e in process_engines
    ]
    # The quota drops rows once they leave the window, so keep every row seen meanwhile.
    seen: dict[int, tuple[datetime, int]] = {}
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            for row_id, at, units, _ in _usage(engine, key):
                seen[row_id] = (at, units)
            time.sleep(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    started = time.monotonic()
    try:
        # 300 units in 10-unit calls from 8 threads: three windows' worth.
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(lambda i: quotas[i % 2].acquire(10, max_wait_seconds=10), range(30)))
    finally:
        done.set()
        watcher.join()
    for row_id, at, units, _ in _usage(engine, key):
        seen[row_id] = (at, units)
    elapsed = time.monotonic() - started

    admitted = sorted(seen.values())
    assert len(admitted) == 30
    span = timedelta(seconds=window)
    for at, _ in admitted:
        in_window = sum(units for other, units in admitted if at - span < other <= at)
        assert in_window <= limit, f"{in_window} units in the window ending {at}"
    # The first 100 units went in one burst...
    ats = [at for at, _ in admitted]
    assert ats[9] - ats[0] < span
    # ...and each later call waited for the oldest to leave the window (every call is 10
    # units, so the k-th needs the (k-10)-th gone), and not much longer than that.
    lags = [(ats[k] - ats[k - 10] - span).total_seconds() for k in range(10, 30)]
    assert all(0 <= lag < 1.0 for lag in lags), lags
    assert elapsed >= 2 * window


def test_an_import_stops_at_its_share_and_live_leads_get_the_rest(engine: Engine, key: str) -> None:
    limit = 100
    bulk = PostgresQuota(engine, key=key, limit=limit, lane="import", share=0.5, window_seconds=30)
    live = PostgresQuota(engine, key=key, limit=limit, window_seconds=30)

    for _ in range(5):
        bulk.acquire(10, max_wait_seconds=0)
    with pytest.raises(TransientError):
        bulk.acquire(10, max_wait_seconds=0)
    # The other half is the live lane's, at once.
    assert max(_timed(live, 10) for _ in range(5)) < 1
    with pytest.raises(TransientError):
        live.acquire(10, max_wait_seconds=0)

    lanes = [lane for _, _, _, lane in _usage(engine, key)]
    assert sorted(lanes) == ["import"] * 5 + ["live"] * 5


def test_an_import_waits_for_its_own_rows_even_when_live_ones_are_older(
    engine: Engine, key: str
) -> None:
    limit, window = 100, 3.0
    live = PostgresQuota(engine, key=key, limit=limit, window_seconds=window)
    bulk = PostgresQuota(
        engine, key=key, limit=limit, lane="import", share=0.5, window_seconds=window
    )
    live.acquire(30)
    time.sleep(1.0)
    bulk.acquire(50)
    # Both bounds are broken: the window's (80 + 30 > 100) and the lane's (50 + 30 > 50).
    # The live row leaving first is not enough; the import's own row must leave.
    with pytest.raises(TransientError) as raised:
        bulk.acquire(30, max_wait_seconds=0)
    assert raised.value.retry_after_seconds is not None
    # (The live row leaves within window - 1 s.)
    assert window - 0.9 < raised.value.retry_after_seconds <= window


def test_a_wait_past_the_deadline_raises_with_the_time_to_retry(engine: Engine, key: str) -> None:
    quota = PostgresQuota(engine, key=key, limit=100, window_seconds=30)
    quota.acquire(250)  # clamped to the whole window
    started = time.monotonic()
    with pytest.raises(TransientError) as raised:
        quota.acquire(10, max_wait_seconds=1)
    # It gave up at once rather than sleeping towards a deadline it could not meet.
    assert time.monotonic() - started < 1
    assert raised.value.retry_after_seconds is not None
    assert 28 < raised.value.retry_after_seconds <= 30
    assert [units for _, _, units, _ in _usage(engine, key)] == [100]


def test_rows_that_left_the_window_are_deleted(engine: Engine, key: str) -> None:
    quota = PostgresQuota(engine, key=key, limit=100, window_seconds=0.5)
    quota.acquire(10)
    quota.acquire(10)
    time.sleep(0.6)
    quota.acquire(10)
    assert [units for _, _, units, _ in _usage(engine, key)] == [10]
