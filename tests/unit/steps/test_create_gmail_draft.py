"""Step 11: a Gmail draft or a sent email, exactly once per workflow, whatever re-runs happen."""

from dataclasses import replace
from typing import Any

import pytest

from sales_agent_pipeline.domain.enums import WorkflowMode
from sales_agent_pipeline.domain.errors import PermanentError, TransientError
from sales_agent_pipeline.domain.workflow import DraftContent, MailOutcome, ThreadContext
from sales_agent_pipeline.ports.effects import Effects
from sales_agent_pipeline.ports.vendors import Mail
from sales_agent_pipeline.steps.create_gmail_draft import (
    ModePolicy,
    PreviousMail,
    create_gmail_draft,
    effective_mode,
)
from tests.fakes import Crash, FakeEffects, FakeMail

DRAFT, SEND = WorkflowMode.DRAFT_ONLY, WorkflowMode.SEND
PROSPECT = "jane@acme-robotics.example"


def content(body: str = "Shall we talk on Tuesday?", subject: str = "Next steps") -> DraftContent:
    return DraftContent(to=PROSPECT, subject=subject, text_body=body, html_body=f"<p>{body}</p>")


def run(
    mail: Mail,
    effects: Effects,
    mode: WorkflowMode = DRAFT,
    *,
    body: str = "Shall we talk on Tuesday?",
    context: ThreadContext | None = None,
    previous: PreviousMail | None = None,
    reason: str | None = None,
) -> MailOutcome:
    """One run of the step for workflow wf-1."""
    return create_gmail_draft(
        mail,
        effects,
        workflow_id="wf-1",
        content=content(body),
        context=context or ThreadContext(),
        mode=mode,
        mode_reason=reason,
        previous=previous,
    )


def left_by(outcome: MailOutcome) -> PreviousMail:
    """What our records keep of a run's outcome for the next run."""
    return PreviousMail(
        draft_id=outcome.draft_id,
        message_id=outcome.message_id,
        thread_id=outcome.thread_id,
        sent=outcome.sent,
    )


def test_draft_only_writes_one_draft_to_the_prospect() -> None:
    mail = FakeMail()
    outcome = run(mail, FakeEffects(), reason="send kill switch is on")
    [draft] = mail.draft_messages()
    assert (draft.to, draft.subject, draft.text_body) == (
        (PROSPECT,), "Next steps", "Shall we talk on Tuesday?"
    )  # fmt: skip
    assert outcome.draft_id in mail.drafts
    assert (outcome.message_id, outcome.thread_id) == (draft.id, draft.thread_id)
    assert (outcome.mode, outcome.sent, outcome.updated) == (DRAFT, False, False)
    assert outcome.mode_reason == "send kill switch is on"
    assert outcome.link == f"https://mail.google.com/mail/#drafts?compose={draft.id}"
    assert mail.sent_messages() == []


def test_a_reply_is_drafted_in_the_thread_with_its_reply_headers() -> None:
    mail = FakeMail()
    asked = mail.add_message(from_address=PROSPECT, subject="Pricing", text_body="Pricing?")
    answered = mail.add_message(
        asked.thread_id,
        from_address=mail.user,
        to=(PROSPECT,),
        subject="Re: Pricing",
        references=(str(asked.message_id_header),),
    )
    context = ThreadContext(
        thread_id=asked.thread_id,
        subject="Pricing",
        last_message_id_header=answered.message_id_header,
        references=answered.references,
    )
    outcome = create_gmail_draft(
        mail, FakeEffects(), workflow_id="wf-1", content=content(subject="Re: Pricing"),
        context=context, mode=DRAFT,
    )  # fmt: skip
    [draft] = mail.draft_messages()
    assert outcome.thread_id == draft.thread_id == asked.thread_id
    assert draft.in_reply_to == answered.message_id_header
    assert draft.references == (asked.message_id_header, answered.message_id_header)
    assert len(mail.thread_messages(asked.thread_id)) == 3


def test_a_rerun_returns_the_one_draft_it_wrote() -> None:
    mail, effects = FakeMail(), FakeEffects()
    first = run(mail, effects)
    assert run(mail, effects) == first
    assert len(mail.drafts) == 1


def test_a_later_run_updates_the_earlier_runs_draft_in_place() -> None:
    mail, effects = FakeMail(), FakeEffects()
    first = run(mail, effects)
    second = run(mail, effects, body="Would Wednesday suit?", previous=left_by(first))
    assert (second.draft_id, second.updated) == (first.draft_id, True)
    [draft] = mail.draft_messages()
    assert draft.text_body == "Would Wednesday suit?"


def test_a_draft_the_owner_deleted_is_written_again_once() -> None:
    mail, effects = FakeMail(), FakeEffects()
    first = run(mail, effects)
    assert first.draft_id is not None
    mail.delete_draft(first.draft_id)
    second = run(mail, effects, previous=left_by(first))
    # A run that still knows only the deleted draft finds the one written after it.
    third = run(mail, effects, previous=left_by(first))
    assert second.draft_id != first.draft_id
    assert second.updated is False
    assert third == second
    assert list(mail.drafts) == [second.draft_id]


