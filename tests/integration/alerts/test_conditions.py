"""The alert_conditions sensor on a real database, sending to the local stand-in for Slack
and PagerDuty: each condition is sent once however many ticks see it, resolved once when it
clears, under a stable dedup_key; nothing is sent when neither is configured; a delivery the
receiver refused (500, 429) is sent again on a later tick, and only then."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from dagster import DagsterInstance, SkipReason, build_sensor_context
from sqlalchemy import Engine, func, text, update
from sqlalchemy.orm import Session, sessionmaker

from sales_agent_pipeline.db.models import AlertState, Tenant, Workflow
from sales_agent_pipeline.db.repositories import reconciliation
from sales_agent_pipeline.db.repositories.breakers import PostgresBreakerStore
from sales_agent_pipeline.db.urls import libpq_dsn
from sales_agent_pipeline.defs import alerts as defs_alerts
from sales_agent_pipeline.defs.resources import DatabaseResource, SettingsResource
from sales_agent_pipeline.domain.breaker import Breaker
from sales_agent_pipeline.domain.enums import BreakerState
from sales_agent_pipeline.secretbox import SecretBox, generate_key
from sales_agent_pipeline.usecases import alerts as usecase
from sales_agent_pipeline.workflow.breaker import closed
from tests.integration.alerts.conftest import UI
from tests.integration.alerts.receiver import PAGERDUTY_PATH, ROUTING_KEY, SLACK_PATH, Receiver
from tests.integration.api.conftest import make_tenant
from tests.integration.api.operator_support import add_workflow

SENSOR = defs_alerts.SENSORS[1]


@pytest.fixture
def engine_(own_engine: Engine) -> Engine:
    """This module's database, emptied before each test (its conditions are global)."""
    with own_engine.begin() as connection:
        connection.execute(
            text(
                "TRUNCATE alert_states, circuit_breakers, reconciliation_reports, "
                "workflows, form_submissions, tenants CASCADE"
            )
        )
    return own_engine


@pytest.fixture(scope="module")
def instance() -> Iterator[DagsterInstance]:
    with DagsterInstance.ephemeral() as instance:
        yield instance


@dataclass
class Ticker:
    """The sensor evaluated as the daemon does, its cursor carried from tick to tick."""

    engine: Engine
    instance: DagsterInstance
    cursor: str | None = None

    def __call__(self) -> str:
        resources = {
            "database": DatabaseResource(url=libpq_dsn(self.engine.url)),
            "settings": SettingsResource(),
            "alert_notifiers": defs_alerts.AlertNotifiersResource(settings=SettingsResource()),
        }
        with build_sensor_context(
            instance=self.instance, cursor=self.cursor, resources=resources
        ) as context:
            result = SENSOR(context)
            self.cursor = context.cursor
        assert isinstance(result, SkipReason)
        return result.skip_message or ""


@pytest.fixture
def tick(engine_: Engine, instance: DagsterInstance) -> Ticker:
    return Ticker(engine_, instance)


def tenant_of(engine: Engine) -> Tenant:
    return make_tenant(engine, SecretBox([generate_key()]), webhook_secret=None)


def lead(engine: Engine, tenant: Tenant, status: str, **values: Any) -> uuid.UUID:
    return add_workflow(
        engine, tenant, f"lead.{uuid.uuid4().hex[:8]}@acme.example", status=status, **values
    )


def set_status(engine: Engine, workflow_id: uuid.UUID, **values: Any) -> None:
    with Session(engine) as session, session.begin():
        session.execute(update(Workflow).where(Workflow.id == workflow_id).values(**values))


def open_breaker(engine: Engine, tenant: Tenant, vendor: str = "crm") -> Breaker:
    """The breaker as the pipeline's store opens it after a storm."""
    now = datetime.now(UTC)
    store = PostgresBreakerStore(sessionmaker(engine))
    opened = store.replace(
        store.get(vendor, tenant.id),
        Breaker(
            vendor=vendor,
            tenant_id=tenant.id,
            state=BreakerState.OPEN,
            consecutive_failures=5,
            trips=1,
            opened_at=now,
            open_until=now + timedelta(minutes=2),
            last_error="HubSpot answered 503 Service Unavailable",
        ),
    )
    assert opened is not None
    return opened


def close_breaker(engine: Engine, breaker: Breaker) -> None:
    store = PostgresBreakerStore(sessionmaker(engine))
    assert store.replace(breaker, closed(breaker)) is not None


def add_report(engine: Engine, tenant: Tenant, missing: int, run_id: str) -> None:
    with Session(engine) as session, session.begin():
        reconciliation.add_report(
            session,
            tenant_id=tenant.id,
            form_id="form-guid-1",
            dagster_run_id=run_id,
            upstream_seen=5,
            via_webhook=5 - missing,
            missing=missing,
        )


