"""approve_draft on the real database with an in-memory mailbox: what Gmail's trouble becomes
(a refusal the shells map to an answer), and that a send whose answer was lost is found again
by its marker instead of being sent twice."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from sales_agent_pipeline.db.models import DraftEmail, Tenant
from sales_agent_pipeline.db.session import make_session_factory
from sales_agent_pipeline.domain.errors import PermanentError, TransientError
from sales_agent_pipeline.domain.models import OutgoingMail
from sales_agent_pipeline.secretbox import SecretBox, generate_key
from sales_agent_pipeline.settings import Settings
from sales_agent_pipeline.usecases.approvals import ApprovalRefused, Refusal, approve_draft
from tests.fakes.mail import FakeMail
from tests.integration.api.conftest import make_tenant
from tests.integration.api.operator_support import add_draft, add_workflow

EMAIL = "pat@prospect.example"


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


@pytest.fixture
def tenant(engine: Engine) -> Tenant:
    return make_tenant(engine, SecretBox([generate_key()]), webhook_secret=None)


@pytest.fixture
def mail() -> FakeMail:
    return FakeMail(user="sam@ourco.example")


def draft_in(engine: Engine, tenant: Tenant, mail: FakeMail) -> uuid.UUID:
    """A finished DRAFT_ONLY workflow whose draft is in the mailbox, marked with its id."""
    workflow_id = add_workflow(engine, tenant, EMAIL)
    ref = mail.create_draft(
        OutgoingMail(
            to=(EMAIL,), subject="Next step", text_body="Tuesday?", marker=str(workflow_id)
        )
    )
    return add_draft(
        engine,
        workflow_id,
        EMAIL,
        gmail_draft_id=ref.draft_id,
        gmail_message_id=ref.message_id,
        gmail_thread_id=ref.thread_id,
    )


def approve(sessions: sessionmaker[Session], mail: FakeMail, draft_id: uuid.UUID) -> bool:
    """Approve as Dana; whether this approval sent it (False: it was sent already)."""
    result = approve_draft(
        sessions,
        lambda _tenant, _mailbox: mail,
        Settings(_env_file=None),
        approved_by="Dana",
        draft_id=draft_id,
    )
    assert result.sent
    return not result.already_sent


def sent(engine: Engine, draft_id: uuid.UUID) -> bool:
    with Session(engine) as session:
        return bool(session.scalar(select(DraftEmail.sent).where(DraftEmail.id == draft_id)))


def refusal(sessions: sessionmaker[Session], mail: FakeMail, draft_id: uuid.UUID) -> Refusal:
    with pytest.raises(ApprovalRefused) as refused:
        approve(sessions, mail, draft_id)
    return refused.value.reason


def test_the_mailbox_is_the_drafts_tenants(
    engine: Engine, sessions: sessionmaker[Session], tenant: Tenant, mail: FakeMail
) -> None:
    draft_id = draft_in(engine, tenant, mail)
    asked: list[uuid.UUID] = []

    def mail_for(of: Tenant, mailbox: str | None) -> FakeMail:
        asked.append(of.id)
        return mail

    approve_draft(
        sessions, mail_for, Settings(_env_file=None), approved_by="Dana", draft_id=draft_id
    )
    assert asked == [tenant.id]
    assert len(mail.sent_messages()) == 1


def test_a_draft_gone_from_gmail_is_refused_and_nothing_is_recorded(
    engine: Engine, sessions: sessionmaker[Session], tenant: Tenant, mail: FakeMail
) -> None:
    draft_id = draft_in(engine, tenant, mail)
    mail.delete_draft(next(iter(mail.drafts)))
    assert refusal(sessions, mail, draft_id) is Refusal.NO_GMAIL_DRAFT
    assert not sent(engine, draft_id)


def test_gmail_refusing_or_unavailable_is_a_refusal_and_a_later_approve_sends(
    engine: Engine, sessions: sessionmaker[Session], tenant: Tenant, mail: FakeMail
) -> None:
    draft_id = draft_in(engine, tenant, mail)
    mail.fail_next("send_draft", PermanentError("Gmail: Bad request", http_status=400))
    assert refusal(sessions, mail, draft_id) is Refusal.GMAIL_REFUSED
    mail.fail_next("send_draft", TransientError("Gmail: 503", http_status=503))
    assert refusal(sessions, mail, draft_id) is Refusal.GMAIL_UNAVAILABLE
    assert not sent(engine, draft_id)
    assert approve(sessions, mail, draft_id)
    assert len(mail.sent_messages()) == 1
    assert not approve(sessions, mail, draft_id)


def test_a_send_whose_answer_was_lost_is_found_by_its_marker_not_sent_again(
    engine: Engine, sessions: sessionmaker[Session], tenant: Tenant, mail: FakeMail
) -> None:
    draft_id = draft_in(engine, tenant, mail)
    mail.fail_next("send_draft", TransientError("Gmail: 500", http_status=500), after_write=True)
    assert refusal(sessions, mail, draft_id) is Refusal.GMAIL_UNAVAILABLE
    assert approve(sessions, mail, draft_id)
    assert len(mail.sent_messages()) == 1
    assert mail.calls["send_draft"] == 1
    assert sent(engine, draft_id)
