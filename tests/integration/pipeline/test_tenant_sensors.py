"""A disabled tenant is skipped by every sensor and its waiting work stays as it is; once
enabled, its work runs. A run that meets it anyway (an operator's re-run) holds its leads."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from dagster import DagsterInstance, RunRequest, SensorResult, SkipReason, build_sensor_context
from sqlalchemy import Engine, func, update
from sqlalchemy.orm import Session

from sales_agent_pipeline import run_tags as tags
from sales_agent_pipeline.db.models import Tenant, Workflow
from sales_agent_pipeline.db.repositories import outbox
from sales_agent_pipeline.db.urls import libpq_dsn
from sales_agent_pipeline.defs.imports import import_runs_sensor
from sales_agent_pipeline.defs.resources import DatabaseResource, SettingsResource
from sales_agent_pipeline.defs.sensors import received_leads_sensor, stuck_workflows_sensor
from tests.integration.pipeline.conftest import Lead, import_rows, only_mine, set_workflow
from tests.integration.pipeline.tenancy import Company, add_company, submit
from tests.sandbox.conftest import Admin


def tick(sensor: Callable[..., Any], instance: DagsterInstance, engine: Engine) -> Any:
    resources = {
        "database": DatabaseResource(url=libpq_dsn(engine.url)),
        "settings": SettingsResource(),
    }
    with build_sensor_context(instance=instance, resources=resources) as context:
        return sensor(context)


def set_disabled(engine: Engine, company: Company, disabled: bool) -> None:
    with Session(engine) as session, session.begin():
        session.execute(
            update(Tenant)
            .where(Tenant.id == company.tenant.id)
            .values(disabled_at=func.now() if disabled else None)
        )


def disabled_with_a_lead(
    engine: Engine, sandbox: Admin, name: str, local: str
) -> tuple[Company, Lead]:
    """A company of its own with one lead received (its email `local`.<tag>@…), then disabled."""
    company = add_company(engine, sandbox, name)
    lead = submit(engine, company, f"{local}.{uuid.uuid4().hex[:6]}@robots.example")
    set_disabled(engine, company, True)
    return company, lead


def state(engine: Engine, lead: Lead) -> tuple[str, int, bool]:
    with Session(engine) as session:
        workflow = session.get_one(Workflow, lead.workflow_id)
        return workflow.status, workflow.attempts, workflow.run_requested_at is not None


def test_the_lead_sensor_skips_a_disabled_tenant_then_launches_it_once_enabled(
    sandbox: Admin, engine: Engine, instance: DagsterInstance
) -> None:
    off, lead = disabled_with_a_lead(engine, sandbox, "off", "paused")
    only_mine(engine, lead)

    # The webhook's own launch leaves it too (no run that would only hold it).
    with Session(engine) as session, session.begin():
        assert outbox.claim_launch(session, [lead.workflow_id]) == []

    skipped = tick(received_leads_sensor, instance, engine)

    assert isinstance(skipped, SkipReason)
    assert f"portal {off.portal_id}: 1 lead(s) wait (disabled)" in (skipped.skip_message or "")
    assert state(engine, lead) == ("received", 0, False)

    set_disabled(engine, off, False)
    launched = tick(received_leads_sensor, instance, engine)
    assert isinstance(launched, SensorResult)
    requests: list[RunRequest] = list(launched.run_requests or [])
    assert [r.partition_key for r in requests] == [str(lead.workflow_id)]


def test_imports_of_a_disabled_tenant_wait(
    sandbox: Admin, engine: Engine, instance: DagsterInstance
) -> None:
    off = add_company(engine, sandbox, "offimport")
    csv = f"email\nrow1.{uuid.uuid4().hex[:6]}@robots.example\n"
    result = import_rows(engine, off.tenant, csv, filename="t.csv", max_rows=10)
    set_disabled(engine, off, True)

    waiting = tick(import_runs_sensor, instance, engine)
    requested = [] if isinstance(waiting, SkipReason) else list(waiting.run_requests or [])
    assert all(r.tags.get(tags.IMPORT_ID) != str(result.import_id) for r in requested)

    set_disabled(engine, off, False)
    launched = tick(import_runs_sensor, instance, engine)
    assert isinstance(launched, SensorResult)
    ours = [
        r for r in launched.run_requests or [] if r.tags[tags.IMPORT_ID] == str(result.import_id)
    ]
    assert len(ours) == 1
    assert ours[0].tags[tags.TENANT] == str(off.portal_id)


def test_stuck_work_of_a_disabled_tenant_is_left_as_it_is(
    sandbox: Admin, engine: Engine, instance: DagsterInstance
) -> None:
    off = add_company(engine, sandbox, "offstuck")
    lead = submit(engine, off, f"stuck.{uuid.uuid4().hex[:6]}@robots.example")
    set_workflow(
        engine,
        lead.workflow_id,
        status="running",
        dagster_run_id=str(uuid.uuid4()),  # a run the instance never heard of
        run_requested_at=func.now() - timedelta(minutes=5),
        updated_at=func.now() - timedelta(minutes=5),
        attempts=3,
    )
    set_disabled(engine, off, True)

    tick(stuck_workflows_sensor, instance, engine)
    assert state(engine, lead) == ("running", 3, True)

    set_disabled(engine, off, False)
    tick(stuck_workflows_sensor, instance, engine)
    assert state(engine, lead)[0] == "failed"


def test_a_run_that_meets_a_disabled_tenant_holds_its_leads(
    sandbox: Admin, engine: Engine, run: Any
) -> None:
    off, lead = disabled_with_a_lead(engine, sandbox, "offrun", "held")
    since = sandbox.last_request_seq()

    result = run(lead)

    assert not result.success
    failure = result.get_step_failure_events()[0].step_failure_data.error
    assert failure is not None
    assert f"tenant of portal {off.portal_id} is disabled" in failure.message
    assert state(engine, lead) == ("queued", 0, False)
    assert not sandbox.requests(after=since)
