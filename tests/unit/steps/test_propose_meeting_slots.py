"""Step 8: slots land on business days, in working hours, in the owner's zone, free; and on
the days and times the lead asked for, read in their zone."""

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sales_agent_pipeline.domain.models import BusyInterval
from sales_agent_pipeline.domain.schedule import MeetingSlot, TimePreferences, WorkingHours
from sales_agent_pipeline.steps.business_days import BusinessCalendar
from sales_agent_pipeline.steps.propose_meeting_slots import (
    choose_meeting_slots,
    propose_meeting_slots,
    search_until,
)

NY = "America/New_York"
PLAIN = BusinessCalendar()


def local(slot: MeetingSlot) -> datetime:
    return slot.local_start


def busy(start: datetime, minutes: int) -> BusyInterval:
    return BusyInterval(calendar_id="owner", start=start, end=start + timedelta(minutes=minutes))


def check_basics(slots: list[MeetingSlot], zone: str, calendar: BusinessCalendar) -> None:
    assert 2 <= len(slots) <= 3
    for slot in slots:
        start = slot.local_start
        assert slot.end - slot.start == timedelta(minutes=30)
        assert calendar.is_business_day(start.date())
        assert time(9, 0) <= start.time()
        assert (start + timedelta(minutes=30)).time() <= time(17, 0)
        assert str(start.tzinfo) == zone


def test_friday_afternoon_proposes_the_next_week() -> None:
    friday = datetime(2026, 11, 20, 16, 30, tzinfo=ZoneInfo(NY))
    slots = propose_meeting_slots([], now=friday, timezone=NY, calendar=PLAIN)
    check_basics(slots, NY, PLAIN)
    assert [s.local_start.date() for s in slots] == [
        date(2026, 11, 23),
        date(2026, 11, 24),
        date(2026, 11, 25),
    ]
    assert [s.local_start.time() for s in slots] == [time(10), time(14), time(11)]


def test_weekend_now_skips_to_monday() -> None:
    saturday = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
    slots = propose_meeting_slots([], now=saturday, timezone=NY, calendar=PLAIN)
    assert slots[0].local_start.date() == date(2026, 11, 23)


def test_a_holiday_is_skipped() -> None:
    us = BusinessCalendar.for_country("US", years=[2026])
    # Wednesday 25 Nov 2026; Thursday 26 Nov is Thanksgiving.
    slots = propose_meeting_slots(
        [], now=datetime(2026, 11, 24, 15, tzinfo=UTC), timezone=NY, calendar=us
    )
    days = [s.local_start.date() for s in slots]
    assert date(2026, 11, 26) not in days
    assert days == [date(2026, 11, 25), date(2026, 11, 27), date(2026, 11, 30)]


def test_busy_blocks_are_avoided() -> None:
    zone = ZoneInfo(NY)
    now = datetime(2026, 11, 23, 8, tzinfo=zone)
    blocks = [
        busy(datetime(2026, 11, 24, 9, 0, tzinfo=zone), 180),  # Tue 9:00-12:00
        busy(datetime(2026, 11, 25, 13, 45, tzinfo=zone), 60),  # Wed 13:45-14:45
    ]
    slots = propose_meeting_slots(blocks, now=now, timezone=NY, calendar=PLAIN)
    check_basics(slots, NY, PLAIN)
    for slot in slots:
        for block in blocks:
            assert slot.end <= block.start or slot.start >= block.end
    assert slots[0].local_start == datetime(2026, 11, 24, 12, 0, tzinfo=zone)


def test_a_fully_booked_day_is_filled_from_the_others() -> None:
    zone = ZoneInfo(NY)
    now = datetime(2026, 11, 23, 8, tzinfo=zone)
    blocks = [busy(datetime(2026, 11, 24, 9, tzinfo=zone), 8 * 60)]
    slots = propose_meeting_slots(blocks, now=now, timezone=NY, calendar=PLAIN)
    assert len(slots) == 3
    assert date(2026, 11, 24) not in [s.local_start.date() for s in slots]


