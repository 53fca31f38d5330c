"""The mailbox sync on the real database, through the Gmail and HubSpot adapters over HTTP
against the sandbox: a lead's reply stops its workflows and completes its task; a bounce
suppresses the address and notes the contact; an expired history id resyncs in full without
acting twice; an unsubscribe mail unsubscribes; other mail changes nothing."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from sales_agent_pipeline.connectors.factory import build_crm, build_mail
from sales_agent_pipeline.connectors.gmail import GmailMail
from sales_agent_pipeline.connectors.hubspot import HubSpotCRM
from sales_agent_pipeline.db.models import (
    HubspotTask,
    InboundMessage,
    MailboxCursor,
    ScheduledSend,
    Tenant,
    Workflow,
    WorkflowEvent,
)
from sales_agent_pipeline.db.repositories import suppressions
from sales_agent_pipeline.db.session import make_session_factory
from sales_agent_pipeline.domain.models import NewTask, OutgoingMail, SentRef
from sales_agent_pipeline.secretbox import SecretBox, generate_key, unsubscribe_tokens
from sales_agent_pipeline.settings import Settings
from sales_agent_pipeline.usecases.mailbox_sync import SyncReport, sync_mailbox
from sales_agent_pipeline.usecases.mailboxes import sync_watches
from tests.integration.api.conftest import make_tenant
from tests.integration.api.operator_support import add_draft, add_workflow
from tests.sandbox.conftest import Admin, admin, admin_client, sandbox_url  # noqa: F401

USER = "owner@sandbox.example.com"
LEAD = "pat@prospect.example"


@pytest.fixture
def settings(sandbox_url: str, admin: Admin) -> Settings:  # noqa: F811
    # After the sandbox's reset (`admin`), which forgets registered tokens.
    token = admin.register_token(f"pat-test-{uuid.uuid4().hex[:8]}")
    return Settings(
        _env_file=None,
        hubspot_access_token=token,
        hubspot_api_base_url=sandbox_url,
        google_api_base_url=sandbox_url,
        hubspot_timeout_seconds=5.0,
        google_timeout_seconds=5.0,
        gmail_quota_units_per_second=10_000,
        secrets_encryption_keys=generate_key(),
    )


@pytest.fixture
def mail(settings: Settings, admin: Admin) -> GmailMail:  # noqa: F811
    return build_mail(settings)


@pytest.fixture
def crm(settings: Settings, admin: Admin) -> HubSpotCRM:  # noqa: F811
    return build_crm(settings)


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


@pytest.fixture
def tenant(engine: Engine) -> Tenant:
    return make_tenant(engine, SecretBox([generate_key()]), webhook_secret=None, sender_email=USER)


@pytest.fixture
def sync(
    sessions: sessionmaker[Session],
    settings: Settings,
    tenant: Tenant,
    mail: GmailMail,
    crm: HubSpotCRM,
) -> Callable[[], SyncReport]:
    return lambda: sync_mailbox(
        sessions, settings, tenant_id=tenant.id, mailbox=USER, mail=mail, crm=lambda: crm
    )


class Lead:
    """A lead's workflow whose mail went out from USER, with its HubSpot contact and task."""

    def __init__(
        self, engine: Engine, tenant: Tenant, mail: GmailMail, crm: HubSpotCRM, email: str = LEAD
    ) -> None:
        self.workflow_id = add_workflow(engine, tenant, email, mailbox=USER)
        self.sent: SentRef = mail.send_message(
            OutgoingMail(
                to=(email,),
                subject="Your demo request",
                text_body="Would Thursday suit you?",
                marker=str(self.workflow_id),
            )
        )
        add_draft(
            engine,
            self.workflow_id,
            email,
            gmail_message_id=self.sent.message_id,
            gmail_thread_id=self.sent.thread_id,
            sent=True,
            sent_at=datetime.now(UTC),
            mode="SEND",
        )
        self.contact = crm.upsert_contact(email, {"firstname": "Pat"})
        self.task = crm.create_task(
            NewTask(
                subject="Follow up with Pat",
                body="Call Pat about the demo",
                due_at=datetime.now(UTC) + timedelta(days=2),
                contact_id=self.contact.id,
            )
        )
        with Session(engine) as session, session.begin():
            session.add(
                HubspotTask(
                    workflow_id=self.workflow_id,
                    hubspot_task_id=self.task.id,
                    contact_id=self.contact.id,
                    subject="Follow up with Pat",
                    due_date=datetime.now(UTC).date(),
                )
            )


def _workflow(engine: Engine, workflow_id: uuid.UUID) -> Workflow:
    with Session(engine, expire_on_commit=False) as session:
        found = session.get(Workflow, workflow_id)
        assert found is not None
        return found