def row(engine: Engine, key: str) -> AlertState | None:
    with Session(engine) as session:
        return session.get(AlertState, key)


@pytest.fixture
def thresholds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALERT_OLDEST_PENDING_MINUTES", "60")
    monkeypatch.setenv("CANARY_ENABLED", "true")
    monkeypatch.setenv("SANDBOX", "true")  # the canary posts here: its alert is on
    monkeypatch.setenv("CANARY_CRON", "*/10 * * * *")
    monkeypatch.setenv("CANARY_LATENCY_GOAL_SECONDS", "120")


def test_each_condition_is_sent_once_and_resolved_once_under_a_stable_key(
    configured: Receiver, thresholds: None, engine_: Engine, tick: Ticker
) -> None:
    tenant = tenant_of(engine_)
    portal = tenant.portal_id
    now = datetime.now(UTC)
    breaker = open_breaker(engine_, tenant)
    dead = [lead(engine_, tenant, "dead_letter") for _ in range(2)]
    add_report(engine_, tenant, missing=3, run_id="reconcile-run-1")
    waiting = lead(engine_, tenant, "received", created_at=now - timedelta(hours=3))
    canary = lead(engine_, tenant, "running", synthetic=True, created_at=now - timedelta(minutes=5))
    keys = {
        "breaker": f"breaker:crm:{portal}",
        "dead": f"dead-letters:{portal}",
        "missing": f"reconciliation-missing:{portal}",
        "backlog": "backlog-stale",
        "canary": "canary-late",
    }

    for _ in range(3):
        said = tick()
    # The first tick opened and sent them; the later ones sent nothing.
    assert said.startswith("0 opened, 0 cleared, 0 notification(s) sent"), said
    for key in keys.values():
        assert configured.events_for(key) == ["trigger"], key
        assert len(configured.slack_for(key)) == 1, key
        state = row(engine_, key)
        assert state is not None
        assert state.status == "firing"
        assert state.notified_at is not None

    triggers = {e["dedup_key"]: e for e in configured.pagerduty() if e["event_action"] == "trigger"}
    breaker_event = triggers[keys["breaker"]]
    assert breaker_event["routing_key"] == ROUTING_KEY
    assert breaker_event["payload"]["severity"] == "error"
    assert breaker_event["payload"]["component"] == "crm"
    assert breaker_event["payload"]["custom_details"]["portal_id"] == portal
    assert "503" in breaker_event["payload"]["custom_details"]["last_error"]
    assert (
        breaker_event["links"][0]["href"]
        == f"{UI}/locations/sales_agent_pipeline/sensors/received_leads_sensor"
    )
    assert triggers[keys["missing"]]["links"][0]["href"] == f"{UI}/runs/reconcile-run-1"
    assert str(waiting) in triggers[keys["backlog"]]["links"][0]["href"]
    assert triggers[keys["backlog"]]["payload"]["severity"] == "critical"
    assert str(canary) in triggers[keys["canary"]]["links"][0]["href"]
    assert triggers[keys["dead"]]["payload"]["custom_details"]["dead_letters"] == 2
    slack = configured.slack_for(keys["breaker"])[0].body
    assert slack["channel"] == "#alerts-test"
    assert f"<{UI}/locations/sales_agent_pipeline/sensors/received_leads_sensor|" in slack["text"]

    # Every condition clears.
    close_breaker(engine_, breaker)
    for workflow_id in dead:
        set_status(engine_, workflow_id, status="failed")
    add_report(engine_, tenant, missing=0, run_id="reconcile-run-2")
    set_status(engine_, waiting, status="succeeded")
    set_status(engine_, canary, status="succeeded", completed_at=func.now())
    lead(
        engine_,
        tenant,
        "succeeded",
        synthetic=True,
        created_at=now - timedelta(seconds=40),
        completed_at=now - timedelta(seconds=10),
    )
    for _ in range(2):
        tick()

    for key in keys.values():
        assert configured.events_for(key) == ["trigger", "resolve"], key
        messages = configured.slack_for(key)
        assert len(messages) == 2, key
        # The resolution is threaded on the trigger's message.
        assert messages[1].body["thread_ts"] == messages[0].answer["ts"], key
        assert "RESOLVED" in messages[1].body["text"]
        state = row(engine_, key)
        assert state is not None
        assert state.status == "resolved"
        assert state.resolved_at is not None


def test_nothing_is_sent_when_neither_is_configured_and_the_state_is_still_kept(
    unconfigured: Receiver, thresholds: None, engine_: Engine, tick: Ticker
) -> None:
    tenant = tenant_of(engine_)
    breaker = open_breaker(engine_, tenant, vendor="mail")
    key = f"breaker:mail:{tenant.portal_id}"

    said = tick()
    assert key in said
    state = row(engine_, key)
    assert state is not None
    assert state.status == "firing"
    assert state.notified_at is None
    assert state.details["channels"] == {}

    close_breaker(engine_, breaker)
    tick()
    state = row(engine_, key)
    assert state is not None
    assert state.status == "resolved"
    assert unconfigured.requests == []


