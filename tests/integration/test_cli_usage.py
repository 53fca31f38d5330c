"""Usage per tenant and day equals what the audit trail says: real leads through the real
process_formlead job (in process, the sandbox over HTTP, real PostgreSQL), then the report
and `sales-agent usage` compared with counts taken from the workflows, their events, the
drafts and the tasks."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Date, Engine, cast, func, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from sales_agent_pipeline.cli.demo import ensure_demo_tenant
from sales_agent_pipeline.cli.main import app as cli
from sales_agent_pipeline.db.models import (
    DraftEmail,
    FormSubmission,
    HubspotTask,
    Tenant,
    TenantUsage,
    Workflow,
    WorkflowEvent,
)
from sales_agent_pipeline.db.repositories.usage import UsageDay, add_usage, usage_report
from sales_agent_pipeline.settings import get_settings
from tests.integration.pipeline.conftest import (  # noqa: F401
    instance,
    pipeline_env,
    run,
    sandbox,
    submit,
)
from tests.sandbox.conftest import admin_client, sandbox_url  # noqa: F401

CREATE_DRAFT, CREATE_TASK = 11, 12


@pytest.fixture(scope="module")
def tenant(engine: Engine, pipeline_env: None) -> Tenant:  # noqa: F811
    """A tenant of this module's own, set up like the demo's: other modules' leads on the
    demo tenant (sent, retried, failed) never enter its figures."""
    demo = ensure_demo_tenant(sessionmaker(engine))
    own = Tenant(
        portal_id=900_000 + uuid.uuid4().int % 99_999,
        name="Usage Co",
        allowed_form_ids=demo.allowed_form_ids,
        drive_folder_ids=demo.drive_folder_ids,
        timezone=demo.timezone,
        sender_email=demo.sender_email,
        default_owner_id=demo.default_owner_id,
        holiday_country=demo.holiday_country,
        throttle_window_seconds=0,
        voice_profile=demo.voice_profile,
    )
    with Session(engine, expire_on_commit=False) as session, session.begin():
        session.add(own)
    return own


def today() -> date:
    return datetime.now(UTC).date()


def report(engine: Engine, owner: Tenant, day: date) -> UsageDay:
    with Session(engine) as session:
        (only,) = usage_report(session, owner.id, day, day)
    return only


def on_day(column: Any, day: date) -> Any:
    return cast(func.timezone("UTC", column), Date) == day


def audit_trail(engine: Engine, owner: Tenant, day: date) -> dict[str, Any]:
    """The same figures counted straight from the audit trail's own tables."""
    mine = Workflow.tenant_id == owner.id
    with Session(engine) as session:
        leads = session.scalar(
            select(func.count()).where(
                FormSubmission.tenant_id == owner.id, on_day(FormSubmission.received_at, day)
            )
        )
        by_status = dict(
            session.execute(
                select(Workflow.status, func.count())
                .where(mine, on_day(Workflow.created_at, day))
                .group_by(Workflow.status)
            ).all()
        )

        def succeeded_step(step: int) -> int:
            # One workflow may retry a step: count workflows, not events.
            return int(
                session.scalar(
                    select(func.count(func.distinct(WorkflowEvent.workflow_id)))
                    .join(Workflow, Workflow.id == WorkflowEvent.workflow_id)
                    .where(
                        mine,
                        WorkflowEvent.step_number == step,
                        WorkflowEvent.status == "succeeded",
                        on_day(WorkflowEvent.created_at, day),
                    )
                )
                or 0
            )

        drafts = session.scalar(
            select(func.count())
            .select_from(DraftEmail)
            .join(Workflow, Workflow.id == DraftEmail.workflow_id)
            .where(mine, DraftEmail.gmail_draft_id.is_not(None), on_day(DraftEmail.created_at, day))
        )
        tasks = session.scalar(
            select(func.count())
            .select_from(HubspotTask)
            .join(Workflow, Workflow.id == HubspotTask.workflow_id)
            .where(
                mine, HubspotTask.hubspot_task_id.is_not(None), on_day(HubspotTask.created_at, day)
            )
        )
        counters = dict(
            session.execute(
                select(TenantUsage.metric, TenantUsage.value).where(
                    TenantUsage.tenant_id == owner.id,
                    TenantUsage.day == day,
                    # The counters the report shows (requests by answer are the metrics').
                    TenantUsage.metric.like("vendor_calls.%")
                    | TenantUsage.metric.like("quota_units.%"),
                )
            ).all()
        )
    return {
        "leads": leads,
        "workflows": by_status,
        "drafts": drafts,
        "draft_steps": succeeded_step(CREATE_DRAFT),
        "tasks": tasks,
        "task_steps": succeeded_step(CREATE_TASK),
        "counters": counters,
    }