def _events(engine: Engine, workflow_id: uuid.UUID, kind: str) -> list[dict[str, Any]]:
    with Session(engine) as session:
        return list(
            session.scalars(
                select(WorkflowEvent.details).where(
                    WorkflowEvent.workflow_id == workflow_id, WorkflowEvent.event_type == kind
                )
            )
        )


def _inbound(engine: Engine, tenant: Tenant) -> list[InboundMessage]:
    with Session(engine, expire_on_commit=False) as session:
        return list(
            session.scalars(select(InboundMessage).where(InboundMessage.tenant_id == tenant.id))
        )


def _cursor(engine: Engine, tenant: Tenant) -> MailboxCursor:
    with Session(engine, expire_on_commit=False) as session:
        found = session.get(MailboxCursor, (tenant.id, USER))
        assert found is not None
        return found


def _scheduled(engine: Engine, tenant: Tenant, workflow_id: uuid.UUID) -> None:
    with Session(engine) as session, session.begin():
        session.add(
            ScheduledSend(
                workflow_id=workflow_id,
                tenant_id=tenant.id,
                mailbox=USER,
                to_email=LEAD,
                gmail_draft_id="r-later",
                due_at=datetime.now(UTC) + timedelta(hours=3),
                time_zone="UTC",
                zone_of="owner",
            )
        )


def _scheduled_status(engine: Engine, workflow_id: uuid.UUID) -> str:
    with Session(engine) as session:
        return str(
            session.scalar(
                select(ScheduledSend.status).where(ScheduledSend.workflow_id == workflow_id)
            )
        )


def test_a_reply_stops_the_leads_workflows_cancels_their_sends_and_completes_the_task(
    engine: Engine,
    tenant: Tenant,
    mail: GmailMail,
    crm: HubSpotCRM,
    admin: Admin,  # noqa: F811
    sync: Callable[[], SyncReport],
) -> None:
    lead = Lead(engine, tenant, mail, crm)
    # A second workflow of the same address, waiting for its window.
    waiting = add_workflow(engine, tenant, LEAD, mailbox=USER)
    _scheduled(engine, tenant, waiting)
    first = sync()
    assert first.full_sync
    assert first.replies == 0
    assert _cursor(engine, tenant).history_id is not None

    reply = admin.reply(USER, lead.sent.message_id, text="Thursday works for me.")
    report = sync()
    assert (report.full_sync, report.replies) == (False, 1)

    for workflow_id in (lead.workflow_id, waiting):
        stopped = _workflow(engine, workflow_id)
        assert stopped.stopped_reason == "replied"
        assert stopped.stopped_at is not None
        [event] = _events(engine, workflow_id, "stopped_on_reply")
        assert event["message_id"] == reply["id"]
        assert "Thursday" not in str(event)
    assert _scheduled_status(engine, waiting) == "cancelled"
    task = crm.get_task(lead.task.id)
    assert task.status == "COMPLETED"
    assert task.body is not None
    assert task.body.startswith("Call Pat about the demo\n\n")
    assert (
        f"Lead replied on {datetime.now(UTC).date().isoformat()}: stopped by sales-agent"
        in task.body
    )
    [row] = _inbound(engine, tenant)
    assert (row.kind, row.address, row.gmail_message_id) == ("reply", LEAD, reply["id"])
    assert row.details["hubspot"] == "done"
    with Session(engine) as session:
        assert (
            session.scalar(
                select(HubspotTask.status).where(HubspotTask.workflow_id == lead.workflow_id)
            )
            == "COMPLETED"
        )

    # Read again (a push racing a poll): nothing more.
    assert sync().replies == 0
    assert len(_events(engine, lead.workflow_id, "stopped_on_reply")) == 1
    assert crm.get_task(lead.task.id).body == task.body


def test_mail_that_is_no_leads_reply_changes_nothing(
    engine: Engine,
    tenant: Tenant,
    mail: GmailMail,
    crm: HubSpotCRM,
    admin: Admin,  # noqa: F811
    sync: Callable[[], SyncReport],
) -> None:
    lead = Lead(engine, tenant, mail, crm)
    sync()
    # An out-of-office answer, a colleague in the thread, a stranger.
    admin.reply(
        USER,
        lead.sent.message_id,
        text="I am away until Monday.",
        headers={"Auto-Submitted": "auto-replied"},
    )
    admin.reply(USER, lead.sent.message_id, **{"from": "sam@prospect.example"}, text="Pat is out")
    admin.deliver(to=USER, **{"from": LEAD}, subject="Something else", text="New thread")
    report = sync()
    assert report.read == 3
    assert report.replies == 0
    assert _workflow(engine, lead.workflow_id).stopped_reason is None
    assert _inbound(engine, tenant) == []
    assert crm.get_task(lead.task.id).status != "COMPLETED"