def test_dst_change_keeps_local_working_hours() -> None:
    # Europe/London leaves summer time on Sunday 25 Oct 2026.
    zone = "Europe/London"
    now = datetime(2026, 10, 23, 17, tzinfo=ZoneInfo(zone))
    slots = propose_meeting_slots([], now=now, timezone=zone, calendar=PLAIN)
    first = slots[0]
    assert first.local_start.date() == date(2026, 10, 26)
    assert first.local_start.time() == time(10)
    assert first.start == datetime(2026, 10, 26, 10, tzinfo=UTC)  # GMT again: UTC+0
    check_basics(slots, zone, PLAIN)


def test_owner_in_another_zone_gets_their_own_hours() -> None:
    now = datetime(2026, 11, 23, 23, 30, tzinfo=UTC)  # already Tuesday in Tokyo
    slots = propose_meeting_slots([], now=now, timezone="Asia/Tokyo", calendar=PLAIN)
    assert slots[0].local_start.date() == date(2026, 11, 25)
    assert slots[0].label.startswith("Wednesday 25 November, 10:00-10:30 JST")


def test_custom_working_hours_are_respected() -> None:
    hours = WorkingHours(start=time(13), end=time(15))
    now = datetime(2026, 11, 23, 8, tzinfo=ZoneInfo(NY))
    slots = propose_meeting_slots([], now=now, timezone=NY, calendar=PLAIN, hours=hours)
    assert all(time(13) <= s.local_start.time() <= time(14, 30) for s in slots)


def test_no_free_time_gives_no_slots() -> None:
    zone = ZoneInfo(NY)
    now = datetime(2026, 11, 23, 8, tzinfo=zone)
    blocks = [busy(datetime(2026, 11, 24, 0, tzinfo=zone), 5 * 24 * 60)]
    assert propose_meeting_slots(blocks, now=now, timezone=NY, calendar=PLAIN) == []


# Stated preferences (read in the prospect's zone) and the prospect's zone on each slot.

SUNDAY = datetime(2026, 12, 6, 9, tzinfo=UTC)
BERLIN = "Europe/Berlin"
AFTERNOON = (time(12), time(18))


def test_stated_days_and_afternoon_are_honoured() -> None:
    wish = TimePreferences(weekdays=(1, 2), windows=(AFTERNOON,), summary="Tue or Wed pm")
    chosen = choose_meeting_slots([], now=SUNDAY, timezone=BERLIN, calendar=PLAIN, preferences=wish)
    assert chosen.preferences.fallback_reason is None
    assert [s.local_start.date() for s in chosen.slots] == [
        date(2026, 12, 8),
        date(2026, 12, 9),
        date(2026, 12, 15),
    ]
    for slot in chosen.slots:
        assert time(12) <= slot.local_start.time() <= time(16, 30)


def test_windows_are_read_in_the_prospects_zone() -> None:
    # 09:00-12:00 in New York is 15:00-18:00 in Berlin: within the owner's hours only to 17:00.
    wish = TimePreferences(windows=((time(9), time(12)),))
    slots = propose_meeting_slots(
        [],
        now=SUNDAY,
        timezone=BERLIN,
        calendar=PLAIN,
        preferences=wish,
        prospect_timezone=NY,
    )
    assert slots
    for slot in slots:
        assert time(15) <= slot.local_start.time() <= time(16, 30)
        theirs = slot.start.astimezone(ZoneInfo(NY)).time()
        assert time(9) <= theirs <= time(11, 30)
        assert slot.prospect_timezone == NY


def test_a_date_eight_days_out_is_searched() -> None:
    wish = TimePreferences(dates=(date(2026, 12, 14),))
    slots = propose_meeting_slots([], now=SUNDAY, timezone=BERLIN, calendar=PLAIN, preferences=wish)
    assert slots
    assert {s.local_start.date() for s in slots} == {date(2026, 12, 14)}


