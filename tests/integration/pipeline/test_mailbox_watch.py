"""Watching the sending mailbox, end to end through the sandbox, PostgreSQL, the SDKs and the
real API: a SEND lead's mail goes out, the mailbox sync sensor's first tick reads the
mailbox in full and watches it (users.watch); the lead replies, Gmail pushes through Pub/Sub
to POST /webhook/gmail, and the next tick (the poll not due) reads the mailbox and stops the
workflow and completes its HubSpot task; a tick with nothing pushed reads nothing. A bounce
of another lead suppresses it and notes its contact."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from dagster import (
    AssetKey,
    AssetObservation,
    DagsterInstance,
    SensorResult,
    SkipReason,
    build_sensor_context,
)
from sqlalchemy import Engine, delete, select
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

from sales_agent_api.app import create_app
from sales_agent_pipeline.cli.demo import DEMO_SENDER
from sales_agent_pipeline.db.models import (
    InboundMessage,
    MailboxCursor,
    Suppression,
    Tenant,
    Workflow,
    WorkflowEvent,
)
from sales_agent_pipeline.db.urls import libpq_dsn
from sales_agent_pipeline.defs.mailboxes import mailbox_sync_sensor
from sales_agent_pipeline.defs.resources import DatabaseResource, SettingsResource
from sales_agent_pipeline.defs.tenants import TenantsResource
from sales_agent_pipeline.defs.vendors import GmailResource, HubSpotResource
from sales_agent_pipeline.settings import Settings, get_settings
from tests.conftest import free_port
from tests.integration.pipeline.conftest import SECRETS_KEY, Lead
from tests.sandbox.conftest import Admin

TOPIC = "projects/sandbox-project/topics/gmail"
PUSH_TOKEN = "push-" + uuid.uuid4().hex


@pytest.fixture(scope="module")
def api_url(database_url: URL, sandbox_url: str, pipeline_env: None) -> Iterator[str]:
    """The real API on a free port (Pub/Sub's push endpoint)."""
    settings = Settings(
        _env_file=None,
        database_url=libpq_dsn(database_url),
        secrets_encryption_keys=SECRETS_KEY,
        hubspot_api_base_url=sandbox_url,
        google_api_base_url=sandbox_url,
        dagster_webserver_url=f"http://127.0.0.1:{free_port()}",
        gmail_push_token=PUSH_TOKEN,
    )
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the API did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


@pytest.fixture
def watching(
    monkeypatch: Any, sandbox: Admin, api_url: str, engine: Engine, tenant: Tenant
) -> Admin:
    """SEND mode, a Pub/Sub topic whose push subscription posts to the API, a long poll.

    The sandbox was reset: its mailbox starts a new history (ids from 1 again, message ids
    reused), which the demo tenant's cursor and acted-on messages must not outlive."""
    with Session(engine) as session, session.begin():
        session.execute(delete(MailboxCursor).where(MailboxCursor.tenant_id == tenant.id))
        session.execute(delete(InboundMessage).where(InboundMessage.tenant_id == tenant.id))
    monkeypatch.setenv("WORKFLOW_MODE", "SEND")
    monkeypatch.setenv("GMAIL_PUBSUB_TOPIC", TOPIC)
    monkeypatch.setenv("GMAIL_PUSH_TOKEN", PUSH_TOKEN)
    monkeypatch.setenv("MAILBOX_SYNC_SECONDS", "3600")
    get_settings.cache_clear()
    sandbox.push_subscription(TOPIC, f"{api_url}/webhook/gmail?token={PUSH_TOKEN}")
    return sandbox


def tick(
    instance: DagsterInstance, engine: Engine, cursor: str | None
) -> tuple[SkipReason | SensorResult, str | None]:
    """One evaluation of the sensor with the resources the code location gives it (a
    SensorResult when it stopped workflows: their observations)."""
    settings = SettingsResource()
    database = DatabaseResource(url=libpq_dsn(engine.url))
    tenants = TenantsResource(settings=settings, database=database)
    resources = {
        "database": database,
        "settings": settings,
        "gmail": GmailResource(settings=settings, database=database, tenants=tenants),
        "hubspot": HubSpotResource(settings=settings, database=database, tenants=tenants),
    }
    with build_sensor_context(instance=instance, resources=resources, cursor=cursor) as context:
        result = mailbox_sync_sensor(context)
        assert isinstance(result, SkipReason | SensorResult)
        return result, context.cursor


def sent_to(sandbox: Admin, email: str) -> dict[str, Any]:
    [message] = [m for m in sandbox.sent() if email in m["to"]]
    return message


def workflow(engine: Engine, lead: Lead) -> Workflow:
    with Session(engine, expire_on_commit=False) as session:
        return session.get_one(Workflow, lead.workflow_id)


def events(engine: Engine, lead: Lead, kind: str) -> int:
    with Session(engine) as session:
        return len(
            session.scalars(
                select(WorkflowEvent.id).where(
                    WorkflowEvent.workflow_id == lead.workflow_id, WorkflowEvent.event_type == kind
                )
            ).all()
        )


def task_of(sandbox: Admin, lead: Lead) -> dict[str, Any]:
    [task] = [
        t
        for t in sandbox.tasks()
        if str(lead.workflow_id) in (t["properties"]["hs_task_body"] or "")
    ]
    return task


def cursor_of(engine: Engine, tenant: Tenant) -> MailboxCursor:
    with Session(engine, expire_on_commit=False) as session:
        return session.get_one(MailboxCursor, (tenant.id, DEMO_SENDER))


def test_a_pushed_reply_stops_the_workflow_and_completes_its_task(
    watching: Admin,
    submit: Any,
    run: Any,
    engine: Engine,
    tenant: Tenant,
    instance: DagsterInstance,
) -> None:
    email = f"pat.{uuid.uuid4().hex[:6]}@ledgerline.example"
    lead = submit(email)
    assert run(lead).success
    sent = sent_to(watching, email)
    assert workflow(engine, lead).mailbox == DEMO_SENDER

    # The first tick: a full sync of the mailbox, and its watch.
    _, cursor = tick(instance, engine, None)
    assert cursor is not None
    state = cursor_of(engine, tenant)
    assert state.history_id is not None
    assert state.full_sync_at is not None
    assert state.watch_expires_at is not None
    assert watching.state("gmail")["gmail"][DEMO_SENDER]["watch"]["topicName"] == TOPIC

    reply = watching.reply(DEMO_SENDER, sent["id"], text="Thursday works for me.")
    # Pub/Sub's push reaches the API off the reply's request: wait for the API's answer.
    deadline = time.monotonic() + 30
    while cursor_of(engine, tenant).pushed_history_id is None:
        assert time.monotonic() < deadline, watching.push_deliveries(wait=0)
        time.sleep(0.1)
    delivered = [d for d in watching.push_deliveries(wait=5.0) if d["delivered"]]
    assert delivered[-1]["status"] == 204

    # The poll is an hour away: the push alone makes this tick read the mailbox.
    read, cursor = tick(instance, engine, cursor)
    # Other modules' mailboxes in the shared database may spend a tick's time budget first.
    for _ in range(5):
        if workflow(engine, lead).stopped_reason:
            break
        read, cursor = tick(instance, engine, cursor)
    # The UI's view: an observation on the lead's partition says why it stopped.
    assert isinstance(read, SensorResult)
    [seen] = [e for e in read.asset_events if e.partition == str(lead.workflow_id)]
    assert isinstance(seen, AssetObservation)
    assert (seen.asset_key, seen.partition) == (AssetKey("lead_followup"), str(lead.workflow_id))
    assert seen.metadata["stopped_reason"].value == "replied"
    stopped = workflow(engine, lead)
    assert stopped.stopped_reason == "replied"
    assert stopped.stopped_at is not None
    assert events(engine, lead, "stopped_on_reply") == 1
    task = task_of(watching, lead)
    assert task["properties"]["hs_task_status"] == "COMPLETED"
    assert "stopped by sales-agent" in task["properties"]["hs_task_body"]
    with Session(engine) as session:
        row = session.get_one(InboundMessage, (tenant.id, DEMO_SENDER, reply["id"]))
        assert (row.kind, row.workflow_id) == ("reply", lead.workflow_id)

    # Nothing pushed since for this mailbox, the poll not due: the reply is not acted on
    # again. (The database is shared with other test modules running at the same time: a
    # push of theirs may make this tick read their mailboxes, so the tick's words vary.)
    tick(instance, engine, cursor)
    assert events(engine, lead, "stopped_on_reply") == 1
    assert task_of(watching, lead)["properties"]["hs_task_status"] == "COMPLETED"


def test_a_bounce_suppresses_the_lead_and_notes_its_contact(
    watching: Admin,
    submit: Any,
    run: Any,
    engine: Engine,
    tenant: Tenant,
    instance: DagsterInstance,
) -> None:
    email = f"gone.{uuid.uuid4().hex[:6]}@ledgerline.example"
    lead = submit(email)
    assert run(lead).success
    _, cursor = tick(instance, engine, None)
    watching.bounce(DEMO_SENDER, sent_to(watching, email)["id"], status="5.1.1")
    deadline = time.monotonic() + 30
    while cursor_of(engine, tenant).pushed_history_id is None:
        assert time.monotonic() < deadline, watching.push_deliveries(wait=0)
        time.sleep(0.1)
    tick(instance, engine, cursor)
    assert workflow(engine, lead).stopped_reason == "bounced"
    assert events(engine, lead, "bounced") == 1
    with Session(engine) as session:
        entry = session.scalars(
            select(Suppression).where(
                Suppression.tenant_id == tenant.id, Suppression.value == email
            )
        ).one()
    assert (entry.reason, entry.source, entry.workflow_id) == (
        "bounce",
        "dsn 5.1.1",
        lead.workflow_id,
    )
    portal = watching.state("hubspot")["hubspot"]["portals"]["1000"]
    notes = [
        n["properties"]["hs_note_body"]
        for n in portal["objects"].get("notes", [])
        if email in (n["properties"].get("hs_note_body") or "")
    ]
    assert len(notes) == 1
    assert notes[0].startswith(f"Email to {email} bounced (5.1.1")