def test_a_bounce_suppresses_the_address_stops_its_workflow_and_notes_the_contact(
    engine: Engine,
    sessions: sessionmaker[Session],
    tenant: Tenant,
    mail: GmailMail,
    crm: HubSpotCRM,
    admin: Admin,  # noqa: F811
    sync: Callable[[], SyncReport],
) -> None:
    lead = Lead(engine, tenant, mail, crm)
    sync()
    dsn = admin.bounce(USER, lead.sent.message_id, status="5.1.1")
    report = sync()
    assert report.bounces == 1
    with sessions() as session:
        entry = suppressions.find(session, tenant.id, LEAD)
    assert entry is not None
    assert (entry.reason.value, entry.source) == ("bounce", "dsn 5.1.1")
    assert _workflow(engine, lead.workflow_id).stopped_reason == "bounced"
    [event] = _events(engine, lead.workflow_id, "bounced")
    assert (event["status"], event["message_id"]) == ("5.1.1", dsn["id"])
    notes = [
        n
        for n in admin.state("hubspot")["hubspot"]["portals"]["1000"]["objects"].get("notes", [])
        if "bounced" in (n["properties"].get("hs_note_body") or "")
    ]
    [note] = notes
    body = note["properties"]["hs_note_body"]
    assert body.startswith(f"Email to {LEAD} bounced (5.1.1 ")
    assert body.endswith(": suppressed by sales-agent")
    [row] = _inbound(engine, tenant)
    assert (row.kind, row.address, row.details["hubspot"]) == ("bounce", LEAD, "done")
    # Seen again: no second note, no second event.
    sync()
    assert len(_events(engine, lead.workflow_id, "bounced")) == 1


def test_an_expired_history_id_resyncs_in_full_without_acting_twice(
    engine: Engine,
    tenant: Tenant,
    mail: GmailMail,
    crm: HubSpotCRM,
    admin: Admin,  # noqa: F811
    sync: Callable[[], SyncReport],
) -> None:
    lead = Lead(engine, tenant, mail, crm)
    sync()
    before = _cursor(engine, tenant)
    admin.reply(USER, lead.sent.message_id, text="Yes please.")
    admin.expire_history(USER)
    report = sync()
    # The reply came in before the id expired: the resync's scan finds it.
    assert (report.full_sync, report.replies) == (True, 1)
    after = _cursor(engine, tenant)
    assert after.full_sync_at is not None
    assert before.history_id is not None
    assert after.history_id is not None
    assert after.history_id > before.history_id
    assert _workflow(engine, lead.workflow_id).stopped_reason == "replied"
    body = crm.get_task(lead.task.id).body

    # More mail, then the id read last expires too: the scan sees the reply again.
    admin.deliver(to=USER, **{"from": "news@elsewhere.example"}, subject="News", text="Hi")
    admin.expire_history(USER)
    again = sync()
    assert (again.full_sync, again.replies) == (True, 0)
    assert len(_events(engine, lead.workflow_id, "stopped_on_reply")) == 1
    assert crm.get_task(lead.task.id).body == body
    assert len(_inbound(engine, tenant)) == 1


def test_an_unsubscribe_mail_unsubscribes_its_tokens_address(
    engine: Engine,
    sessions: sessionmaker[Session],
    settings: Settings,
    tenant: Tenant,
    mail: GmailMail,
    crm: HubSpotCRM,
    admin: Admin,  # noqa: F811
    sync: Callable[[], SyncReport],
) -> None:
    lead = Lead(engine, tenant, mail, crm)
    sync()
    token = unsubscribe_tokens(settings).mint(tenant.id, LEAD, lead.workflow_id)
    admin.deliver(to=USER, **{"from": LEAD}, subject=f"unsubscribe {token}", text="")
    admin.deliver(to=USER, **{"from": LEAD}, subject="unsubscribe not-a-real-token-at-all", text="")
    report = sync()
    assert report.unsubscribes == 1
    with sessions() as session:
        entry = suppressions.find(session, tenant.id, LEAD)
    assert entry is not None
    assert (entry.reason.value, entry.source) == ("unsubscribe", "mailto")
    assert _workflow(engine, lead.workflow_id).stopped_reason == "unsubscribed"
    kinds = sorted(row.kind for row in _inbound(engine, tenant))
    assert kinds == ["other", "unsubscribe"]