def test_next_week_said_on_a_wednesday_skips_this_week() -> None:
    wednesday = datetime(2026, 12, 9, 9, tzinfo=UTC)
    wish = TimePreferences(earliest=date(2026, 12, 14), latest=date(2026, 12, 20))
    slots = propose_meeting_slots(
        [], now=wednesday, timezone=BERLIN, calendar=PLAIN, preferences=wish
    )
    assert [s.local_start.date() for s in slots] == [
        date(2026, 12, 14),
        date(2026, 12, 15),
        date(2026, 12, 16),
    ]


def test_busy_wished_for_days_fall_back_to_the_next_business_days_and_say_so() -> None:
    zone = ZoneInfo(BERLIN)
    blocks = [
        busy(datetime(2026, 12, day, 0, tzinfo=zone), 24 * 60)
        for day in (8, 15)  # both Tuesdays in the horizon are fully booked
    ]
    wish = TimePreferences(weekdays=(1,), summary="Tuesday")
    chosen = choose_meeting_slots(
        blocks, now=SUNDAY, timezone=BERLIN, calendar=PLAIN, preferences=wish
    )
    assert chosen.preferences.fallback_reason is not None
    assert "Tuesday" in chosen.preferences.fallback_reason
    usual = propose_meeting_slots(blocks, now=SUNDAY, timezone=BERLIN, calendar=PLAIN)
    assert chosen.slots == usual
    assert len(usual) == 3


def test_nothing_stated_keeps_the_usual_slots() -> None:
    plain = propose_meeting_slots([], now=SUNDAY, timezone=BERLIN, calendar=PLAIN)
    stated_nothing = choose_meeting_slots(
        [], now=SUNDAY, timezone=BERLIN, calendar=PLAIN, preferences=TimePreferences()
    )
    assert stated_nothing.slots == plain
    assert stated_nothing.preferences.fallback_reason is None


def test_today_is_offered_only_with_notice() -> None:
    monday_9 = datetime(2026, 12, 7, 8, tzinfo=UTC)  # 09:00 in Berlin
    wish = TimePreferences(dates=(date(2026, 12, 7),))
    slots = propose_meeting_slots(
        [], now=monday_9, timezone=BERLIN, calendar=PLAIN, preferences=wish
    )
    assert slots
    assert all(s.start >= monday_9 + timedelta(hours=2) for s in slots)


def test_search_until_covers_ten_business_days() -> None:
    end = search_until(SUNDAY, BERLIN, PLAIN)
    assert end == datetime(2026, 12, 19, 0, tzinfo=ZoneInfo(BERLIN))


def test_labels_in_both_zones() -> None:
    start = datetime(2026, 12, 8, 13, tzinfo=UTC)
    slot = MeetingSlot(
        start=start, end=start + timedelta(minutes=30), timezone=BERLIN, prospect_timezone=NY
    )
    assert slot.label == "Tuesday 8 December, 14:00-14:30 CET"
    assert slot.prospect_label == "Tuesday 8 December, 08:00-08:30 EST (14:00-14:30 CET)"
    same_clock = slot.model_copy(update={"prospect_timezone": "Europe/Paris"})
    assert same_clock.prospect_label == slot.label
    unknown = slot.model_copy(update={"prospect_timezone": None})
    assert unknown.prospect_label == slot.label
    # Across midnight the owner's day is named too.
    late = datetime(2026, 12, 8, 15, 30, tzinfo=UTC)
    tokyo = MeetingSlot(
        start=late,
        end=late + timedelta(minutes=30),
        timezone=BERLIN,
        prospect_timezone="Asia/Tokyo",
    )
    assert tokyo.prospect_label == (
        "Wednesday 9 December, 00:30-01:00 JST (Tuesday 8 December, 16:30-17:00 CET)"
    )
