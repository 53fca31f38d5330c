"""The done-when of issue 18's alerts: a forced HubSpot outage in the sandbox opens a
tenant's crm breaker through real runs; the alert_conditions sensor, evaluated against a
real Dagster instance, sends PagerDuty one trigger however many ticks; the outage ends, the
leads complete, the breaker closes, and PagerDuty gets the resolve under the same
dedup_key (and Slack a reply in the trigger's thread)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from dagster import DagsterInstance, SkipReason, build_sensor_context
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from sales_agent_pipeline.db.models import CircuitBreaker, Workflow
from sales_agent_pipeline.db.urls import libpq_dsn
from sales_agent_pipeline.defs import alerts as defs_alerts
from sales_agent_pipeline.defs.resources import DatabaseResource, SettingsResource
from sales_agent_pipeline.settings import get_settings
from tests.integration.alerts.conftest import UI
from tests.integration.alerts.receiver import ROUTING_KEY, Receiver
from tests.integration.pipeline.conftest import (  # noqa: F401 (fixtures)
    instance,
    pipeline_env,
    run,
    sandbox,
)
from tests.integration.pipeline.tenancy import add_company, secrets_of, submit
from tests.sandbox.conftest import Admin, admin_client, sandbox_url  # noqa: F401

THRESHOLD = 3


@pytest.fixture
def breaker_env(pipeline_env: None, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    monkeypatch.setenv("BREAKER_FAILURE_THRESHOLD", str(THRESHOLD))
    monkeypatch.setenv("BREAKER_COOLDOWN_SECONDS", "120")  # the test moves time itself
    monkeypatch.setenv("BREAKER_CACHE_SECONDS", "0")
    get_settings.cache_clear()


def tick(instance: DagsterInstance, engine: Engine, cursor: str | None) -> str | None:  # noqa: F811
    """One evaluation of alert_conditions as the daemon runs it; the cursor it leaves."""
    resources = {
        "database": DatabaseResource(url=libpq_dsn(engine.url)),
        "settings": SettingsResource(),
        "alert_notifiers": defs_alerts.AlertNotifiersResource(settings=SettingsResource()),
    }
    with build_sensor_context(instance=instance, cursor=cursor, resources=resources) as context:
        result = defs_alerts.SENSORS[1](context)
        assert isinstance(result, SkipReason)
        return context.cursor


def test_a_vendor_outage_pages_once_and_resolves_under_the_same_key(
    sandbox: Admin,  # noqa: F811
    engine: Engine,
    run: Any,  # noqa: F811
    instance: DagsterInstance,  # noqa: F811
    breaker_env: None,
    configured: Receiver,
) -> None:
    company = add_company(engine, sandbox, "outage")
    leads = [submit(engine, company, f"jordan{i}@outage-robots.example") for i in range(2)]
    key = f"breaker:crm:{company.portal_id}"

    cursor = tick(instance, engine, None)
    assert configured.events_for(key) == []

    # Every HubSpot call answers 503: the run's retries open the tenant's crm breaker.
    sandbox.fault(pathPattern="/crm/*", status=503, count=None)
    assert not run(*leads, trigger="sensor").success
    with Session(engine) as session:
        opened = session.get(CircuitBreaker, ("crm", company.tenant.id))
    assert opened is not None
    assert opened.state == "open"

    for _ in range(3):
        cursor = tick(instance, engine, cursor)
    assert configured.events_for(key) == ["trigger"]
    [event] = [e for e in configured.pagerduty() if e["dedup_key"] == key]
    assert event["routing_key"] == ROUTING_KEY
    assert event["payload"]["component"] == "crm"
    assert event["payload"]["custom_details"]["portal_id"] == company.portal_id
    assert "503" in event["payload"]["custom_details"]["last_error"]
    assert event["links"][0]["href"].startswith(f"{UI}/")
    [slack] = configured.slack_for(key)

    # The outage ends; once the breaker may probe, the leads run and the probe closes it.
    sandbox.clear_faults()
    with Session(engine) as session, session.begin():
        session.execute(
            update(CircuitBreaker)
            .where(CircuitBreaker.tenant_id == company.tenant.id)
            .values(open_until=CircuitBreaker.open_until - timedelta(minutes=10))
        )
    for _ in range(3):
        with Session(engine) as session:
            waiting = session.scalars(
                select(Workflow.id).where(
                    Workflow.tenant_id == company.tenant.id, Workflow.status != "succeeded"
                )
            ).all()
        mine = [lead for lead in leads if lead.workflow_id in set(waiting)]
        if not mine:
            break
        run(*mine, trigger="sensor")
    with Session(engine) as session:
        closed = session.get(CircuitBreaker, ("crm", company.tenant.id))
    assert closed is not None
    assert closed.state == "closed"

    for _ in range(2):
        cursor = tick(instance, engine, cursor)
    assert configured.events_for(key) == ["trigger", "resolve"]
    resolve = [e for e in configured.pagerduty() if e["dedup_key"] == key][1]
    assert resolve == {"routing_key": ROUTING_KEY, "dedup_key": key, "event_action": "resolve"}
    replies = configured.slack_for(key)
    assert len(replies) == 2
    assert replies[1].body["thread_ts"] == slack.answer["ts"]

    # Nothing the receiver got carries the tenant's HubSpot token or Google key.
    sent = [str(r.body) for r in configured.requests]
    for secret in secrets_of(company):
        assert all(secret not in body for body in sent)