def test_a_hubspot_failure_leaves_the_follow_up_pending_until_a_later_sync(
    engine: Engine,
    tenant: Tenant,
    mail: GmailMail,
    crm: HubSpotCRM,
    admin: Admin,  # noqa: F811
    sync: Callable[[], SyncReport],
) -> None:
    lead = Lead(engine, tenant, mail, crm)
    sync()
    admin.reply(USER, lead.sent.message_id, text="Sounds good")
    admin.fault(pathPattern="/crm/v3/objects/tasks/*", method="PATCH", status=400, count=1)
    report = sync()
    assert report.replies == 1
    assert report.errors
    [row] = _inbound(engine, tenant)
    assert (row.details["hubspot"], row.details["hubspot_attempts"]) == ("pending", 1)
    assert _workflow(engine, lead.workflow_id).stopped_reason == "replied"
    assert crm.get_task(lead.task.id).status != "COMPLETED"
    assert not sync().errors
    assert crm.get_task(lead.task.id).status == "COMPLETED"
    [row] = _inbound(engine, tenant)
    assert row.details["hubspot"] == "done"


def test_a_mailbox_the_credentials_do_not_read_is_refused(
    engine: Engine,
    sessions: sessionmaker[Session],
    settings: Settings,
    tenant: Tenant,
    mail: GmailMail,
    crm: HubSpotCRM,
) -> None:
    from sales_agent_pipeline.domain.errors import ConfigurationError

    with pytest.raises(ConfigurationError):
        sync_mailbox(
            sessions,
            settings,
            tenant_id=tenant.id,
            mailbox="someone-else@sandbox.example.com",
            mail=mail,
            crm=lambda: crm,
        )
    with Session(engine) as session:
        error = session.scalar(
            select(func.max(MailboxCursor.last_error)).where(MailboxCursor.tenant_id == tenant.id)
        )
    assert error is not None
    assert "not this mailbox" in error


def test_a_read_out_of_time_keeps_the_cursor_before_what_it_did_not_read(
    engine: Engine,
    sessions: sessionmaker[Session],
    settings: Settings,
    tenant: Tenant,
    mail: GmailMail,
    crm: HubSpotCRM,
    admin: Admin,  # noqa: F811
    sync: Callable[[], SyncReport],
) -> None:
    lead = Lead(engine, tenant, mail, crm)
    sync()
    before = _cursor(engine, tenant).history_id
    admin.reply(USER, lead.sent.message_id, text="Yes")
    late = sync_mailbox(
        sessions,
        settings,
        tenant_id=tenant.id,
        mailbox=USER,
        mail=mail,
        crm=lambda: crm,
        deadline=time.monotonic() - 1,
    )
    assert late.partial
    assert late.read == 0
    assert _cursor(engine, tenant).history_id == before
    assert sync().replies == 1
    assert _workflow(engine, lead.workflow_id).stopped_reason == "replied"


def test_a_task_the_owner_deleted_is_nothing_to_complete(
    engine: Engine,
    tenant: Tenant,
    mail: GmailMail,
    crm: HubSpotCRM,
    admin: Admin,  # noqa: F811
    sync: Callable[[], SyncReport],
) -> None:
    lead = Lead(engine, tenant, mail, crm)
    sync()
    crm._http.call("archive task", crm._http.tasks.archive, lead.task.id)
    admin.reply(USER, lead.sent.message_id, text="Yes")
    report = sync()
    assert report.replies == 1
    assert not report.errors
    [row] = _inbound(engine, tenant)
    assert row.details["hubspot"] == "done"


def test_watches_are_made_renewed_near_their_end_and_stopped_without_a_topic(
    engine: Engine,
    sessions: sessionmaker[Session],
    tenant: Tenant,
    mail: GmailMail,
    admin: Admin,  # noqa: F811
    sync: Callable[[], SyncReport],
) -> None:
    sync()
    pairs = [(tenant.id, USER)]
    topic = "projects/sandbox-project/topics/gmail"
    now = datetime.now(UTC)
    made, failed = sync_watches(
        sessions, pairs=pairs, mail_for=lambda *_: mail, topic=topic, now=now
    )
    assert len(made) == 1
    assert not failed
    assert admin.state("gmail")["gmail"][USER]["watch"]["topicName"] == topic
    ends = _cursor(engine, tenant).watch_expires_at
    assert ends is not None
    # A week to go: nothing to renew; a day before its end: renewed.
    assert (
        sync_watches(sessions, pairs=pairs, mail_for=lambda *_: mail, topic=topic, now=now)[0] == []
    )
    renewed, _ = sync_watches(
        sessions, pairs=pairs, mail_for=lambda *_: mail, topic=topic, now=ends - timedelta(hours=2)
    )
    assert len(renewed) == 1
    stopped, _ = sync_watches(sessions, pairs=pairs, mail_for=lambda *_: mail, topic=None, now=now)
    assert stopped == [f"{USER}: no longer watched"]
    assert admin.state("gmail")["gmail"][USER]["watch"] is None
    assert _cursor(engine, tenant).watch_expires_at is None
