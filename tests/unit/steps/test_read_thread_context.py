"""Step 5: what the last message said and who said it, read from the newest thread."""

from datetime import UTC, datetime

from sales_agent_pipeline.domain.models import MailMessage, MailThread
from sales_agent_pipeline.domain.workflow import Speaker, ThreadContext
from sales_agent_pipeline.steps.read_thread_context import (
    latest_reply_text,
    read_thread_context,
    thread_context,
)
from sales_agent_pipeline.steps.search_gmail_threads import search_gmail_threads
from tests.fakes import FakeMail
from tests.unit.steps.examples import ACME as LEAD

REPLY = """Thanks Sam, that sounds great.

Could you send over pricing for 20 seats?

Best,
Jane Doe
VP Operations | Acme Robotics

On Mon, Nov 23, 2026 at 10:00 AM Sam Seller <sam@ourco.example> wrote:
> Hi Jane,
> Happy to help.
"""


def message(sender: str, text: str, day: int) -> MailMessage:
    return MailMessage(
        id=f"m{day}",
        thread_id="t1",
        from_address=sender,
        subject="Pricing" if day == 1 else "Re: Pricing",
        date=datetime(2026, 11, day, 10, tzinfo=UTC),
        text_body=text,
    )


def test_quoted_history_and_signature_are_stripped() -> None:
    assert latest_reply_text(REPLY) == (
        "Thanks Sam, that sounds great.\n\nCould you send over pricing for 20 seats?"
    )
    outlook = "Sounds good.\n-- \nJane\nSent from my iPhone\n\n-----Original Message-----\nold"
    assert latest_reply_text(outlook) == "Sounds good."
    assert latest_reply_text("") == ""


def test_the_prospect_spoke_last() -> None:
    thread = MailThread(
        id="t1",
        messages=(
            message("Sam Seller <sam@ourco.example>", "Hi Jane", 1),
            message("Jane Doe <Jane@acme.example>", REPLY, 2),
        ),
    )
    context = thread_context(thread, LEAD)
    assert context.last_speaker is Speaker.PROSPECT
    assert context.subject == "Pricing"
    assert context.message_count == 2
    assert context.last_message_text is not None
    assert context.last_message_text.endswith("pricing for 20 seats?")
    assert context.last_message_at == datetime(2026, 11, 2, 10, tzinfo=UTC)


def test_we_spoke_last() -> None:
    thread = MailThread(id="t1", messages=(message("sam@ourco.example", "Any news?", 3),))
    assert thread_context(thread, LEAD).last_speaker is Speaker.US


def test_no_thread_is_an_empty_context_without_a_read() -> None:
    mail = FakeMail()
    assert read_thread_context(mail, [], LEAD) == ThreadContext()
    assert mail.calls["get_thread"] == 0


def test_the_newest_thread_is_read_with_what_a_reply_needs() -> None:
    mail = FakeMail("sam@ourco.example")
    mail.add_message(from_address=LEAD.email, subject="Old question", text_body="Hello?")
    first = mail.add_message(
        from_address="sam@ourco.example", to=(LEAD.email,), subject="Pricing", text_body="Hi Jane"
    )
    last = mail.add_message(
        first.thread_id,
        from_address=f"Jane Doe <{LEAD.email}>",
        subject="Re: Pricing",
        text_body=REPLY,
        references=(str(first.message_id_header),),
    )
    context = read_thread_context(mail, search_gmail_threads(mail, LEAD), LEAD)
    assert context.thread_id == first.thread_id
    assert (context.subject, context.message_count) == ("Pricing", 2)
    assert context.last_speaker is Speaker.PROSPECT
    assert context.last_message_text == (
        "Thanks Sam, that sounds great.\n\nCould you send over pricing for 20 seats?"
    )
    assert context.last_message_id_header == last.message_id_header
    assert context.references == (first.message_id_header,)
