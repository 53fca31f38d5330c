"""The due-sends sensor and the `send_due_mail` job, in process against the sandbox over HTTP
and a real PostgreSQL: a tick asks for one run per tenant with mail due (tagged, with a run
key that a re-evaluated tick repeats), the run sends each due send once with metadata per
send, and the next tick finds nothing; a run going for the tenant holds the next one back,
and a state still due after its run ended is asked for again under a new key."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from dagster import (
    DagsterInstance,
    DagsterRun,
    DagsterRunStatus,
    RunRequest,
    SensorResult,
    SkipReason,
    build_sensor_context,
)
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from sales_agent_pipeline import run_tags
from sales_agent_pipeline.cli.demo import DEMO_SENDER
from sales_agent_pipeline.connectors.factory import build_mail
from sales_agent_pipeline.db.models import (
    DraftEmail,
    ScheduledSend,
    Tenant,
    Workflow,
    WorkflowEvent,
)
from sales_agent_pipeline.db.repositories import scheduled_sends
from sales_agent_pipeline.db.urls import libpq_dsn
from sales_agent_pipeline.defs.resources import DatabaseResource, SettingsResource
from sales_agent_pipeline.defs.sends import JOB_NAME, SEND_BATCH, SEND_TAG, SENSORS
from sales_agent_pipeline.domain.models import OutgoingMail
from sales_agent_pipeline.settings import Settings, get_settings
from tests.integration.pipeline.conftest import Lead
from tests.sandbox.conftest import Admin


@pytest.fixture
def sending(engine: Engine, tenant: Tenant, sandbox: Admin) -> Iterator[Tenant]:
    """The demo tenant in SEND mode for this test (as it was afterwards); nothing else of
    this worker's scheduled sends is due."""
    with Session(engine) as session, session.begin():
        before = session.execute(
            select(Tenant.mode, Tenant.daily_send_cap).where(Tenant.id == tenant.id)
        ).one()
        session.execute(
            update(Tenant).where(Tenant.id == tenant.id).values(mode="SEND", daily_send_cap=100)
        )
        session.execute(
            update(ScheduledSend)
            .where(ScheduledSend.status.in_(("scheduled", "sending")))
            .values(status="cancelled", reason="not this test's")
        )
    yield tenant
    with Session(engine) as session, session.begin():
        session.execute(
            update(Tenant)
            .where(Tenant.id == tenant.id)
            .values(mode=before.mode, daily_send_cap=before.daily_send_cap)
        )


def schedule_lead(
    engine: Engine, tenant: Tenant, submit: Any, email: str, due_in: timedelta
) -> Lead:
    """A finished lead whose draft is in the demo sender's mailbox, scheduled `due_in` from now."""
    lead: Lead = submit(email)
    settings = get_settings()
    gmail = build_mail(
        Settings(
            _env_file=None,
            google_api_base_url=settings.google_api_base_url,
            gmail_quota_units_per_second=100_000,
        )
    )
    draft = gmail.create_draft(
        OutgoingMail(
            to=(email,), subject="Next step", text_body="Tuesday?", marker=str(lead.workflow_id)
        )
    )
    with Session(engine) as session, session.begin():
        session.execute(
            update(Workflow)
            .where(Workflow.id == lead.workflow_id)
            .values(status="succeeded", mailbox=DEMO_SENDER, run_requested_at=Workflow.created_at)
        )
        session.add(
            DraftEmail(
                workflow_id=lead.workflow_id,
                to_email=email,
                subject="Next step",
                body="Tuesday?",
                gmail_draft_id=draft.draft_id,
                gmail_message_id=draft.message_id,
                gmail_thread_id=draft.thread_id,
            )
        )
        scheduled_sends.schedule(
            session,
            workflow_id=lead.workflow_id,
            tenant_id=tenant.id,
            mailbox=DEMO_SENDER,
            to_email=email,
            draft_id=draft.draft_id,
            message_id=draft.message_id,
            thread_id=draft.thread_id,
            due_at=datetime.now(UTC) + due_in,
            time_zone="Europe/Berlin",
            zone_of="recipient",
        )
    return lead


[due_sends] = SENSORS


def tick(
    instance: DagsterInstance, engine: Engine, cursor: str | None = None
) -> tuple[SensorResult | SkipReason, str | None]:
    resources: dict[str, Any] = {
        "database": DatabaseResource(url=libpq_dsn(engine.url)),
        "settings": SettingsResource(),
    }
    with build_sensor_context(instance=instance, resources=resources, cursor=cursor) as context:
        result = due_sends(context)
        return result, context.cursor


def requests(result: SensorResult | SkipReason) -> list[RunRequest]:
    assert isinstance(result, SensorResult), result
    return list(result.run_requests or [])


def launch(instance: DagsterInstance, request: RunRequest) -> Any:
    from sales_agent_pipeline.definitions import defs

    job = defs.resolve_job_def(JOB_NAME)
    return job.execute_in_process(
        run_config=request.run_config,
        instance=instance,
        tags=request.tags,
        raise_on_error=False,
    )


def sent_to(sandbox: Admin, email: str) -> int:
    return sum(1 for message in sandbox.sent() if email in message["to"])


