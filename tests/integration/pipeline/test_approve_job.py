"""The `approve_and_send_draft` job, as an operator launches it from the launchpad: a lead
drafted by the real pipeline is sent once, with the signed-in operator recorded as the
approver; a run without a valid stamp of the webserver, or of an operator without a grant
for the lead's tenant, sends nothing; a kill switch fails the run with the reason."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from dagster import DagsterInstance, ExecuteInProcessResult
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from sales_agent_pipeline import run_tags
from sales_agent_pipeline.connectors import ui_identity
from sales_agent_pipeline.db.models import DraftEmail, Tenant, WorkflowEvent
from sales_agent_pipeline.db.repositories import operator_grants
from sales_agent_pipeline.settings import get_settings
from tests.integration.pipeline.conftest import Lead, stamped
from tests.sandbox.conftest import Admin


def approve(
    instance: DagsterInstance, lead: Lead | str, tags: dict[str, str] | None
) -> ExecuteInProcessResult:
    """Launch the job as the launchpad does: a workflow id, the run tagged by the gate."""
    from sales_agent_pipeline.definitions import defs

    job = defs.resolve_job_def("approve_and_send_draft")
    workflow_id = lead if isinstance(lead, str) else str(lead.workflow_id)
    return job.execute_in_process(
        run_config={"ops": {"approve_and_send": {"config": {"workflow_id": workflow_id}}}},
        instance=instance,
        tags=tags,
        raise_on_error=False,
    )


def grant(engine: Engine, subject: str, tenant_id: uuid.UUID | None) -> None:
    with Session(engine) as session, session.begin():
        operator_grants.grant(session, subject, tenant_id, "test")


def refusal(result: ExecuteInProcessResult) -> str:
    assert not result.success
    failure = result.failure_data_for_node("approve_and_send")
    assert failure is not None
    return str(failure.error)


def sent_to(sandbox: Admin, email: str) -> int:
    return sum(1 for message in sandbox.sent() if email in message["to"])


def draft_row(engine: Engine, lead: Lead) -> DraftEmail:
    with Session(engine) as session:
        return session.scalars(
            select(DraftEmail).where(DraftEmail.workflow_id == lead.workflow_id)
        ).one()


def test_the_job_sends_a_pipeline_draft_once(
    sandbox: Admin,
    submit: Any,
    run: Any,
    instance: DagsterInstance,
    engine: Engine,
    tenant: Tenant,
) -> None:
    email = "approve.me@acme-robotics.example"
    lead = submit(email)
    assert run(lead).success
    assert draft_row(engine, lead).sent is False
    grant(engine, "dana@ops.example", tenant.id)
    grant(engine, "@ops.example", tenant.id)

    first = approve(instance, lead, stamped("dana@ops.example"))
    assert first.success
    assert first.output_for_node("approve_and_send")["already_sent"] is False
    assert sent_to(sandbox, email) == 1
    row = draft_row(engine, lead)
    assert (row.sent, row.mode, row.approved_by) == (True, "SEND", "dana@ops.example")
    assert row.approved_at is not None

    # Sam is allowed through the domain's grant; the draft was sent already.
    again = approve(instance, lead, stamped("sam@ops.example"))
    assert again.success
    assert again.output_for_node("approve_and_send")["already_sent"] is True
    # A re-run of the lead after the approval never sends a second email either.
    assert run(lead, trigger="materialization").success
    assert sent_to(sandbox, email) == 1
    assert draft_row(engine, lead).approved_by == "dana@ops.example"
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
    result = approve(instance, lead, stamped(ui_identity.LOCAL_OPERATOR))
    assert not result.success
    failure = result.failure_data_for_node("approve_and_send")
    assert failure is not None
    assert "send_kill_switch_on" in str(failure.error)
    assert sent_to(sandbox, email) == 0
    assert draft_row(engine, lead).sent is False

    bad = approve(instance, "not-a-uuid", stamped(ui_identity.LOCAL_OPERATOR))
    assert not bad.success
    assert "is not a workflow id" in str(bad.failure_data_for_node("approve_and_send"))


def test_only_a_signed_in_operator_with_a_grant_for_the_tenant_sends(
    sandbox: Admin,
    submit: Any,
    run: Any,
    instance: DagsterInstance,
    engine: Engine,
    tenant: Tenant,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("UI_AUTH", "proxy")
    get_settings.cache_clear()
    email = "careful.now@acme-robotics.example"
    lead = submit(email)
    assert run(lead).success
    with Session(engine) as session, session.begin():
        other = Tenant(portal_id=990_001, name="Other portal")
        session.add(other)
        session.flush()
        other_id = other.id
    grant(engine, "eve@partner.example", other_id)

    # Typed tags without the webserver's stamp, a stamp moved to another name, a forged
    # one, an old one: none is an operator.
    assert "no signed-in operator" in refusal(approve(instance, lead, None))
    moved = {**stamped("eve@partner.example"), run_tags.OPERATOR: "boss@partner.example"}
    assert "no signed-in operator" in refusal(approve(instance, lead, moved))
    forged = {run_tags.OPERATOR: "boss@partner.example", run_tags.OPERATOR_STAMP: "1.deadbeef"}
    assert "no signed-in operator" in refusal(approve(instance, lead, forged))
    old = stamped("eve@partner.example", datetime.now(UTC) - timedelta(hours=2))
    assert "no signed-in operator" in refusal(approve(instance, lead, old))
    # The service identity (the API's own launches) and a UI without sign-in approve nothing.
    assert "a service" in refusal(approve(instance, lead, stamped(ui_identity.SERVICE_OPERATOR)))
    local = stamped(ui_identity.LOCAL_OPERATOR)
    assert "without sign-in" in refusal(approve(instance, lead, local))
    # Signed in, but no grant at all; then a grant for another tenant only.
    assert "no grant" in refusal(approve(instance, lead, stamped("mallory@elsewhere.example")))
    elsewhere = refusal(approve(instance, lead, stamped("eve@partner.example")))
    assert "may not act for portal" in elsewhere
    assert sent_to(sandbox, email) == 0
    assert draft_row(engine, lead).sent is False

    # Granted for every tenant: sent, and recorded under the signed-in email.
    grant(engine, "Eve@Partner.example", None)
    assert approve(instance, lead, stamped("eve@partner.example")).success
    assert sent_to(sandbox, email) == 1
    assert draft_row(engine, lead).approved_by == "eve@partner.example"


def test_a_name_typed_into_the_config_is_no_longer_accepted(
    instance: DagsterInstance, pipeline_env: None
) -> None:
    from sales_agent_pipeline.definitions import defs

    job = defs.resolve_job_def("approve_and_send_draft")
    config = {"workflow_id": str(uuid.uuid4()), "approved_by": "Anyone"}
    with pytest.raises(Exception, match="approved_by"):
        job.execute_in_process(
            run_config={"ops": {"approve_and_send": {"config": config}}}, instance=instance
        )
