"""Step 11: a Gmail draft or a sent email, exactly once per workflow, whatever re-runs happen;
SEND drafts first, then sends that draft when the send gate grants a slot."""

import uuid

import pytest

from sales_agent_pipeline.domain.enums import ReservationStatus, WorkflowMode
from sales_agent_pipeline.domain.errors import PermanentError, TransientError
from sales_agent_pipeline.domain.workflow import DraftContent, MailOutcome, ThreadContext
from sales_agent_pipeline.ports.effects import Effects
from sales_agent_pipeline.ports.vendors import Mail
from sales_agent_pipeline.steps.create_gmail_draft import PreviousMail, create_gmail_draft
from tests.fakes import Crash, FakeEffects, FakeMail
from tests.fakes.sends import FakeSendGate

DRAFT, SEND = WorkflowMode.DRAFT_ONLY, WorkflowMode.SEND
PROSPECT = "jane@acme-robotics.example"
TENANT = uuid.uuid4()
WF = uuid.UUID("00000000-0000-4000-8000-000000000001")


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
    gate: FakeSendGate | None = None,
    workflow_id: uuid.UUID = WF,
) -> MailOutcome:
    """One run of the step for one workflow (WF unless told)."""
    return create_gmail_draft(
        mail,
        effects,
        gate if gate is not None else FakeSendGate(),
        tenant_id=TENANT,
        workflow_id=workflow_id,
        content=content(body),
        context=context or ThreadContext(),
        mode=mode,
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


def test_draft_only_writes_one_draft_to_the_prospect_without_asking_the_gate() -> None:
    mail, gate = FakeMail(), FakeSendGate()
    outcome = run(mail, FakeEffects(), gate=gate)
    [draft] = mail.draft_messages()
    assert (draft.to, draft.subject, draft.text_body) == (
        (PROSPECT,), "Next steps", "Shall we talk on Tuesday?"
    )  # fmt: skip
    assert outcome.draft_id in mail.drafts
    assert (outcome.message_id, outcome.thread_id) == (draft.id, draft.thread_id)
    assert (outcome.mode, outcome.sent, outcome.updated) == (DRAFT, False, False)
    assert outcome.mode_reason is None
    assert outcome.link == f"https://mail.google.com/mail/#drafts?compose={draft.id}"
    assert mail.sent_messages() == []
    # The benchmarked path: one Gmail write, and no send slot asked for.
    assert (sum(mail.calls.values()), gate.asked) == (1, 0)


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
        mail, FakeEffects(), FakeSendGate(), tenant_id=TENANT, workflow_id=WF,
        content=content(subject="Re: Pricing"), context=context, mode=DRAFT,
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


def test_send_mode_drafts_then_sends_that_draft_once_and_leaves_no_draft() -> None:
    mail, effects, gate = FakeMail(), FakeEffects(), FakeSendGate()
    outcome = run(mail, effects, SEND, gate=gate)
    assert run(mail, effects, SEND, gate=gate) == outcome  # a re-run never sends again
    [sent] = mail.sent_messages()
    assert (sent.to, sent.text_body) == ((PROSPECT,), "Shall we talk on Tuesday?")
    assert (outcome.mode, outcome.sent, outcome.message_id) == (SEND, True, sent.id)
    assert outcome.link == f"https://mail.google.com/mail/#all/{sent.id}"
    assert mail.drafts == {}
    # drafts.send, never messages.send: a second send of that draft is Gmail's to refuse.
    assert (mail.calls["create_draft"], mail.calls["send_draft"], mail.calls["send_message"]) == (
        1, 1, 0,
    )  # fmt: skip
    assert gate.slots == {WF: ReservationStatus.SENT}


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
    # Not found by its marker once the search's lag window has passed: written again.
    effects.advance(effects.policy.lag_window_seconds + 1)
    outcome = run(mail, effects)
    assert list(mail.drafts) == [outcome.draft_id]


def test_a_send_whose_answer_was_lost_is_resolved_by_the_draft_not_by_a_search() -> None:
    mail, effects, gate = FakeMail(), FakeEffects(), FakeSendGate()
    mail.fail_next("send_draft", TransientError("Gmail 500"), after_write=True)
    with pytest.raises(TransientError):
        run(mail, effects, SEND, gate=gate)
    assert gate.slots == {WF: ReservationStatus.RESERVED}  # uncertain: the slot is kept
    outcome = run(mail, effects, SEND, gate=gate)
    [sent] = mail.sent_messages()
    assert (outcome.sent, outcome.message_id, outcome.thread_id) == (
        True, sent.id, sent.thread_id,
    )  # fmt: skip
    # drafts.get answered 404 (a sent draft is gone): found in its thread, never searched.
    assert (mail.calls["send_draft"], mail.calls["get_draft"]) == (1, 1)
    assert mail.calls["find_sent_by_marker"] == 0
    assert gate.slots == {WF: ReservationStatus.SENT}


def test_a_send_that_failed_before_gmail_wrote_anything_sends_on_the_retry() -> None:
    mail, effects, gate = FakeMail(), FakeEffects(), FakeSendGate()
    mail.fail_next("send_draft", TransientError("Gmail 503"))
    with pytest.raises(TransientError):
        run(mail, effects, SEND, gate=gate)
    outcome = run(mail, effects, SEND, gate=gate)
    [sent] = mail.sent_messages()
    assert (outcome.sent, outcome.message_id) == (True, sent.id)
    # drafts.get found the draft still there: sent on the retry at once, with no wait
    # for a search index to catch up.
    assert (mail.calls["get_draft"], mail.calls["send_draft"]) == (1, 2)


def test_a_crash_between_the_send_and_its_record_never_sends_again() -> None:
    mail, effects, gate = FakeMail(), FakeEffects(), FakeSendGate()
    effects.crash_after_next("gmail.message.send")
    with pytest.raises(Crash):
        run(mail, effects, SEND, gate=gate)
    outcome = run(mail, effects, SEND, gate=gate)
    [sent] = mail.sent_messages()
    assert (outcome.sent, outcome.message_id) == (True, sent.id)
    assert mail.calls["send_draft"] == 1


def test_an_uncertain_send_whose_draft_is_gone_counts_as_sent_even_unfound() -> None:
    """Gmail deleted the draft, so a send went out; its thread not showing it (the owner
    deleted the sent copy, say) never makes us send a new message."""
    mail, effects, gate = FakeMail(), FakeEffects(), FakeSendGate()
    mail.fail_next("send_draft", TransientError("timeout"), after_write=True)
    with pytest.raises(TransientError):
        run(mail, effects, SEND, gate=gate)
    [sent] = mail.sent_messages()
    del mail.messages[sent.id]
    outcome = run(mail, effects, SEND, gate=gate)
    assert (outcome.sent, outcome.message_id) == (True, sent.id)
    assert (mail.calls["send_draft"], mail.calls["send_message"], mail.drafts) == (1, 0, {})


def test_the_daily_cap_reached_at_send_time_leaves_the_draft_with_the_reason() -> None:
    mail, effects = FakeMail(), FakeEffects()
    gate = FakeSendGate(daily_send_cap=1)
    first = run(mail, effects, SEND, gate=gate)
    second = run(mail, effects, SEND, gate=gate, workflow_id=uuid.uuid4())
    assert first.sent
    assert (second.mode, second.sent) == (DRAFT, False)
    assert second.mode_reason == "daily send cap of 1 reached"
    assert second.draft_id in mail.drafts
    assert len(mail.sent_messages()) == 1


def test_a_kill_switch_flipped_between_two_sends_stops_the_second() -> None:
    mail, effects, gate = FakeMail(), FakeEffects(), FakeSendGate()
    first = run(mail, effects, SEND, gate=gate)
    gate.global_kill_switch = True
    later = uuid.uuid4()
    second = run(mail, effects, SEND, gate=gate, workflow_id=later)
    assert first.sent
    assert (second.sent, second.mode_reason) == (False, "send kill switch is on")
    assert later not in gate.slots
    assert len(mail.sent_messages()) == 1


@pytest.mark.parametrize("landed", [True, False])
def test_an_uncertain_send_under_a_kill_switch_is_resolved_and_never_retried(
    landed: bool,
) -> None:
    mail, effects, gate = FakeMail(), FakeEffects(), FakeSendGate()
    mail.fail_next("send_draft", TransientError("Gmail 500"), after_write=landed)
    with pytest.raises(TransientError):
        run(mail, effects, SEND, gate=gate)
    gate.tenant_kill_switch = True
    outcome = run(mail, effects, SEND, gate=gate)
    assert mail.calls["send_draft"] == 1
    assert outcome.sent is landed
    assert len(mail.sent_messages()) == int(landed)
    if landed:
        assert gate.slots[WF] is ReservationStatus.SENT
    else:
        # Nothing went out: the draft stays, the slot returns to the day.
        assert (outcome.mode_reason, outcome.draft_id in mail.drafts) == (
            "send kill switch is on", True,
        )  # fmt: skip
        assert gate.slots[WF] is ReservationStatus.RELEASED


def test_a_send_gmail_refuses_returns_its_slot_and_fails_the_step() -> None:
    mail, effects, gate = FakeMail(), FakeEffects(), FakeSendGate(daily_send_cap=1)
    mail.fail_next("send_draft", PermanentError("Gmail 403 forbidden", http_status=403))
    with pytest.raises(PermanentError):
        run(mail, effects, SEND, gate=gate)
    assert gate.slots[WF] is ReservationStatus.RELEASED
    # The slot is back: another lead may send today.
    assert run(mail, effects, SEND, gate=gate, workflow_id=uuid.uuid4()).sent


def test_a_redraft_after_the_owner_deleted_the_draft_recovers_a_lost_answer() -> None:
    mail, effects = FakeMail(), FakeEffects()
    first = run(mail, effects)
    assert first.draft_id is not None
    mail.delete_draft(first.draft_id)
    mail.fail_next("create_draft", TransientError("Gmail 500"), after_write=True)
    with pytest.raises(TransientError):
        run(mail, effects, previous=left_by(first))
    second = run(mail, effects, previous=left_by(first))
    assert list(mail.drafts) == [second.draft_id]
    assert mail.calls["create_draft"] == 2  # the first draft, then its one replacement


def test_a_draft_sent_by_a_run_whose_record_was_lost_is_not_drafted_again() -> None:
    mail, effects, gate = FakeMail(), FakeEffects(), FakeSendGate()
    drafted = run(mail, effects)
    sent = run(mail, effects, SEND, gate=gate, previous=left_by(drafted))
    # A later run knows only the draft (our tables missed the send): its update finds
    # the draft gone, and the thread shows it sent.
    again = run(mail, FakeEffects(), SEND, gate=gate, previous=left_by(drafted))
    assert again == sent
    assert (mail.drafts, len(mail.sent_messages())) == ({}, 1)
