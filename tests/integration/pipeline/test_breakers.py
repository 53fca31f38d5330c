"""A HubSpot 5xx storm against real runs: the tenant's crm breaker opens after N failures,
its leads wait (queued, not failed, their attempt given back, nothing written twice) and
the launch sensor holds them back; another tenant runs meanwhile; once the breaker may
probe, the leads complete with one draft and one task each."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from dagster import DagsterInstance, SensorResult, SkipReason, build_sensor_context
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from sales_agent_pipeline.db.models import CircuitBreaker, Workflow
from sales_agent_pipeline.db.urls import libpq_dsn
from sales_agent_pipeline.defs.resources import DatabaseResource, SettingsResource
from sales_agent_pipeline.defs.sensors import received_leads_sensor
from sales_agent_pipeline.settings import get_settings
from tests.integration.pipeline.conftest import Lead
from tests.integration.pipeline.tenancy import Company, add_company, fingerprint, submit
from tests.sandbox.conftest import Admin

THRESHOLD = 3


@pytest.fixture
def breaker_env(pipeline_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BREAKER_FAILURE_THRESHOLD", str(THRESHOLD))
    monkeypatch.setenv("BREAKER_COOLDOWN_SECONDS", "120")  # the test moves time itself
    monkeypatch.setenv("BREAKER_CACHE_SECONDS", "0")
    get_settings.cache_clear()


def rows(engine: Engine, company: Company) -> dict[str, Workflow]:
    with Session(engine) as session:
        found = session.scalars(select(Workflow).where(Workflow.tenant_id == company.tenant.id))
        return {w.prospect_email: w for w in found}


def breaker(engine: Engine, company: Company) -> CircuitBreaker | None:
    with Session(engine) as session:
        return session.get(CircuitBreaker, ("crm", company.tenant.id))


def hubspot_requests(sandbox: Admin, company: Company, since: int) -> int:
    assert company.token is not None
    who = fingerprint(company.token)
    return sum(
        1
        for r in sandbox.requests(after=since, vendor="hubspot")
        if r["identity"].get("token") == who
    )


def tick(instance: DagsterInstance, engine: Engine) -> SensorResult | SkipReason:
    resources = {
        "database": DatabaseResource(url=libpq_dsn(engine.url)),
        "settings": SettingsResource(),
    }
    with build_sensor_context(instance=instance, resources=resources) as context:
        result = received_leads_sensor(context)
    assert isinstance(result, SensorResult | SkipReason)
    return result


def launched(result: SensorResult | SkipReason) -> set[str]:
    if isinstance(result, SkipReason):
        return set()
    keys: set[str] = set()
    for request in result.run_requests or []:
        if request.partition_key:
            keys.add(request.partition_key)
        else:
            keys.add(request.tags["dagster/asset_partition_range_start"])
            keys.add(request.tags["dagster/asset_partition_range_end"])
    return keys


def age(engine: Engine, leads: list[Lead]) -> None:
    """Past the sensor's grace period."""
    with Session(engine) as session, session.begin():
        session.execute(
            update(Workflow)
            .where(Workflow.id.in_([lead.workflow_id for lead in leads]))
            .values(created_at=Workflow.created_at - timedelta(minutes=1))
        )


def test_a_hubspot_storm_opens_one_tenants_breaker_and_its_leads_wait_then_complete(
    sandbox: Admin, engine: Engine, run: Any, instance: DagsterInstance, breaker_env: None
) -> None:
    alpha = add_company(engine, sandbox, "stormy")
    beta = add_company(engine, sandbox, "calm")
    alpha_leads = [submit(engine, alpha, f"jordan{i}@storm-robots.example") for i in range(2)]
    since = sandbox.last_request_seq()

    # Every HubSpot write and read answers 503 until the storm ends.
    sandbox.fault(pathPattern="/crm/*", status=503, count=None)
    stormy = run(*alpha_leads, trigger="sensor")
    assert not stormy.success  # the run ends with its leads waiting, none failed

    opened = breaker(engine, alpha)
    assert opened is not None
    assert (opened.state, opened.consecutive_failures) == ("open", THRESHOLD)
    assert opened.open_until is not None
    assert "503" in (opened.last_error or "")
    for workflow in rows(engine, alpha).values():
        assert workflow.status == "queued"
        assert workflow.attempts == 0  # the wait is not an attempt
        assert workflow.run_requested_at is None
        assert "circuit breaker" in (workflow.failure_reason or "")
    # Once open, no request reached HubSpot for the tenant: its retries did not burn on it.
    during_storm = hubspot_requests(sandbox, alpha, since)
    rerun = run(*alpha_leads, trigger="sensor")
    assert not rerun.success
    assert hubspot_requests(sandbox, alpha, since) == during_storm
    assert {w.status for w in rows(engine, alpha).values()} == {"queued"}

    # The storm ends. The other tenant runs at once; the stormy tenant's leads stay held by
    # the launch sensor until its breaker may probe.
    sandbox.clear_faults()
    beta_lead = submit(engine, beta, "casey@calm-robots.example")
    assert run(beta_lead, trigger="sensor").success
    age(engine, alpha_leads)
    held = tick(instance, engine)
    assert not launched(held) & {str(lead.workflow_id) for lead in alpha_leads}

    with Session(engine) as session, session.begin():
        session.execute(
            update(CircuitBreaker)
            .where(CircuitBreaker.tenant_id == alpha.tenant.id)
            .values(open_until=CircuitBreaker.open_until - timedelta(minutes=10))
        )
    due = launched(tick(instance, engine))
    assert {str(lead.workflow_id) for lead in alpha_leads} <= due

    # The first call probes; a lead that called while the probe was out waits once more and
    # goes in the next launch, as the sensor would launch it.
    for _ in range(3):
        waiting = [
            lead for lead in alpha_leads if rows(engine, alpha)[lead.email].status != "succeeded"
        ]
        if not waiting:
            break
        run(*waiting, trigger="sensor")
    assert {w.status for w in rows(engine, alpha).values()} == {"succeeded"}
    assert {w.status for w in rows(engine, beta).values()} == {"succeeded"}
    closed = breaker(engine, alpha)
    assert closed is not None
    assert (closed.state, closed.consecutive_failures, closed.trips) == ("closed", 0, 0)

    # One draft and one task per lead, none written twice by the storm or the waits.
    for company in (alpha, beta):
        emails = [lead.email for lead in company.leads]
        drafts = [d["to"] for d in sandbox.drafts() if d["user"].lower() == company.mailbox]
        assert sorted(drafts) == sorted(emails)
        tasks = [t for t in sandbox.tasks() if t["portalId"] == company.portal_id]
        assert len(tasks) == len(emails)
        for lead in company.leads:
            mine = [t for t in tasks if str(lead.workflow_id) in t["properties"]["hs_task_body"]]
            assert len(mine) == 1
