"""Step 4: the threads we already have with the prospect, newest first."""

from datetime import UTC, datetime

from sales_agent_pipeline.ports.vendors import Mail
from sales_agent_pipeline.steps.search_gmail_threads import search_gmail_threads
from tests.fakes import FakeMail
from tests.unit.steps.examples import LEAD

US = "owner@ourco.example"


def on(day: int) -> datetime:
    return datetime(2026, 11, day, 10, tzinfo=UTC)


def test_threads_from_or_to_the_prospect_come_newest_first() -> None:
    fake = FakeMail(US)
    asked = fake.add_message(from_address=f"Jane <{LEAD.email}>", subject="Pricing", date=on(2))
    followed = fake.add_message(from_address=US, to=(LEAD.email,), subject="Hello", date=on(5))
    fake.add_message(from_address="pat@other.example", subject="Unrelated", date=on(9))
    # The prospect's older thread got a reply since: its newest message decides its place.
    fake.add_message(asked.thread_id, from_address=US, to=(LEAD.email,), date=on(7))
    mail: Mail = fake
    found = search_gmail_threads(mail, LEAD)
    assert [t.id for t in found] == [asked.thread_id, followed.thread_id]


def test_at_most_five_threads_the_newest() -> None:
    mail = FakeMail(US)
    made = [
        mail.add_message(from_address=LEAD.email, subject=f"Note {n}", date=on(n)).thread_id
        for n in range(1, 8)
    ]
    assert [t.id for t in search_gmail_threads(mail, LEAD)] == made[:1:-1]


def test_a_prospect_we_never_wrote_with_has_no_thread() -> None:
    mail = FakeMail(US)
    mail.add_message(from_address="pat@other.example", to=(US,), subject="Hi")
    assert search_gmail_threads(mail, LEAD) == []
