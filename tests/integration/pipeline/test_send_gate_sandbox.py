"""Step 11 in SEND mode against the sandbox over HTTP and a real PostgreSQL, many leads of
one tenant at once, as the runs of a busy day send them: the daily cap holds exactly, a
kill switch flipped mid-batch stops the sends after it, and a drafts.send whose answer is
lost (500 after Gmail committed it, the search index lagging) still sends once."""

from __future__ import annotations

import logging
import random
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session, sessionmaker

from sales_agent_pipeline.connectors.factory import build_mail
from sales_agent_pipeline.connectors.gmail import GmailMail
from sales_agent_pipeline.db.effects import PostgresEffectStore
from sales_agent_pipeline.db.models import DraftEmail, SendReservation, Tenant
from sales_agent_pipeline.db.repositories.lead_records import PostgresLeadRecords
from sales_agent_pipeline.db.repositories.sends import PostgresSendGate
from sales_agent_pipeline.db.session import make_engine, make_session_factory
from sales_agent_pipeline.domain.enums import WorkflowMode
from sales_agent_pipeline.domain.errors import TransientError
from sales_agent_pipeline.domain.workflow import (
    DraftContent,
    MailOutcome,
    TenantSettings,
    ThreadContext,
    WorkItem,
)
from sales_agent_pipeline.secretbox import UnsubscribeTokens, generate_key
from sales_agent_pipeline.settings import Settings
from sales_agent_pipeline.usecases.send_switches import set_kill_switch
from sales_agent_pipeline.workflow.outputs import mail as step_11
from sales_agent_pipeline.workflow.services import Services
from sales_agent_pipeline.workflow.state import LeadState
from tests.conftest import accept_lead
from tests.fakes.writer import FakeTokenBudget
from tests.sandbox.conftest import Admin, admin, admin_client, sandbox_url  # noqa: F401

SETTINGS = Settings(_env_file=None)
# Every message carries an unsubscribe link: tokens under a key of this test's own.
TOKENS = UnsubscribeTokens([generate_key()], ttl_days=1)
CAP_REASON = "daily send cap of 10 reached"


@pytest.fixture(scope="module")
def sessions(database_url: URL) -> Iterator[sessionmaker[Session]]:
    """Pooled connections for 25 lead threads at once."""
    engine = make_engine(database_url, pool_size=25)
    yield make_session_factory(engine)
    engine.dispose()


@pytest.fixture
def sandbox(admin: Admin) -> Admin:  # noqa: F811
    """The sandbox with Gmail's search index a minute behind: a recovery that searched
    would miss every send made during the test."""
    admin.config(search_lag_seconds=60.0)
    return admin


@pytest.fixture
def gmail(sandbox_url: str, sandbox: Admin) -> GmailMail:  # noqa: F811
    settings = Settings(
        _env_file=None,
        google_api_base_url=sandbox_url,
        google_timeout_seconds=10.0,
        # Gmail's quota has its own tests: here it would only slow the sends down.
        gmail_quota_units_per_second=100_000,
    )
    return build_mail(settings)


def fail(*_: Any) -> Any:
    raise AssertionError("step 11 reaches only Gmail and our own tables")


def services(sessions: sessionmaker[Session], gmail: GmailMail) -> Services:
    """Step 11's ports, as a run builds them: PostgreSQL and the Gmail adapter."""
    return Services(
        settings=SETTINGS,
        records=PostgresLeadRecords(sessions),
        effects=PostgresEffectStore(sessions),
        sends=PostgresSendGate(sessions, SETTINGS),
        crm=fail,
        mail=lambda _tenant, _mailbox: gmail,
        drive=fail,
        calendar=fail,
        history=fail,
        now=lambda: datetime.now(UTC),
        log=logging.getLogger("tests.sends"),
        writer=fail,
        tokens=FakeTokenBudget(),
        unsubscribe_token=TOKENS.mint,
    )


def leads(sessions: sessionmaker[Session], count: int, *, cap: int) -> list[LeadState]:
    """A SEND tenant with this cap and `count` leads at step 11, their drafts stored."""
    with sessions.begin() as session:
        row = Tenant(
            portal_id=random.randint(10**6, 10**9), name="Send Co", mode="SEND", daily_send_cap=cap
        )
        session.add(row)
        session.flush()
        tenant = TenantSettings(
            tenant_id=row.id,
            portal_id=row.portal_id,
            name=row.name,
            mode=WorkflowMode.SEND,
            daily_send_cap=cap,
        )
        emails = [f"lead{i}.{uuid.uuid4().hex[:6]}@acme.example" for i in range(count)]
        accepted = [accept_lead(session, row, email) for email in emails]
    states = []
    records = PostgresLeadRecords(sessions)
    for email, lead in zip(emails, accepted, strict=True):
        content = DraftContent(
            to=email, subject="Next steps", text_body="Tuesday?", html_body="<p>Tuesday?</p>"
        )
        records.save_draft(lead.workflow_id, content, [])
        item = WorkItem(
            workflow_id=lead.workflow_id,
            tenant=tenant,
            payload={},
            form_id="f",
            hubspot_submission_id=str(uuid.uuid4()),
            received_at=datetime.now(UTC),
        )
        states.append(LeadState(item=item, draft=content, context=ThreadContext()))
    return states


