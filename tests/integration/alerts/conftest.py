"""The stand-in receiver for Slack and PagerDuty, the settings pointing at it (or at
nothing), and a database of this module's own for the conditions that are global."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import Engine
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session, sessionmaker

from sales_agent_pipeline.db import migrate
from sales_agent_pipeline.db.session import make_engine, make_session_factory
from sales_agent_pipeline.settings import get_settings
from tests.integration.alerts.receiver import (
    PAGERDUTY_PATH,
    ROUTING_KEY,
    SLACK_TOKEN,
    Receiver,
    Running,
)

ALERT_VARIABLES = (
    "SLACK_BOT_TOKEN",
    "SLACK_CHANNEL",
    "SLACK_API_BASE_URL",
    "PAGERDUTY_ROUTING_KEY",
    "PAGERDUTY_EVENTS_URL",
    "DAGSTER_UI_PUBLIC_URL",
    "ALERT_OLDEST_PENDING_MINUTES",
    "CANARY_ENABLED",
    "CANARY_CRON",
    "CANARY_LATENCY_GOAL_SECONDS",
)
UI = "https://dagster.example.test"


@pytest.fixture(scope="module")
def running_receiver() -> Iterator[Running]:
    server = Running()
    yield server
    server.stop()


@pytest.fixture
def receiver(running_receiver: Running) -> Receiver:
    """The receiver, emptied for this test."""
    running_receiver.receiver.reset()
    return running_receiver.receiver


def _clear(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ALERT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DAGSTER_UI_PUBLIC_URL", UI)


@pytest.fixture
def configured(receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    """Slack and PagerDuty both configured, both pointing at the receiver."""
    _clear(monkeypatch)
    monkeypatch.setenv("SLACK_BOT_TOKEN", SLACK_TOKEN)
    monkeypatch.setenv("SLACK_CHANNEL", "#alerts-test")
    monkeypatch.setenv("SLACK_API_BASE_URL", f"{receiver.url}/api/")
    monkeypatch.setenv("PAGERDUTY_ROUTING_KEY", ROUTING_KEY)
    monkeypatch.setenv("PAGERDUTY_EVENTS_URL", f"{receiver.url}{PAGERDUTY_PATH}")
    get_settings.cache_clear()
    yield receiver
    get_settings.cache_clear()


@pytest.fixture
def unconfigured(receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    """Neither Slack nor PagerDuty configured (the receiver only shows nothing came)."""
    _clear(monkeypatch)
    get_settings.cache_clear()
    yield receiver
    get_settings.cache_clear()


@pytest.fixture(scope="module")
def own_database(fresh_database: Callable[[str], URL]) -> URL:
    """A migrated database of this module's own: the global conditions (the backlog, the
    canary) see only this module's rows."""
    url = fresh_database("alerts")
    migrate.upgrade(url)
    return url


@pytest.fixture(scope="module")
def own_engine(own_database: URL) -> Iterator[Engine]:
    engine = make_engine(own_database, pool_size=2)
    yield engine
    engine.dispose()


@pytest.fixture
def own_sessions(own_engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(own_engine)
