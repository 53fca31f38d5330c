"""The send window: examples a person checks by reading them (3 a.m., Friday evening, a
full day, spacing, DST nights, half-hour zones) and properties over many zones and clocks."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sales_agent_pipeline.steps.business_days import BusinessCalendar
from sales_agent_pipeline.steps.send_window import (
    SendHours,
    next_send_time,
    send_zone,
)

NY = "America/New_York"
ZONES = [
    "UTC",
    NY,
    "America/Los_Angeles",
    "America/Sao_Paulo",
    "America/St_Johns",  # -03:30 / -02:30
    "Europe/London",
    "Europe/Berlin",
    "Asia/Kolkata",  # +05:30
    "Asia/Kathmandu",  # +05:45
    "Asia/Tokyo",
    "Australia/Adelaide",  # +09:30 / +10:30
    "Australia/Lord_Howe",  # a half-hour DST change
    "Pacific/Auckland",
    "Pacific/Chatham",  # +12:45 / +13:45
    "America/Havana",  # DST at midnight
]


def local(
    zone: str, year: int, month: int, day: int, hour: int, minute: int, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=ZoneInfo(zone))


def utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def test_inside_the_window_and_free_is_now() -> None:
    now = local(NY, 2026, 12, 8, 11, 17, 3)  # a Tuesday
    assert next_send_time(now, NY) == utc(now)
    assert next_send_time(now, NY).tzinfo is UTC


def test_a_lead_at_three_in_the_morning_waits_for_nine() -> None:
    now = local(NY, 2026, 12, 8, 3, 0)
    assert next_send_time(now, NY) == utc(local(NY, 2026, 12, 8, 9, 0))


def test_friday_evening_goes_out_monday_at_nine() -> None:
    friday = local(NY, 2026, 12, 11, 18, 30)
    assert next_send_time(friday, NY) == utc(local(NY, 2026, 12, 14, 9, 0))
    # The end is exclusive: 17:00 sharp is already after hours.
    assert next_send_time(local(NY, 2026, 12, 11, 17, 0), NY) == utc(local(NY, 2026, 12, 14, 9, 0))


def test_the_recipients_zone_decides_not_the_servers() -> None:
    # 23:00 UTC on a Tuesday is 08:00 Wednesday in Tokyo and 18:00 Tuesday in New York.
    now = datetime(2026, 12, 8, 23, 0, tzinfo=UTC)
    assert next_send_time(now, "Asia/Tokyo") == utc(local("Asia/Tokyo", 2026, 12, 9, 9, 0))
    assert next_send_time(now, NY) == utc(local(NY, 2026, 12, 9, 9, 0))


def test_a_full_day_moves_to_the_next_working_day() -> None:
    now = local(NY, 2026, 12, 11, 10, 0)  # Friday
    taken = [local(NY, 2026, 12, 11, 9, minute) for minute in range(0, 30, 10)]
    assert next_send_time(now, NY, taken=taken, daily_cap=3) == utc(local(NY, 2026, 12, 14, 9, 0))
    # Below the cap it goes now.
    assert next_send_time(now, NY, taken=taken, daily_cap=4) == utc(now)


def test_sends_are_spread_by_the_spacing() -> None:
    now = local(NY, 2026, 12, 8, 10, 0)
    spacing = timedelta(minutes=2)
    taken = [local(NY, 2026, 12, 8, 9, 59), local(NY, 2026, 12, 8, 10, 1)]
    # 10:00 clashes with 9:59 (-> 10:01), which clashes with 10:01 (-> 10:03).
    assert next_send_time(now, NY, taken=taken, spacing=spacing) == utc(
        local(NY, 2026, 12, 8, 10, 3)
    )
    # Exactly the spacing apart is fine.
    exact = [local(NY, 2026, 12, 8, 9, 58)]
    assert next_send_time(now, NY, taken=exact, spacing=spacing) == utc(now)


def test_spacing_that_runs_past_the_end_moves_to_the_next_day() -> None:
    now = local(NY, 2026, 12, 8, 16, 58)
    taken = [local(NY, 2026, 12, 8, 16, 58)]
    assert next_send_time(now, NY, taken=taken, spacing=timedelta(minutes=5)) == utc(
        local(NY, 2026, 12, 9, 9, 0)
    )


def test_holidays_and_the_hours_days_are_skipped() -> None:
    # Christmas 2026 is a Friday; the owner works Monday to Thursday only.
    calendar = BusinessCalendar.for_country("US", [2026])
    assert date(2026, 12, 25) in calendar.holidays
    now = local(NY, 2026, 12, 24, 20, 0)  # Thursday evening
    assert next_send_time(now, NY, calendar=calendar) == utc(local(NY, 2026, 12, 28, 9, 0))
    four_days = SendHours.of(time(8, 30), time(12, 0), [0, 1, 2, 3])
    friday = local(NY, 2026, 12, 11, 10, 0)
    assert next_send_time(friday, NY, hours=four_days) == utc(local(NY, 2026, 12, 14, 8, 30))
    # A weekend worker's Saturday counts when the hours name it.
    weekend = SendHours.of(time(10, 0), time(14, 0), [5, 6])
    assert next_send_time(friday, NY, hours=weekend) == utc(local(NY, 2026, 12, 12, 10, 0))


def test_the_spring_forward_night_keeps_nine_oclock_local() -> None:
    # New York springs forward on 2027-03-14 (a Sunday); Monday 09:00 is EDT, 13:00 UTC.
    now = local(NY, 2027, 3, 12, 20, 0)
    assert next_send_time(now, NY) == datetime(2027, 3, 15, 13, 0, tzinfo=UTC)
    # Hours that start inside the gap begin when the clock reads the gap's time plus an
    # hour, never before the change.
    night = SendHours.of(time(2, 30), time(5, 0), range(7))
    sunday = local(NY, 2027, 3, 14, 0, 30)
    assert next_send_time(sunday, NY, hours=night) == datetime(2027, 3, 14, 7, 30, tzinfo=UTC)


def test_the_fall_back_day_counts_its_local_date() -> None:
    # Europe/London falls back on 2026-10-25 (a Sunday): Monday 09:00 is GMT.
    now = local("Europe/London", 2026, 10, 23, 17, 30)
    assert next_send_time(now, "Europe/London") == datetime(2026, 10, 26, 9, 0, tzinfo=UTC)


def test_half_hour_and_quarter_hour_zones() -> None:
    now = datetime(2026, 12, 8, 3, 0, tzinfo=UTC)  # 08:30 in Kolkata, 08:45 in Kathmandu
    assert next_send_time(now, "Asia/Kolkata") == datetime(2026, 12, 8, 3, 30, tzinfo=UTC)
    assert next_send_time(now, "Asia/Kathmandu") == datetime(2026, 12, 8, 3, 15, tzinfo=UTC)
    # Adelaide in summer is +10:30: 03:00 UTC is 13:30 there, inside its hours.
    assert next_send_time(now, "Australia/Adelaide") == utc(
        local("Australia/Adelaide", 2026, 12, 8, 13, 30)
    )


def test_bad_input_is_a_value_error() -> None:
    naive = datetime(2026, 12, 8, 10, 0)  # noqa: DTZ001 (the bad input under test)
    with pytest.raises(ValueError, match="aware"):
        next_send_time(naive, NY)
    with pytest.raises(ValueError, match="unknown time zone"):
        next_send_time(datetime.now(UTC), "Mars/Olympus_Mons")
    with pytest.raises(ValueError, match="cap"):
        next_send_time(datetime.now(UTC), NY, daily_cap=0)
    with pytest.raises(ValueError, match="end after"):
        SendHours(time(17, 0), time(9, 0))
    with pytest.raises(ValueError, match="working days"):
        SendHours(days=frozenset())
    every_day_off = BusinessCalendar(
        holidays=frozenset(date(2026, 1, 1) + timedelta(days=n) for n in range(800))
    )
    with pytest.raises(ValueError, match="no working day"):
        next_send_time(datetime(2026, 6, 1, tzinfo=UTC), NY, calendar=every_day_off)


def test_whose_zone_the_window_follows() -> None:
    assert send_zone("Asia/Tokyo", NY) == ("Asia/Tokyo", "recipient")
    assert send_zone(None, NY) == (NY, "owner")
    assert send_zone("Not/AZone", None, "Europe/Berlin") == ("Europe/Berlin", "tenant")


moments = st.datetimes(
    # hypothesis takes naive bounds and attaches the zone itself.
    min_value=datetime(2026, 1, 1),  # noqa: DTZ001
    max_value=datetime(2028, 12, 31),  # noqa: DTZ001
    timezones=st.just(UTC),
)


@settings(max_examples=300, deadline=None)
@given(
    now=moments,
    zone=st.sampled_from(ZONES),
    offsets=st.lists(st.integers(min_value=-600, max_value=4000), max_size=25),
    cap=st.integers(min_value=1, max_value=6),
    spacing_minutes=st.integers(min_value=0, max_value=90),
    start_hour=st.integers(min_value=0, max_value=20),
    length=st.integers(min_value=1, max_value=10),
    days=st.frozensets(st.integers(min_value=0, max_value=6), min_size=1),
)
def test_the_answer_satisfies_every_rule_and_nothing_earlier_does(
    now: datetime,
    zone: str,
    offsets: list[int],
    cap: int,
    spacing_minutes: int,
    start_hour: int,
    length: int,
    days: frozenset[int],
) -> None:
    hours = SendHours(time(start_hour), time(min(start_hour + length, 23), 59), days)
    spacing = timedelta(minutes=spacing_minutes)
    taken = sorted(now + timedelta(minutes=offset) for offset in offsets)
    tz = ZoneInfo(zone)

    def allowed(moment: datetime) -> bool:
        wall = moment.astimezone(tz)
        day = wall.date()
        opens = datetime.combine(day, hours.start, tzinfo=tz).astimezone(UTC)
        closes = datetime.combine(day, hours.end, tzinfo=tz).astimezone(UTC)
        same_day = sum(1 for t in taken if t.astimezone(tz).date() == day)
        return (
            day.weekday() in hours.days
            and opens <= moment < closes
            and same_day < cap
            and all(abs(t - moment) >= spacing for t in taken)
        )

    answer = next_send_time(now, zone, hours, taken, cap, spacing)
    assert answer.tzinfo is UTC
    assert answer >= now
    assert allowed(answer)
    if allowed(now):
        assert answer == now
    # Nothing earlier satisfies the rules: probe minute by minute back to now (and the
    # instants just after each taken moment's spacing, where a free gap opens).
    probes = {answer - timedelta(minutes=m) for m in range(1, 240)}
    probes |= {t + spacing for t in taken} | {now}
    for probe in probes:
        if now <= probe < answer:
            assert not allowed(probe), (probe, answer)