def test_a_draft_update_refused_for_another_reason_fails_the_step() -> None:
    mail, effects = FakeMail(), FakeEffects()
    first = run(mail, effects)
    mail.fail_next("update_draft", PermanentError("Gmail 403", http_status=403))
    with pytest.raises(PermanentError):
        run(mail, effects, body="Would Wednesday suit?", previous=left_by(first))
    [draft] = mail.draft_messages()
    assert draft.text_body == "Shall we talk on Tuesday?"


def test_send_mode_sends_once_and_leaves_no_draft() -> None:
    mail, effects = FakeMail(), FakeEffects()
    outcome = run(mail, effects, SEND)
    assert run(mail, effects, SEND) == outcome  # a re-run never sends again
    [sent] = mail.sent_messages()
    assert (sent.to, sent.text_body) == ((PROSPECT,), "Shall we talk on Tuesday?")
    assert (outcome.mode, outcome.sent, outcome.message_id) == (SEND, True, sent.id)
    assert outcome.link == f"https://mail.google.com/mail/#all/{sent.id}"
    assert mail.drafts == {}


def test_sending_after_an_earlier_draft_sends_that_draft_brought_up_to_date() -> None:
    mail, effects = FakeMail(), FakeEffects()
    drafted = run(mail, effects)
    outcome = run(mail, effects, SEND, body="Would Wednesday suit?", previous=left_by(drafted))
    again = run(mail, effects, SEND, body="Would Wednesday suit?", previous=left_by(drafted))
    [sent] = mail.sent_messages()
    assert sent.text_body == "Would Wednesday suit?"
    assert outcome.sent
    assert again == outcome
    assert mail.drafts == {}


def test_a_mail_an_earlier_run_sent_is_never_sent_again() -> None:
    mail = FakeMail()
    previous = PreviousMail(draft_id=None, message_id="m9", thread_id="t9", sent=True)
    outcome = run(mail, FakeEffects(), SEND, previous=previous)
    assert (outcome.sent, outcome.message_id, outcome.thread_id) == (True, "m9", "t9")
    assert outcome.mode_reason == "already sent by an earlier run: never sent twice"
    assert sum(mail.calls.values()) == 0


def test_a_draft_whose_answer_was_lost_is_found_by_its_marker() -> None:
    mail, effects = FakeMail(), FakeEffects()
    mail.fail_next("create_draft", TransientError("Gmail 500"), after_write=True)
    with pytest.raises(TransientError):
        run(mail, effects)
    outcome = run(mail, effects)
    assert list(mail.drafts) == [outcome.draft_id]
    assert mail.calls["create_draft"] == 1


def test_a_crash_between_the_draft_and_its_record_leaves_one_draft() -> None:
    mail, effects = FakeMail(), FakeEffects()
    effects.crash_after_next("gmail.draft.create")
    with pytest.raises(Crash):
        run(mail, effects)
    outcome = run(mail, effects)
    assert list(mail.drafts) == [outcome.draft_id]


def test_a_failed_attempt_that_wrote_nothing_writes_on_the_retry() -> None:
    mail, effects = FakeMail(), FakeEffects()
    mail.fail_next("create_draft", TransientError("Gmail 503"))
    with pytest.raises(TransientError):
        run(mail, effects)
    outcome = run(mail, effects)
    assert list(mail.drafts) == [outcome.draft_id]


def test_a_send_whose_answer_was_lost_is_not_sent_twice() -> None:
    mail, effects = FakeMail(), FakeEffects()
    mail.fail_next("send_message", TransientError("Gmail 500"), after_write=True)
    with pytest.raises(TransientError):
        run(mail, effects, SEND)
    outcome = run(mail, effects, SEND)
    [sent] = mail.sent_messages()
    assert (outcome.sent, outcome.message_id) == (True, sent.id)


DRAFTING = ModePolicy(
    global_mode=DRAFT,
    global_kill_switch=False,
    tenant_mode=None,
    tenant_kill_switch=False,
    override=None,
    sent_today=0,
    daily_send_cap=50,
)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, (DRAFT, None)),
        ({"global_mode": SEND}, (SEND, None)),
        ({"tenant_mode": SEND}, (SEND, None)),
        ({"global_mode": SEND, "tenant_mode": DRAFT}, (DRAFT, None)),
        ({"tenant_mode": SEND, "override": DRAFT}, (DRAFT, None)),
        ({"override": SEND}, (SEND, None)),
        ({"override": SEND, "global_kill_switch": True}, (DRAFT, "send kill switch is on")),
        ({"tenant_mode": SEND, "tenant_kill_switch": True}, (DRAFT, "send kill switch is on")),
        ({"global_mode": SEND, "sent_today": 49}, (SEND, None)),
        (
            {"global_mode": SEND, "sent_today": 50},
            (DRAFT, "daily send cap of 50 reached"),
        ),
    ],
)
def test_the_mode_the_override_tenant_and_global_settings_and_the_limits_give(
    changes: dict[str, Any], expected: tuple[WorkflowMode, str | None]
) -> None:
    assert effective_mode(replace(DRAFTING, **changes)) == expected
