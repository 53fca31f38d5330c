"""The canary end to end in process: its job posts a signed synthetic lead to the real API,
the sensor gives the lead a run of its own tagged synthetic, the run drafts (never sends,
even in SEND mode) into the sandbox's mailbox, and the tenant's usage does not see it."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta
from typing import Any

from dagster import DagsterInstance, SensorResult, build_sensor_context
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from sales_agent_pipeline import run_tags
from sales_agent_pipeline.db.base import utcnow
from sales_agent_pipeline.db.models import DraftEmail, Tenant, TenantUsage, Workflow, WorkflowEvent
from sales_agent_pipeline.defs.sensors import received_leads_sensor
from sales_agent_pipeline.settings import get_settings
from sales_agent_pipeline.usecases.usage import usage_summary
from tests.integration.canary.conftest import leave_others_waiting, resources, run_canary
from tests.integration.pipeline.conftest import FORM_ID, lead_fields, store_delivery
from tests.sandbox.conftest import Admin


def usage(engine: Engine, tenant: Tenant) -> tuple[int, int, int, int, dict[str, int]]:
    """Today's report (leads, workflows, drafts, sends) and the runs' vendor counters."""
    today = utcnow().date()
    with Session(engine) as session:
        total = usage_summary(session, tenant.id, today, today).totals
        counters = {
            metric: int(value)
            for metric, value in session.execute(
                select(TenantUsage.metric, TenantUsage.value).where(
                    TenantUsage.tenant_id == tenant.id, TenantUsage.day == today
                )
            )
        }
    return total.leads_received, sum(total.workflows.values()), total.drafts, total.sends, counters


def sensor_run_for(engine: Engine, instance: DagsterInstance, workflow_id: str) -> Any:
    """The sensor's run request for this workflow (its partitions added as the daemon does)."""
    with Session(engine) as session, session.begin():
        session.execute(
            update(Workflow)
            .where(Workflow.id == uuid.UUID(workflow_id))
            .values(created_at=Workflow.created_at - timedelta(minutes=1))
        )
    # The API's own launch (after its answer) may still hold the lead: tick until it is
    # released to the sensor (or the sensor took it first, which the launch then leaves).
    deadline = time.monotonic() + 20
    while True:
        with build_sensor_context(instance=instance, resources=resources(engine)) as context:
            result = received_leads_sensor(context)
        if isinstance(result, SensorResult):
            for added in result.dynamic_partitions_requests or []:
                keys = list(added.partition_keys or [])
                instance.add_dynamic_partitions(
                    "leads", [k for k in keys if not instance.has_dynamic_partition("leads", k)]
                )
            found = [r for r in result.run_requests or [] if r.partition_key == workflow_id]
            if found:
                (request,) = found
                return request
        assert time.monotonic() < deadline, "the sensor never took the lead"
        time.sleep(0.2)


def test_the_canary_lead_runs_drafted_only_into_the_sandbox_and_counts_in_no_usage(
    api: str,
    sandbox: Admin,
    tenant: Tenant,
    engine: Engine,
    instance: DagsterInstance,
    monkeypatch: Any,
) -> None:
    # SEND everywhere: the canary's lead must still only be drafted.
    monkeypatch.setenv("WORKFLOW_MODE", "SEND")
    get_settings.cache_clear()
    leave_others_waiting(engine)
    before = usage(engine, tenant)

    posted = run_canary(instance)
    assert posted.success
    workflow_id = posted.output_for_node("post_canary_lead")
    canary_run = instance.get_run_by_id(posted.run_id)
    assert canary_run is not None
    assert canary_run.tags[run_tags.SYNTHETIC] == "true"
    assert canary_run.tags[run_tags.WORKFLOW_ID] == workflow_id
    with Session(engine) as session:
        workflow = session.get_one(Workflow, uuid.UUID(workflow_id))
        assert workflow.synthetic
        assert workflow.tenant_id == tenant.id
        email = workflow.prospect_email
    # Sandbox mode without CANARY_INBOX: an address of the canary's own, never a prospect's.
    assert email.startswith("canary+canary-")
    assert email.endswith("@canary.example.com")

    # Dagster is down here: the API released its launch, and the sensor takes the lead
    # into a run of its own, tagged synthetic.
    request = sensor_run_for(engine, instance, workflow_id)
    assert request.tags[run_tags.SYNTHETIC] == "true"
    from sales_agent_pipeline.definitions import defs

    lead_run = defs.resolve_job_def("process_formlead").execute_in_process(
        instance=instance, partition_key=workflow_id, tags=request.tags, raise_on_error=False
    )
    assert lead_run.success
    with Session(engine) as session:
        workflow = session.get_one(Workflow, uuid.UUID(workflow_id))
        draft = session.scalars(
            select(DraftEmail).where(DraftEmail.workflow_id == workflow.id)
        ).one()
        step_11 = session.scalars(
            select(WorkflowEvent.details).where(
                WorkflowEvent.workflow_id == workflow.id,
                WorkflowEvent.step_name == "create_gmail_draft",
                WorkflowEvent.status == "succeeded",
            )
        ).one()
    assert (workflow.status, workflow.mode, workflow.synthetic) == ("succeeded", "DRAFT_ONLY", True)
    assert (draft.sent, draft.mode) == (False, "DRAFT_ONLY")
    # The send gate said why (SEND was asked for).
    assert "a synthetic canary lead is drafted, never sent" in str(step_11)
    assert [d["to"] for d in sandbox.drafts() if email in d["to"]] == [email]
    assert [m for m in sandbox.sent() if email in m["to"]] == []
    # The report and the counters are as they were before the canary.
    assert usage(engine, tenant) == before

    # An ordinary lead, run the same way, is counted: the comparison above can fail.
    monkeypatch.setenv("WORKFLOW_MODE", "DRAFT_ONLY")
    get_settings.cache_clear()
    ordinary = store_delivery(
        engine,
        tenant,
        FORM_ID,
        str(uuid.uuid4()),
        lead_fields("quinn.control@acme-robotics.example"),
    )
    request = sensor_run_for(engine, instance, str(ordinary))
    assert run_tags.SYNTHETIC not in request.tags
    result = defs.resolve_job_def("process_formlead").execute_in_process(
        instance=instance, partition_key=str(ordinary), tags=request.tags, raise_on_error=False
    )
    assert result.success
    leads, workflows, drafts, _, counters = usage(engine, tenant)
    assert (leads, workflows, drafts) == (before[0] + 1, before[1] + 1, before[2] + 1)
    assert counters.get("vendor_calls.hubspot", 0) > before[4].get("vendor_calls.hubspot", 0)