def test_usage_equals_the_audit_trail_after_real_leads(
    sandbox: Any,  # noqa: F811
    submit: Any,  # noqa: F811
    run: Any,  # noqa: F811
    engine: Engine,
    tenant: Tenant,
) -> None:
    day = today()
    before = report(engine, tenant, day)
    leads = [
        submit(f"usage-{uuid.uuid4().hex[:10]}@acme-robotics.example", industry="Robotics")
        for _ in range(3)
    ]
    result = run(*leads)
    assert result.success
    after = report(engine, tenant, day)
    trail = audit_trail(engine, tenant, day)

    assert after.leads_received == trail["leads"] == before.leads_received + 3
    assert after.workflows == trail["workflows"]
    assert after.workflows["succeeded"] == before.workflows.get("succeeded", 0) + 3
    # Every created draft and task is one workflow's succeeded step 11 and 12.
    assert after.drafts == trail["drafts"] == trail["draft_steps"] == before.drafts + 3
    assert after.tasks == trail["tasks"] == trail["task_steps"] == before.tasks + 3
    assert after.sends == before.sends == 0  # DRAFT_ONLY
    counters = {f"vendor_calls.{k}": v for k, v in after.vendor_calls.items()} | {
        f"quota_units.{k}": v for k, v in after.quota_units.items()
    }
    assert counters == trail["counters"]

    # The CLI prints the same figures.
    get_settings.cache_clear()
    printed = CliRunner().invoke(cli, ["usage", "--tenant", str(tenant.portal_id), "--csv"])
    assert printed.exit_code == 0, printed.output
    rows = list(csv.DictReader(io.StringIO(printed.stdout)))
    assert len(rows) == 30
    (row,) = [r for r in rows if r["day"] == day.isoformat()]
    assert int(row["leads_received"]) == after.leads_received
    assert int(row["workflows_succeeded"]) == after.workflows["succeeded"]
    assert (int(row["drafts"]), int(row["sends"]), int(row["tasks"])) == (
        after.drafts,
        after.sends,
        after.tasks,
    )
    for vendor, calls in after.vendor_calls.items():
        assert int(row[f"vendor_calls_{vendor}"]) == calls


def test_the_report_lists_every_day_and_adds_counters_up(
    engine: Engine,
    tenant: Tenant,
) -> None:
    first = date(2001, 3, 1)
    with Session(engine) as session, session.begin():
        add_usage(session, tenant.id, {"vendor_calls.hubspot": 4, "quota_units.gmail": 5}, first)
        add_usage(session, tenant.id, {"vendor_calls.hubspot": 2, "vendor_calls.google": 0}, first)
    with Session(engine) as session:
        days = usage_report(session, tenant.id, first, first + timedelta(days=2))
    assert [d.day for d in days] == [first, first + timedelta(days=1), first + timedelta(days=2)]
    assert days[0].vendor_calls == {"hubspot": 6}
    assert days[0].quota_units == {"gmail": 5}
    assert days[1] == UsageDay(first + timedelta(days=1))
    with Session(engine) as session, pytest.raises(ValueError, match="before its first"):
        usage_report(session, tenant.id, first, first - timedelta(days=1))


def test_usage_refuses_a_bad_window_or_tenant(
    engine: Engine,
    tenant: Tenant,
) -> None:
    get_settings.cache_clear()
    runner = CliRunner()
    backwards = runner.invoke(
        cli,
        ["usage", "--tenant", str(tenant.portal_id), "--from", "2026-02-01", "--to", "2026-01-01"],
    )
    assert backwards.exit_code == 2
    assert "is before --from" in backwards.stderr
    unknown = runner.invoke(cli, ["usage", "--tenant", "3"])
    assert unknown.exit_code == 2
    assert "no tenant with portal id 3" in unknown.stderr
