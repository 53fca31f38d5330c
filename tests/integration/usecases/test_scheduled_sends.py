"""Scheduled sends on the real database, through the Gmail adapter against the sandbox over
HTTP: a due send goes out once and is recorded; two runs claiming at once, or a retry of a
run that died mid-send, still send once; a cancelled, suppressed or stopped lead is never
mailed; the gate's refusals reschedule or fail with the reason."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session, sessionmaker

from sales_agent_pipeline.connectors.factory import build_mail
from sales_agent_pipeline.connectors.gmail import GmailMail
from sales_agent_pipeline.db.effects import PostgresEffects
from sales_agent_pipeline.db.models import (
    DraftEmail,
    ScheduledSend,
    SendReservation,
    Tenant,
    Workflow,
    WorkflowEvent,
)
from sales_agent_pipeline.db.repositories import scheduled_sends, suppressions
from sales_agent_pipeline.db.session import make_engine, make_session_factory
from sales_agent_pipeline.domain.compliance import SuppressionKind, SuppressionReason
from sales_agent_pipeline.domain.models import DraftRef, OutgoingMail
from sales_agent_pipeline.settings import Settings
from sales_agent_pipeline.steps.create_gmail_draft import send_draft_once
from sales_agent_pipeline.usecases.scheduled_sends import Outcome, send_claimed, send_due
from tests.conftest import accept_lead
from tests.sandbox.conftest import Admin, admin, admin_client, sandbox_url  # noqa: F401

SETTINGS = Settings(_env_file=None)
MAILBOX = "alex@ourco.example"


@pytest.fixture(scope="module")
def sessions(database_url: URL) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(database_url, pool_size=10)
    yield make_session_factory(engine)
    engine.dispose()


@pytest.fixture
def gmail(sandbox_url: str, admin: Admin) -> GmailMail:  # noqa: F811
    settings = Settings(
        _env_file=None,
        google_api_base_url=sandbox_url,
        google_timeout_seconds=10.0,
        gmail_quota_units_per_second=100_000,
    )
    return build_mail(settings)


@pytest.fixture
def tenant(sessions: sessionmaker[Session]) -> uuid.UUID:
    """A SEND tenant of its own (its sends and cap are this test's only)."""
    with sessions.begin() as session:
        row = Tenant(
            portal_id=uuid.uuid4().int % 10**9, name="Send Co", mode="SEND", daily_send_cap=50
        )
        session.add(row)
        session.flush()
        return row.id


def scheduled(
    sessions: sessionmaker[Session],
    gmail: GmailMail,
    tenant_id: uuid.UUID,
    email: str,
    *,
    due_in: timedelta = timedelta(minutes=-1),
) -> uuid.UUID:
    """A lead drafted in the sandbox's Gmail (marked with its workflow id, as step 11
    writes it) and scheduled to go out `due_in` from now; its workflow id."""
    with sessions.begin() as session:
        accepted = accept_lead(session, session.get_one(Tenant, tenant_id), email)
        workflow_id = accepted.workflow_id
        session.execute(
            update(Workflow)
            .where(Workflow.id == workflow_id)
            .values(status="succeeded", mailbox=MAILBOX)
        )
    draft = gmail.create_draft(
        OutgoingMail(
            to=(email,), subject="Next step", text_body="Tuesday?", marker=str(workflow_id)
        )
    )
    with sessions.begin() as session:
        session.add(
            DraftEmail(
                workflow_id=workflow_id,
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
            workflow_id=workflow_id,
            tenant_id=tenant_id,
            mailbox=MAILBOX,
            to_email=email,
            draft_id=draft.draft_id,
            message_id=draft.message_id,
            thread_id=draft.thread_id,
            due_at=datetime.now(UTC) + due_in,
            time_zone="America/New_York",
            zone_of="recipient",
        )
    return workflow_id


def sent_to(sandbox: Admin, email: str) -> int:
    return sum(1 for message in sandbox.sent() if email in message["to"])


def row(sessions: sessionmaker[Session], workflow_id: uuid.UUID) -> ScheduledSend:
    with sessions() as session:
        return session.get_one(ScheduledSend, workflow_id)


def draft(sessions: sessionmaker[Session], workflow_id: uuid.UUID) -> DraftEmail:
    with sessions() as session:
        return session.scalars(
            select(DraftEmail).where(DraftEmail.workflow_id == workflow_id)
        ).one()


def events(sessions: sessionmaker[Session], workflow_id: uuid.UUID) -> list[str]:
    with sessions() as session:
        return list(
            session.scalars(
                select(WorkflowEvent.event_type)
                .where(WorkflowEvent.workflow_id == workflow_id)
                .order_by(WorkflowEvent.id)
            )
        )


def run(
    sessions: sessionmaker[Session], gmail: GmailMail, tenant_id: uuid.UUID, **kw: object
) -> dict[uuid.UUID, Outcome]:
    results = send_due(
        sessions,
        SETTINGS,
        lambda _tenant, _mailbox: gmail,
        tenant_id=tenant_id,
        **kw,  # type: ignore[arg-type]
    )
    return {result.workflow_id: result.outcome for result in results}


def test_a_due_send_is_sent_once_and_recorded(
    sessions: sessionmaker[Session],
    gmail: GmailMail,
    admin: Admin,  # noqa: F811
    tenant: uuid.UUID,
) -> None:
    email = "due.now@acme.example"
    workflow_id = scheduled(sessions, gmail, tenant, email)
    later = scheduled(sessions, gmail, tenant, "later@acme.example", due_in=timedelta(hours=3))
    assert run(sessions, gmail, tenant, run_id="run-1") == {workflow_id: Outcome.SENT}
    assert sent_to(admin, email) == 1
    assert sent_to(admin, "later@acme.example") == 0

    sent_row = row(sessions, workflow_id)
    assert (sent_row.status, sent_row.attempts, sent_row.dagster_run_id) == ("sent", 1, "run-1")
    mail = draft(sessions, workflow_id)
    assert (mail.sent, mail.mode) == (True, "SEND")
    assert mail.sent_at is not None
    assert sent_row.sent_at == mail.sent_at
    assert mail.gmail_message_id == sent_row.gmail_message_id
    [message] = [m for m in admin.sent() if email in m["to"]]
    assert message["id"] == mail.gmail_message_id
    assert events(sessions, workflow_id) == ["scheduled_send_sent"]
    with sessions() as session:
        slot = session.get_one(SendReservation, workflow_id)
        assert slot.status == "sent"
        event = session.scalars(
            select(WorkflowEvent).where(WorkflowEvent.workflow_id == workflow_id)
        ).one()
        assert event.step_number is None
        assert event.dagster_run_id == "run-1"
        assert event.details["mailbox_domain"] == "ourco.example"
        assert MAILBOX not in str(event.details)

    # Nothing is due any more: a second run sends nothing; the later one waits.
    assert run(sessions, gmail, tenant) == {}
    assert sent_to(admin, email) == 1
    assert row(sessions, later).status == "scheduled"


def test_two_runs_at_once_send_each_due_send_once(
    sessions: sessionmaker[Session],
    gmail: GmailMail,
    admin: Admin,  # noqa: F811
    tenant: uuid.UUID,
) -> None:
    emails = [f"race{i}@acme.example" for i in range(8)]
    ids = [scheduled(sessions, gmail, tenant, email) for email in emails]
    start = threading.Barrier(2)
    outcomes: list[dict[uuid.UUID, Outcome]] = []

    def one(name: str) -> None:
        start.wait()
        outcomes.append(run(sessions, gmail, tenant, run_id=name, owner=name))

    threads = [threading.Thread(target=one, args=(f"run-{n}",)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    first, second = outcomes
    # Each row was claimed by one run only, and sent.
    assert not set(first) & set(second)
    assert {**first, **second} == dict.fromkeys(ids, Outcome.SENT)
    assert all(sent_to(admin, email) == 1 for email in emails)


def test_one_row_sent_by_two_attempts_at_once_goes_out_once(
    sessions: sessionmaker[Session],
    gmail: GmailMail,
    admin: Admin,  # noqa: F811
    tenant: uuid.UUID,
) -> None:
    """A run still sending (Gmail slow) while its row, thought stale, was taken again: the
    send's record lets one attempt through; the other waits or finds it sent."""
    email = "twice@acme.example"
    workflow_id = scheduled(sessions, gmail, tenant, email)
    with sessions.begin() as session:
        [claimed] = scheduled_sends.claim_due(session, datetime.now(UTC), 10, tenant_id=tenant)
    admin.fault(pathPattern="/gmail/v1/users/*/drafts/send", method="POST", delayMs=1500)
    outcomes: dict[str, Outcome] = {}

    def attempt(owner: str, after: float) -> None:
        threading.Event().wait(after)
        result = send_claimed(
            sessions, SETTINGS, lambda _t, _m: gmail, claimed, owner=owner, run_id=owner
        )
        outcomes[owner] = result.outcome

    threads = [
        threading.Thread(target=attempt, args=("first", 0.0)),
        threading.Thread(target=attempt, args=("second", 0.4)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert outcomes["first"] is Outcome.SENT
    assert outcomes["second"] in {Outcome.RESCHEDULED, Outcome.ALREADY_SENT}
    assert sent_to(admin, email) == 1
    assert row(sessions, workflow_id).status == "sent"
    assert events(sessions, workflow_id).count("scheduled_send_sent") == 1
    # The later look (the busy attempt's reschedule) finds it sent and sends nothing.
    assert run(sessions, gmail, tenant) == {}
    assert sent_to(admin, email) == 1


def test_a_row_taken_again_after_its_run_died_mid_send_is_sent_once(
    sessions: sessionmaker[Session],
    gmail: GmailMail,
    admin: Admin,  # noqa: F811
    tenant: uuid.UUID,
) -> None:
    email = "crash@acme.example"
    workflow_id = scheduled(sessions, gmail, tenant, email)
    # A run claims it, sends it under the workflow's record, and dies before recording.
    with sessions.begin() as session:
        [claimed] = scheduled_sends.claim_due(
            session, datetime.now(UTC), 10, tenant_id=tenant, run_id="dead"
        )
    send_draft_once(
        gmail,
        PostgresEffects(sessions, workflow_id, owner="dead"),
        DraftRef(
            draft_id=claimed.gmail_draft_id,
            message_id=claimed.gmail_message_id or "",
            thread_id=claimed.gmail_thread_id or "",
        ),
        str(workflow_id),
    )
    assert sent_to(admin, email) == 1
    # Still "sending" and fresh: the next run leaves it alone.
    assert run(sessions, gmail, tenant) == {}
    with sessions.begin() as session:
        session.execute(
            update(ScheduledSend)
            .where(ScheduledSend.workflow_id == workflow_id)
            .values(updated_at=ScheduledSend.updated_at - timedelta(minutes=11))
        )
    # Stale: taken again; the send's record answers it: recorded, never sent twice.
    assert run(sessions, gmail, tenant) == {workflow_id: Outcome.SENT}
    assert sent_to(admin, email) == 1
    assert (row(sessions, workflow_id).status, row(sessions, workflow_id).attempts) == (
        "sent",
        2,
    )
    assert draft(sessions, workflow_id).sent


def test_a_send_whose_answer_was_lost_is_retried_later_and_goes_out_once(
    sessions: sessionmaker[Session],
    gmail: GmailMail,
    admin: Admin,  # noqa: F811
    tenant: uuid.UUID,
) -> None:
    email = "lost.answer@acme.example"
    workflow_id = scheduled(sessions, gmail, tenant, email)
    admin.fault(
        pathPattern="/gmail/v1/users/*/drafts/send", method="POST", status=500, afterCommit=True
    )
    assert run(sessions, gmail, tenant) == {workflow_id: Outcome.RESCHEDULED}
    assert sent_to(admin, email) == 1  # Gmail sent it; we never heard
    waiting = row(sessions, workflow_id)
    assert waiting.status == "scheduled"
    assert waiting.due_at > datetime.now(UTC)
    assert waiting.reason is not None
    assert "Gmail unavailable" in waiting.reason
    # Its retry comes (due now): the draft is gone, the sent copy is found and recorded.
    with sessions.begin() as session:
        session.execute(
            update(ScheduledSend)
            .where(ScheduledSend.workflow_id == workflow_id)
            .values(due_at=datetime.now(UTC) - timedelta(seconds=1))
        )
    assert run(sessions, gmail, tenant) == {workflow_id: Outcome.SENT}
    assert sent_to(admin, email) == 1
    assert events(sessions, workflow_id) == ["scheduled_send_rescheduled", "scheduled_send_sent"]


def test_a_cancelled_send_never_goes_out(
    sessions: sessionmaker[Session],
    gmail: GmailMail,
    admin: Admin,  # noqa: F811
    tenant: uuid.UUID,
) -> None:
    by_address = scheduled(sessions, gmail, tenant, "Replied@Acme.example")
    by_domain = [scheduled(sessions, gmail, tenant, f"someone{i}@gone.example") for i in range(2)]
    other = scheduled(sessions, gmail, tenant, "keep@acme.example", due_in=timedelta(hours=1))
    with sessions.begin() as session:
        assert scheduled_sends.cancel(
            session, tenant, address="replied@acme.example", reason="replied"
        ) == [by_address]
        assert set(
            scheduled_sends.cancel(session, tenant, domain="GONE.example", reason="bounced")
        ) == set(by_domain)
        # Another tenant's cancel touches none of this tenant's rows.
        assert (
            scheduled_sends.cancel(session, uuid.uuid4(), domain="acme.example", reason="x") == []
        )
        assert scheduled_sends.cancel(session, tenant, workflow_ids=[], reason="x") == []
        with pytest.raises(ValueError, match="name what to cancel"):
            scheduled_sends.cancel(session, tenant, reason="x")
    assert run(sessions, gmail, tenant) == {}
    assert admin.sent() == []
    cancelled = row(sessions, by_address)
    assert (cancelled.status, cancelled.reason) == ("cancelled", "replied")
    assert row(sessions, other).status == "scheduled"
    # Cancelled again, or a row already sent: nothing changes.
    with sessions.begin() as session:
        assert scheduled_sends.cancel(session, tenant, workflow_ids=[by_address], reason="y") == []


def test_a_lead_suppressed_or_stopped_after_it_was_scheduled_is_cancelled_at_send_time(
    sessions: sessionmaker[Session],
    gmail: GmailMail,
    admin: Admin,  # noqa: F811
    tenant: uuid.UUID,
) -> None:
    unsubscribed = scheduled(sessions, gmail, tenant, "unsub@acme.example")
    whole_domain = scheduled(sessions, gmail, tenant, "anyone@blocked.example")
    replied = scheduled(sessions, gmail, tenant, "replied@acme.example")
    fine = scheduled(sessions, gmail, tenant, "fine@acme.example")
    # Written straight to the tables, as a race with the claim would leave them: the
    # repository's cancel never saw these rows.
    with sessions.begin() as session:
        suppressions.add(
            session,
            tenant,
            SuppressionKind.ADDRESS,
            "unsub@acme.example",
            SuppressionReason.UNSUBSCRIBE,
            source="one-click",
        )
        suppressions.add(
            session, tenant, SuppressionKind.DOMAIN, "blocked.example", SuppressionReason.MANUAL
        )
        session.execute(
            update(Workflow).where(Workflow.id == replied).values(stopped_reason="replied")
        )
    outcomes = run(sessions, gmail, tenant)
    assert outcomes == {
        unsubscribed: Outcome.CANCELLED,
        whole_domain: Outcome.CANCELLED,
        replied: Outcome.CANCELLED,
        fine: Outcome.SENT,
    }
    assert [m["to"] for m in admin.sent()] == ["fine@acme.example"]
    assert "unsubscribe" in (row(sessions, unsubscribed).reason or "")
    assert row(sessions, replied).reason == "stopped: replied"
    assert events(sessions, replied) == ["scheduled_send_cancelled"]
    assert not draft(sessions, unsubscribed).sent


def test_the_gate_refusing_reschedules_at_the_cap_and_fails_on_the_kill_switch(
    sessions: sessionmaker[Session],
    gmail: GmailMail,
    admin: Admin,  # noqa: F811
    tenant: uuid.UUID,
) -> None:
    first = scheduled(sessions, gmail, tenant, "first@acme.example")
    with sessions.begin() as session:
        session.execute(update(Tenant).where(Tenant.id == tenant).values(daily_send_cap=1))
    assert run(sessions, gmail, tenant) == {first: Outcome.SENT}
    capped = scheduled(sessions, gmail, tenant, "capped@acme.example")
    assert run(sessions, gmail, tenant) == {capped: Outcome.RESCHEDULED}
    waiting = row(sessions, capped)
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date()
    # The next UTC day's first window moment in New York: never today, 09:00-17:00 there.
    assert waiting.status == "scheduled"
    assert waiting.due_at.date() >= tomorrow
    local = waiting.due_at.astimezone(ZoneInfo("America/New_York"))
    assert 9 <= local.hour < 17
    assert local.weekday() < 5
    assert waiting.reason == "daily send cap of 1 reached"
    assert sent_to(admin, "capped@acme.example") == 0

    with sessions.begin() as session:
        session.execute(
            update(Tenant)
            .where(Tenant.id == tenant)
            .values(daily_send_cap=50, send_kill_switch=True)
        )
    killed = scheduled(sessions, gmail, tenant, "killed@acme.example")
    assert run(sessions, gmail, tenant) == {killed: Outcome.FAILED}
    failed = row(sessions, killed)
    assert failed.status == "failed"
    assert failed.reason is not None
    assert "kill switch" in failed.reason
    assert sent_to(admin, "killed@acme.example") == 0
    # The draft stays in Gmail for a person.
    assert any(d["draftId"] == failed.gmail_draft_id for d in admin.drafts())


def test_gmail_down_is_retried_a_few_times_then_failed(
    sessions: sessionmaker[Session],
    gmail: GmailMail,
    admin: Admin,  # noqa: F811
    tenant: uuid.UUID,
) -> None:
    email = "down@acme.example"
    workflow_id = scheduled(sessions, gmail, tenant, email)
    admin.fault(pathPattern="/gmail/v1/users/*/drafts/send", method="POST", status=503, count=None)
    with sessions.begin() as session:
        session.execute(
            update(ScheduledSend).where(ScheduledSend.workflow_id == workflow_id).values(attempts=4)
        )
    assert run(sessions, gmail, tenant) == {workflow_id: Outcome.FAILED}
    failed = row(sessions, workflow_id)
    assert failed.reason is not None
    assert "after 5 attempts" in failed.reason
    assert sent_to(admin, email) == 0


def test_schedule_is_one_row_per_workflow(
    sessions: sessionmaker[Session],
    gmail: GmailMail,
    admin: Admin,  # noqa: F811
    tenant: uuid.UUID,
) -> None:
    workflow_id = scheduled(sessions, gmail, tenant, "once@acme.example", due_in=timedelta(hours=2))
    first = row(sessions, workflow_id)
    values: dict[str, Any] = {
        "workflow_id": workflow_id,
        "tenant_id": tenant,
        "mailbox": MAILBOX,
        "to_email": "once@acme.example",
        "message_id": "m-2",
        "thread_id": "t-2",
        "time_zone": "Europe/Paris",
        "zone_of": "owner",
    }
    with sessions.begin() as session:
        again = scheduled_sends.schedule(
            session, draft_id="d-2", due_at=datetime.now(UTC), **values
        )
    # A re-run keeps the due time and takes the re-written draft.
    assert (again.due_at, again.time_zone, again.gmail_draft_id) == (
        first.due_at,
        first.time_zone,
        "d-2",
    )
    with sessions.begin() as session:
        scheduled_sends.cancel(session, tenant, workflow_ids=[workflow_id], reason="replied")
        revived = scheduled_sends.schedule(
            session, draft_id="d-3", due_at=first.due_at + timedelta(days=1), **values
        )
    # Cancelled, then scheduled again by a re-run: scheduled afresh (the send re-checks).
    assert (revived.status.value, revived.reason, revived.attempts) == ("scheduled", None, 0)
    assert revived.due_at == first.due_at + timedelta(days=1)
    with sessions.begin() as session:
        session.execute(
            update(ScheduledSend)
            .where(ScheduledSend.workflow_id == workflow_id)
            .values(status="sent")
        )
        kept = scheduled_sends.schedule(session, draft_id="d-4", due_at=datetime.now(UTC), **values)
    assert (kept.status.value, kept.gmail_draft_id) == ("sent", "d-3")
    with sessions() as session:
        assert scheduled_sends.get(session, uuid.uuid4()) is None
        count = session.scalar(
            select(func.count())
            .select_from(ScheduledSend)
            .where(ScheduledSend.workflow_id == workflow_id)
        )
    assert count == 1


def test_taken_is_the_mailboxs_due_and_sent_instants(
    sessions: sessionmaker[Session],
    gmail: GmailMail,
    admin: Admin,  # noqa: F811
    tenant: uuid.UUID,
) -> None:
    since = datetime.now(UTC) - timedelta(hours=1)
    sent = scheduled(sessions, gmail, tenant, "sent@acme.example")
    assert run(sessions, gmail, tenant) == {sent: Outcome.SENT}
    pending = scheduled(sessions, gmail, tenant, "pending@acme.example", due_in=timedelta(hours=1))
    cancelled = scheduled(sessions, gmail, tenant, "x@acme.example", due_in=timedelta(hours=2))
    with sessions.begin() as session:
        scheduled_sends.cancel(session, tenant, workflow_ids=[cancelled], reason="replied")
    with sessions() as session:
        moments = scheduled_sends.taken(session, tenant, MAILBOX.upper(), since)
        other_box = scheduled_sends.taken(session, tenant, "someone@else.example", since)
    assert moments == [draft(sessions, sent).sent_at, row(sessions, pending).due_at]
    assert other_box == []
