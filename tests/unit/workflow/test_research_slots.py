"""Step 8 as the workflow runs it: the lead's words and zone shape the owner's free slots."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sales_agent_pipeline.domain.lead import Lead
from sales_agent_pipeline.domain.models import Contact, Owner
from sales_agent_pipeline.domain.schedule import MeetingSlot, TimePreferences
from sales_agent_pipeline.domain.workflow import ContactResult, Speaker, ThreadContext
from sales_agent_pipeline.workflow import research
from sales_agent_pipeline.workflow.state import LeadState
from tests.fakes.services import FakeWorld, form_payload

NY = ZoneInfo("America/New_York")
OWNER = Owner(id="7", email="alex.morgan@ourco.example", first_name="Alex", time_zone=str(NY))
# Sunday 22 November 2026, in the evening in New York.
SUNDAY = datetime(2026, 11, 23, 1, tzinfo=UTC)
DEMO_REPLY = (
    "Alex,\n\nA call works. Tuesday or Wednesday afternoon is best for us;\n"
    "I have copied Chris, our CTO.\n\nJordan"
)


def lead_state(
    world: FakeWorld,
    message: str | None = None,
    context: ThreadContext | None = None,
    **properties: str,
) -> LeadState:
    state = world.batch(form_payload("jordan.lee@acme-robotics.example")).leads[0]
    lead = Lead(
        email="jordan.lee@acme-robotics.example",
        email_domain="acme-robotics.example",
        first_name="Jordan",
        interest=message,
    )
    contact = ContactResult(contact=Contact(id="c1", properties=dict(properties)), owner=OWNER)
    return state.model_copy(update={"lead": lead, "contact": contact, "context": context})


def run(world: FakeWorld, state: LeadState) -> tuple[tuple[MeetingSlot, ...], TimePreferences]:
    out = research.slots(world.services(now=SUNDAY), state, None)
    return out["slots"], out["preferences"]


def test_the_demo_leads_tuesday_or_wednesday_afternoon_within_the_owners_hours() -> None:
    world = FakeWorld()
    # Wednesday afternoon is partly booked: the slot there must avoid it.
    world.calendar.add_busy(
        OWNER.email,
        datetime(2026, 11, 25, 12, tzinfo=NY),
        datetime(2026, 11, 25, 15, tzinfo=NY),
    )
    context = ThreadContext(
        thread_id="thread-acme-robotics",
        last_message_text=DEMO_REPLY,
        last_speaker=Speaker.PROSPECT,
        message_count=3,
    )
    slots, preferences = run(world, lead_state(world, None, context))
    assert preferences.weekdays == (1, 2)
    assert preferences.summary == "Tuesday or Wednesday, afternoon (12:00-18:00)"
    assert preferences.fallback_reason is None
    assert len(slots) == 3
    for slot in slots:
        start, end = slot.local_start, slot.end.astimezone(NY)
        assert start.strftime("%A") in ("Tuesday", "Wednesday")
        assert time(12) <= start.time()
        assert end.time() <= time(17)  # the owner's working hours
        booked = (datetime(2026, 11, 25, 12, tzinfo=NY), datetime(2026, 11, 25, 15, tzinfo=NY))
        assert end <= booked[0] or start >= booked[1]
    assert slots[0].local_start.date() == date(2026, 11, 24)
    assert slots[0].label.startswith("Tuesday 24 November, ")


def test_our_own_last_message_is_not_read_as_the_prospects_wish() -> None:
    world = FakeWorld()
    context = ThreadContext(last_message_text="Would Friday morning work?", last_speaker=Speaker.US)
    slots, preferences = run(world, lead_state(world, "Send me pricing please", context))
    assert not preferences.stated
    assert [s.local_start.date() for s in slots] == [
        date(2026, 11, 23),
        date(2026, 11, 24),
        date(2026, 11, 25),
    ]


def test_the_prospects_zone_shapes_the_window_and_the_labels() -> None:
    world = FakeWorld()
    # Afternoons in Berlin (12:00-18:00) are 06:00-12:00 in New York: the owner's mornings.
    state = lead_state(world, "Nachmittags, bitte", hs_timezone="europe_slash_berlin")
    slots, preferences = run(world, state)
    assert preferences.windows == ((time(12), time(18)),)
    assert preferences.fallback_reason is None
    assert len(slots) == 3
    for slot in slots:
        assert slot.prospect_timezone == "Europe/Berlin"
        assert time(9) <= slot.local_start.time() <= time(11, 30)
        berlin = slot.start.astimezone(ZoneInfo("Europe/Berlin")).time()
        assert time(15) <= berlin <= time(17, 30)
    assert slots[0].prospect_label == "Monday 23 November, 16:00-16:30 CET (10:00-10:30 EST)"


def test_the_country_gives_the_zone_when_hubspot_has_none() -> None:
    world = FakeWorld()
    # Mornings in Berlin are the New York night: nothing fits, the usual slots stand in.
    slots, preferences = run(world, lead_state(world, "morning", country="Germany"))
    assert preferences.fallback_reason is not None
    assert len(slots) == 3
    assert {slot.prospect_timezone for slot in slots} == {"Europe/Berlin"}


def test_a_date_eight_days_out_is_looked_up_in_the_calendar() -> None:
    world = FakeWorld()
    # Thursday 3 December (8 business days out) is busy in the morning.
    world.calendar.add_busy(
        OWNER.email, datetime(2026, 12, 3, 9, tzinfo=NY), datetime(2026, 12, 3, 12, tzinfo=NY)
    )
    slots, preferences = run(world, lead_state(world, "Could we talk on December 3?"))
    assert preferences.dates == (date(2026, 12, 3),)
    assert slots
    for slot in slots:
        assert slot.local_start.date() == date(2026, 12, 3)
        assert slot.local_start.time() >= time(12)


def test_a_wish_outside_the_owners_hours_falls_back_and_says_so() -> None:
    world = FakeWorld()
    slots, preferences = run(world, lead_state(world, "evenings after 7pm only"))
    assert preferences.stated
    assert preferences.fallback_reason is not None
    assert len(slots) == 3
    assert all(s.end - s.start == timedelta(minutes=30) for s in slots)


def test_a_french_lead_writes_the_day_first() -> None:
    world = FakeWorld()
    message = "Bonjour, nous serions disponibles le 3/12 dans l'après-midi. Merci beaucoup"
    slots, preferences = run(world, lead_state(world, message))
    assert preferences.dates == (date(2026, 12, 3),)
    assert slots
    assert {s.local_start.date() for s in slots} == {date(2026, 12, 3)}
