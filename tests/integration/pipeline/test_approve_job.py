"""The `approve_and_send_draft` job, as an operator launches it from the launchpad: a lead
drafted by the real pipeline is sent once, with the approver recorded; a kill switch fails
the run with the reason and sends nothing."""

from __future__ import annotations

from typing import Any

import pytest
from dagster import DagsterInstance, ExecuteInProcessResult
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from sales_agent_pipeline.db.models import DraftEmail, WorkflowEvent
from sales_agent_pipeline.settings import get_settings
from tests.integration.pipeline.conftest import Lead
from tests.sandbox.conftest import Admin


def approve(instance: DagsterInstance, lead: Lead | str, who: str) -> ExecuteInProcessResult:
    """Launch the job as the launchpad does: a workflow id and the approver's name."""
    from sales_agent_pipeline.definitions import defs

    job = defs.resolve_job_def("approve_and_send_draft")
    workflow_id = lead if isinstance(lead, str) else str(lead.workflow_id)
    config = {"workflow_id": workflow_id, "approved_by": who}
    return job.execute_in_process(
        run_config={"ops": {"approve_and_send": {"config": config}}},
        instance=instance,
        raise_on_error=False,
    )


def sent_to(sandbox: Admin, email: str) -> int:
    return sum(1 for message in sandbox.sent() if email in message["to"])


def draft_row(engine: Engine, lead: Lead) -> DraftEmail:
    with Session(engine) as session:
        return session.scalars(
            select(DraftEmail).where(DraftEmail.workflow_id == lead.workflow_id)
        ).one()


def test_the_job_sends_a_pipeline_draft_once(
    sandbox: Admin, submit: Any, run: Any, instance: DagsterInstance, engine: Engine
) -> None:
    email = "approve.me@acme-robotics.example"
    lead = submit(email)
    assert run(lead).success
    assert draft_row(engine, lead).sent is False

    first = approve(instance, lead, "Dana (ops)")
    assert first.success
    assert first.output_for_node("approve_and_send")["already_sent"] is False
    assert sent_to(sandbox, email) == 1
    row = draft_row(engine, lead)
    assert (row.sent, row.mode, row.approved_by) == (True, "SEND", "Dana (ops)")
    assert row.approved_at is not None

    again = approve(instance, lead, "Sam")
    assert again.success
    assert again.output_for_node("approve_and_send")["already_sent"] is True
    # A re-run of the lead after the approval never sends a second email either.
    assert run(lead, trigger="materialization").success
    assert sent_to(sandbox, email) == 1
    assert draft_row(engine, lead).approved_by == "Dana (ops)"
    with Session(engine) as session:
        approvals = session.scalars(
            select(WorkflowEvent).where(
                WorkflowEvent.workflow_id == lead.workflow_id,
                WorkflowEvent.event_type == "draft_approved",
            )
        ).all()
    assert len(approvals) == 1


def test_the_global_kill_switch_fails_the_job_and_sends_nothing(
    sandbox: Admin,
    submit: Any,
    run: Any,
    instance: DagsterInstance,
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    email = "hold.on@acme-robotics.example"
    lead = submit(email)
    assert run(lead).success
    monkeypatch.setenv("SEND_KILL_SWITCH", "true")
    get_settings.cache_clear()
    result = approve(instance, lead, "Dana (ops)")
    assert not result.success
    failure = result.failure_data_for_node("approve_and_send")
    assert failure is not None
    assert "send_kill_switch_on" in str(failure.error)
    assert sent_to(sandbox, email) == 0
    assert draft_row(engine, lead).sent is False

    bad = approve(instance, "not-a-uuid", "Dana (ops)")
    assert not bad.success
    assert "is not a workflow id" in str(bad.failure_data_for_node("approve_and_send"))
