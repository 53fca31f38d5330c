"""Step 13: the agent's label on the thread of the draft or sent mail."""

import pytest

from sales_agent_pipeline.domain.enums import WorkflowMode
from sales_agent_pipeline.domain.errors import PermanentError
from sales_agent_pipeline.domain.workflow import MailOutcome
from sales_agent_pipeline.ports.vendors import Mail
from sales_agent_pipeline.steps.record_audit import LABEL, label_thread
from tests.fakes import FakeMail

PROSPECT = "pat@prospect.example"


def thread_of_two(mail: FakeMail) -> str:
    first = mail.add_message(from_address=PROSPECT, subject="Pricing")
    mail.add_message(first.thread_id, from_address=mail.user, to=(PROSPECT,), subject="Re: Pricing")
    return first.thread_id


def outcome(thread_id: str | None) -> MailOutcome:
    return MailOutcome(mode=WorkflowMode.DRAFT_ONLY, draft_id="d", thread_id=thread_id)


def labelled(mail: FakeMail, thread_id: str) -> bool:
    [label] = [lb for lb in mail.labels.values() if lb.name == LABEL]
    return all(label.id in m.label_ids for m in mail.thread_messages(thread_id))


def test_nothing_written_means_nothing_labelled() -> None:
    mail = FakeMail()
    assert label_thread(mail, None) is None
    assert label_thread(mail, outcome(None)) is None
    assert sum(mail.calls.values()) == 0


def test_every_message_of_the_thread_gets_the_label_made_once() -> None:
    fake = FakeMail()
    threads = [thread_of_two(fake) for _ in range(3)]
    mail: Mail = fake
    for thread_id in threads:
        assert label_thread(mail, outcome(thread_id)) == thread_id
    assert all(labelled(fake, thread_id) for thread_id in threads)
    # One look at the labels and one create for three leads: the label is remembered.
    assert (fake.calls["list_labels"], fake.calls["create_label"]) == (1, 1)


def test_a_label_the_owner_deleted_is_made_again_once() -> None:
    mail = FakeMail()
    earlier, later = thread_of_two(mail), thread_of_two(mail)
    label_thread(mail, outcome(earlier))
    mail.delete_label(mail.ensure_label(LABEL).id)
    assert label_thread(mail, outcome(later)) == later
    assert labelled(mail, later)
    assert [lb.name for lb in mail.labels.values()].count(LABEL) == 1


def test_another_refusal_fails_the_step() -> None:
    mail = FakeMail()
    thread_id = thread_of_two(mail)
    mail.fail_next("add_thread_label", PermanentError("Gmail 403", http_status=403))
    with pytest.raises(PermanentError):
        label_thread(mail, outcome(thread_id))
    assert mail.calls["add_thread_label"] == 1
