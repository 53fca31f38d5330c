"""The canary's metrics (sales_agent_canary_*) from the synthetic workflows: when it last
succeeded, how long it took, and whether the newest one is late."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import URL, Engine
from sqlalchemy.orm import Session

from sales_agent_pipeline.db import migrate
from sales_agent_pipeline.db.repositories.metrics import canary
from sales_agent_pipeline.db.session import make_engine
from sales_agent_pipeline.secretbox import SecretBox, generate_key
from tests.integration.api.conftest import make_tenant
from tests.integration.api.operator_support import add_workflow

GOAL = 120.0


@pytest.fixture(scope="module")
def own_engine(fresh_database: Callable[[str], URL]) -> Iterator[Engine]:
    # A database of its own: "the newest canary" is global.
    url = fresh_database("canary_metrics")
    migrate.upgrade(url)
    engine = make_engine(url, pool_size=2)
    yield engine
    engine.dispose()


def _canary(engine: Engine, status: str, posted_ago: float, took: float | None) -> None:
    tenant = make_tenant(engine, SecretBox([generate_key()]), webhook_secret=None)
    created = datetime.now(UTC) - timedelta(seconds=posted_ago)
    completed = created + timedelta(seconds=took) if took is not None else None
    add_workflow(
        engine,
        tenant,
        "canary+canary-1@canary.example.com",
        status=status,
        created_at=created,
        completed_at=completed,
        synthetic=True,
    )


def _read(engine: Engine) -> tuple[float, float, bool]:
    with Session(engine) as session:
        figures = canary(session, GOAL)
    return figures.last_success_at, figures.latency_seconds, figures.late


def test_the_canary_figures_follow_the_newest_canary(own_engine: Engine) -> None:
    assert _read(own_engine) == (0.0, 0.0, False)  # none yet: nothing is late

    _canary(own_engine, "succeeded", posted_ago=600, took=40)
    last, latency, late = _read(own_engine)
    assert latency == pytest.approx(40, abs=1)
    assert last == pytest.approx(datetime.now(UTC).timestamp() - 560, abs=5)
    assert not late

    # Still running, within the goal: not late yet; past it: late.
    _canary(own_engine, "running", posted_ago=30, took=None)
    assert not _read(own_engine)[2]
    _canary(own_engine, "running", posted_ago=GOAL + 30, took=None)
    # (the newest is the one posted 30 s ago: still on time)
    assert not _read(own_engine)[2]


def test_a_canary_that_succeeded_slower_than_the_goal_is_late(own_engine: Engine) -> None:
    _canary(own_engine, "succeeded", posted_ago=10, took=GOAL + 35)
    _last, latency, late = _read(own_engine)
    assert latency == pytest.approx(GOAL + 35, abs=1)
    assert late


def test_a_failed_or_stuck_canary_is_late_once_past_the_goal(own_engine: Engine) -> None:
    _canary(own_engine, "failed", posted_ago=5, took=2)
    assert not _read(own_engine)[2]  # failed, but posted only 5 s ago
    _canary(own_engine, "queued", posted_ago=-1, took=None)  # the newest: just posted
    assert not _read(own_engine)[2]