def run_all(step: Callable[[LeadState], MailOutcome], states: list[LeadState]) -> list[MailOutcome]:
    with ThreadPoolExecutor(max_workers=25) as pool:
        return list(pool.map(step, states))


def sent_to(sandbox: Admin, states: list[LeadState]) -> int:
    wanted = {state.draft.to for state in states if state.draft}
    return sum(1 for m in sandbox.sent() if m["to"] in wanted)


def test_fifty_concurrent_sends_against_a_cap_of_ten_send_exactly_ten(
    sessions: sessionmaker[Session], gmail: GmailMail, sandbox: Admin
) -> None:
    states = leads(sessions, 50, cap=10)
    ports = services(sessions, gmail)
    outcomes = run_all(lambda state: step_11(ports, state, None)["mail"], states)
    assert sum(o.sent for o in outcomes) == 10
    drafted = [o for o in outcomes if not o.sent]
    assert {(o.mode, o.mode_reason) for o in drafted} == {(WorkflowMode.DRAFT_ONLY, CAP_REASON)}
    assert len(drafted) == 40
    assert sent_to(sandbox, states) == 10
    # Our tables agree: ten sent rows, forty drafts left in Gmail for a person.
    ids = [state.workflow_id for state in states]
    with sessions() as session:
        rows = session.execute(
            select(DraftEmail.sent, func.count())
            .where(DraftEmail.workflow_id.in_(ids))
            .group_by(DraftEmail.sent)
        )
        assert dict(rows.all()) == {True: 10, False: 40}
    assert len({d["draftId"] for d in sandbox.drafts()} & {o.draft_id for o in drafted}) == 40


def test_a_global_kill_switch_flipped_mid_batch_stops_the_sends_after_it(
    sessions: sessionmaker[Session], gmail: GmailMail, sandbox: Admin
) -> None:
    states = leads(sessions, 50, cap=1000)
    ports = services(sessions, gmail)
    flipped = threading.Event()
    done = 0
    lock = threading.Lock()

    def one(state: LeadState) -> MailOutcome:
        nonlocal done
        outcome: MailOutcome = step_11(ports, state, None)["mail"]
        with lock:
            done += outcome.sent
            flip = done == 5 and not flipped.is_set()
            if flip:
                flipped.set()
        if flip:
            with sessions.begin() as session:
                set_kill_switch(
                    session, SETTINGS, on=True, changed_by="test", reason="incident drill"
                )
        return outcome

    try:
        outcomes = run_all(one, states)
        with sessions() as session:
            switched_at = session.scalar(select(func.now()))
            slots = (
                session.execute(
                    select(SendReservation.created_at).where(
                        SendReservation.workflow_id.in_([s.workflow_id for s in states])
                    )
                )
                .scalars()
                .all()
            )
    finally:
        with sessions.begin() as session:
            set_kill_switch(session, SETTINGS, on=False, changed_by="test", reason="drill over")
    sent = sum(o.sent for o in outcomes)
    # The ones past the gate when it flipped finish; no later lead sends.
    assert 5 <= sent < 50
    assert sent == len(slots) == sent_to(sandbox, states)
    assert switched_at is not None
    assert all(created < switched_at for created in slots)
    stopped = {o.mode_reason for o in outcomes if not o.sent}
    assert stopped == {"send kill switch is on"}


def test_a_send_whose_answer_is_lost_after_gmail_sent_it_goes_out_once(
    sessions: sessionmaker[Session], gmail: GmailMail, sandbox: Admin
) -> None:
    [state] = leads(sessions, 1, cap=10)
    ports = services(sessions, gmail)
    sandbox.fault(
        pathPattern="/gmail/v1/users/*/drafts/send", method="POST", status=500, afterCommit=True
    )
    with pytest.raises(TransientError):
        step_11(ports, state, None)
    assert sent_to(sandbox, [state]) == 1  # Gmail sent it; we never heard
    # The retry asks Gmail for the draft (gone: it was sent) and finds the message in its
    # thread; the search, a minute behind, is never the judge.
    outcome: MailOutcome = step_11(ports, state, None)["mail"]
    again: MailOutcome = step_11(ports, state, None)["mail"]
    assert outcome.sent
    assert (again.sent, again.message_id) == (True, outcome.message_id)
    assert sent_to(sandbox, [state]) == 1
    [message] = [m for m in sandbox.sent() if state.draft and m["to"] == state.draft.to]
    assert outcome.message_id == message["id"]
    with sessions() as session:
        row = session.scalar(select(DraftEmail).where(DraftEmail.workflow_id == state.workflow_id))
        assert row is not None
        assert (row.sent, row.gmail_message_id) == (True, message["id"])
        status = session.scalar(
            select(SendReservation.status).where(SendReservation.workflow_id == state.workflow_id)
        )
    assert status == "sent"