def test_a_tick_launches_a_run_that_sends_what_is_due_once(
    sending: Tenant,
    sandbox: Admin,
    submit: Any,
    engine: Engine,
    instance: DagsterInstance,
) -> None:
    due = [
        schedule_lead(
            engine, sending, submit, f"due{i}@acme-robotics.example", timedelta(seconds=-5)
        )
        for i in range(3)
    ]
    later = schedule_lead(
        engine, sending, submit, "later@acme-robotics.example", timedelta(hours=1)
    )
    result, cursor = tick(instance, engine)
    [request] = requests(result)
    assert request.tags[SEND_TAG] == SEND_BATCH
    assert request.tags[run_tags.TENANT] == str(sending.portal_id)
    assert request.run_key is not None
    assert request.run_key.startswith(f"send:{sending.id}:")
    config = request.run_config["ops"]["send_scheduled_mail"]["config"]
    assert config == {"tenant_id": str(sending.id)}
    # A tick evaluated again from the same cursor (a lost tick) asks with the same key:
    # Dagster launches a run key once.
    again, _ = tick(instance, engine)
    assert [r.run_key for r in requests(again)] == [request.run_key]

    finished = launch(instance, request)
    assert finished.success
    assert finished.dagster_run.tags[SEND_TAG] == SEND_BATCH
    assert finished.output_for_node("send_scheduled_mail")["sent"] == 3
    [output] = [
        event
        for event in finished.events_for_node("send_scheduled_mail")
        if event.event_type_value == "STEP_OUTPUT"
    ]
    table = output.step_output_data.metadata["sends"].value
    rows = [record.data for record in table.records]
    assert {row["workflow_id"] for row in rows} == {str(lead.workflow_id) for lead in due}
    assert {row["mailbox_domain"] for row in rows} == {DEMO_SENDER.split("@")[1]}
    assert all(row["outcome"] == "sent" and row["sent_at"] for row in rows)
    assert not any(DEMO_SENDER in json.dumps(row) for row in rows)
    for lead in due:
        assert sent_to(sandbox, lead.email) == 1
    with Session(engine) as session:
        statuses = dict(
            session.execute(
                select(ScheduledSend.workflow_id, ScheduledSend.status).where(
                    ScheduledSend.workflow_id.in_([lead.workflow_id for lead in [*due, later]])
                )
            ).all()
        )
        sent_events = session.scalars(
            select(WorkflowEvent.dagster_run_id).where(
                WorkflowEvent.workflow_id.in_([lead.workflow_id for lead in due]),
                WorkflowEvent.event_type == "scheduled_send_sent",
            )
        ).all()
    assert statuses == {
        **{lead.workflow_id: "sent" for lead in due},
        later.workflow_id: "scheduled",
    }
    assert sent_events == [finished.run_id] * 3

    # Nothing is due now: the next tick skips; the run key's launch again sends nothing.
    skipped, _ = tick(instance, engine, cursor)
    assert isinstance(skipped, SkipReason)
    assert launch(instance, request).success
    for lead in due:
        assert sent_to(sandbox, lead.email) == 1


def test_a_run_going_holds_the_next_back_and_a_state_left_due_is_asked_again(
    sending: Tenant,
    sandbox: Admin,
    submit: Any,
    engine: Engine,
    instance: DagsterInstance,
) -> None:
    lead = schedule_lead(
        engine, sending, submit, "held@acme-robotics.example", timedelta(seconds=-1)
    )
    first, cursor = tick(instance, engine)
    [request] = requests(first)
    # Its run is going: the next tick waits for it.
    going = DagsterRun(
        job_name=JOB_NAME,
        status=DagsterRunStatus.STARTED,
        tags={run_tags.TENANT: str(sending.portal_id), SEND_TAG: SEND_BATCH},
    )
    instance.add_run(going)
    waiting, kept = tick(instance, engine, cursor)
    assert isinstance(waiting, SkipReason)
    assert str(sending.portal_id) in (waiting.skip_message or "")
    assert kept == cursor
    # That run ended without sending (it died before claiming): the same state is asked
    # for again under the next generation of the key.
    instance.report_run_canceled(going)
    retried, _ = tick(instance, engine, kept)
    [again] = requests(retried)
    assert again.run_key != request.run_key
    assert again.run_key is not None
    assert again.run_key.endswith(":1")
    assert launch(instance, again).success
    assert sent_to(sandbox, lead.email) == 1


def test_a_send_left_sending_by_a_dead_run_is_due_again_after_a_while(
    sending: Tenant,
    sandbox: Admin,
    submit: Any,
    engine: Engine,
    instance: DagsterInstance,
) -> None:
    lead = schedule_lead(
        engine, sending, submit, "orphan@acme-robotics.example", timedelta(seconds=-1)
    )
    with Session(engine) as session, session.begin():
        [claimed] = scheduled_sends.claim_due(
            session, datetime.now(UTC), 10, tenant_id=sending.id, run_id=str(uuid.uuid4())
        )
    assert claimed.workflow_id == lead.workflow_id
    nothing, _ = tick(instance, engine)
    assert isinstance(nothing, SkipReason)
    with Session(engine) as session, session.begin():
        session.execute(
            update(ScheduledSend)
            .where(ScheduledSend.workflow_id == lead.workflow_id)
            .values(updated_at=ScheduledSend.updated_at - timedelta(minutes=11))
        )
    result, _ = tick(instance, engine)
    [request] = requests(result)
    assert launch(instance, request).success
    assert sent_to(sandbox, lead.email) == 1
    with Session(engine) as session:
        row = session.get_one(ScheduledSend, lead.workflow_id)
        assert (row.status, row.attempts) == ("sent", 2)


def test_the_job_and_sensor_are_registered(instance: DagsterInstance) -> None:
    from sales_agent_pipeline.definitions import defs

    sensor = defs.resolve_sensor_def("due_sends_sensor")
    assert sensor.minimum_interval_seconds == get_settings().due_sends_interval_seconds
    assert sensor.default_status.value == "RUNNING"
    job = defs.resolve_job_def(JOB_NAME)
    assert [node.name for node in job.nodes] == ["send_scheduled_mail"]
    assert job.tags[SEND_TAG] == SEND_BATCH
