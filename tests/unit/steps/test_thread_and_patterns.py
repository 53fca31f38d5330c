"""Steps 5 and 6: what the last message said and who said it; the angle past leads suggest."""

from datetime import UTC, datetime

from sales_agent_pipeline.domain.lead import Lead
from sales_agent_pipeline.domain.models import MailMessage, MailThread
from sales_agent_pipeline.domain.workflow import PastLead, Speaker
from sales_agent_pipeline.steps.find_similar_patterns import summarise_patterns
from sales_agent_pipeline.steps.read_thread_context import latest_reply_text, thread_context

LEAD = Lead(email="jane@acme.example", email_domain="acme.example", industry="Robotics")
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


def past(domain: str, **values: object) -> PastLead:
    return PastLead.model_validate(
        {
            "email_domain": domain,
            "status": "succeeded",
            "created_at": datetime(2026, 1, 1, tzinfo=UTC),
            **values,
        }
    )


def test_a_returning_account_is_recognised() -> None:
    patterns = summarise_patterns(LEAD, [past("acme.example"), past("other.example")])
    assert (patterns.matches, patterns.same_domain) == (2, 1)
    assert patterns.angle.startswith("returning account")


def test_an_industry_with_engagement_leads_with_peers() -> None:
    history = [
        past("a.example", industry="Robotics", draft_sent=True),
        past("b.example", industry="Robotics", task_completed=True),
        past("c.example", industry="Robotics"),
    ]
    patterns = summarise_patterns(LEAD, history)
    assert (patterns.drafts_sent, patterns.tasks_completed) == (1, 1)
    assert patterns.angle.startswith("proven in Robotics: 2 of 3")


def test_no_history_is_a_first_contact() -> None:
    assert summarise_patterns(LEAD, []).angle.startswith("first contact")