def test_a_refused_delivery_is_not_recorded_and_is_sent_on_a_later_tick(
    configured: Receiver, thresholds: None, engine_: Engine, tick: Ticker
) -> None:
    tenant = tenant_of(engine_)
    dead = lead(engine_, tenant, "dead_letter")
    key = f"dead-letters:{tenant.portal_id}"
    configured.fail(PAGERDUTY_PATH, 500)
    configured.fail(SLACK_PATH, 429)

    said = tick()
    assert "2 failed (sent again next tick)" in said
    state = row(engine_, key)
    assert state is not None
    assert state.status == "firing"
    assert state.notified_at is None
    assert state.details["channels"] == {}
    assert configured.events_for(key) == []
    assert configured.pagerduty(accepted=False)  # it was tried

    tick()
    tick()
    assert configured.events_for(key) == ["trigger"]
    assert len(configured.slack_for(key)) == 1

    # The resolution refused once (PagerDuty throttling): the alert stays firing, Slack is
    # told once, PagerDuty on the next tick.
    set_status(engine_, dead, status="failed")
    configured.fail(PAGERDUTY_PATH, 429)
    tick()
    state = row(engine_, key)
    assert state is not None
    assert state.status == "firing"
    assert configured.events_for(key) == ["trigger"]
    tick()
    assert configured.events_for(key) == ["trigger", "resolve"]
    assert len(configured.slack_for(key)) == 2
    state = row(engine_, key)
    assert state is not None
    assert state.status == "resolved"


def test_dead_letters_alert_when_they_grow_and_clear_when_none_is_left(
    configured: Receiver, thresholds: None, engine_: Engine, tick: Ticker
) -> None:
    tenant = tenant_of(engine_)
    key = f"dead-letters:{tenant.portal_id}"
    first = lead(engine_, tenant, "dead_letter")
    tick()
    assert configured.events_for(key) == ["trigger"]

    # More of them: the same alert, not a second one; fewer but some: still firing.
    second = lead(engine_, tenant, "dead_letter")
    tick()
    set_status(engine_, first, status="failed")
    tick()
    assert configured.events_for(key) == ["trigger"]
    state = row(engine_, key)
    assert state is not None
    assert state.status == "firing"

    set_status(engine_, second, status="succeeded")
    tick()
    assert configured.events_for(key) == ["trigger", "resolve"]

    # A dead letter that was there before the sensor's cursor knew of it (a new cursor):
    # it rose from nothing, so it alerts, under the same key, as a new PagerDuty alert.
    lead(engine_, tenant, "dead_letter")
    tick.cursor = None
    tick()
    assert configured.events_for(key) == ["trigger", "resolve", "trigger"]


def test_the_canary_is_late_when_none_came_for_two_intervals(
    unconfigured: Receiver, thresholds: None, engine_: Engine
) -> None:
    links = usecase.Links(UI)
    now = datetime.now(UTC)
    limits = usecase.Thresholds(
        oldest_pending=timedelta(hours=1),
        canary_goal=timedelta(minutes=2),
        canary_interval=timedelta(minutes=10),
    )

    def canary_alerts(watching_since: datetime) -> list[str]:
        with Session(engine_) as session:
            evaluation = usecase.evaluate(
                session,
                now=now,
                thresholds=limits,
                links=links,
                previous_dead_letters={},
                firing=set(),
                watching_since=watching_since,
            )
        return [a.summary for a in evaluation.active if a.key == "canary-late"]

    # None ever: late only once the checks have watched for two intervals.
    assert canary_alerts(now - timedelta(minutes=5)) == []
    assert canary_alerts(now - timedelta(minutes=25))
    tenant = tenant_of(engine_)
    # One that finished on time 25 minutes ago: none since, late.
    lead(
        engine_,
        tenant,
        "succeeded",
        synthetic=True,
        created_at=now - timedelta(minutes=25),
        completed_at=now - timedelta(minutes=24),
    )
    [late] = canary_alerts(now - timedelta(hours=1))
    assert "no canary lead since" in late
    # A new one still within its goal: neither late nor absent.
    lead(engine_, tenant, "running", synthetic=True, created_at=now - timedelta(seconds=30))
    assert canary_alerts(now - timedelta(hours=1)) == []
    # Failed canaries are late; a real lead never counts as a canary.
    lead(
        engine_,
        tenant,
        "failed",
        synthetic=True,
        created_at=now - timedelta(seconds=20),
        completed_at=now,
    )
    lead(engine_, tenant, "succeeded", created_at=now, completed_at=now)
    [failed] = canary_alerts(now - timedelta(hours=1))
    assert "is failed" in failed
