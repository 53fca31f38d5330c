"""Step 8: two or three free 30-minute slots in the owner's working hours: those the lead
asked for when they said when, else on the owner's next business days."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sales_agent_pipeline.domain.schedule import (
    MeetingSlot,
    TimePreferences,
    TimeSpan,
    WorkingHours,
)
from sales_agent_pipeline.steps.business_days import BusinessCalendar

# Times prospects accept most, tried in turn on each day: late morning, then early afternoon.
PREFERRED_STARTS = (time(10, 0), time(14, 0), time(11, 0), time(15, 0), time(9, 30))
# How far a stated wish is searched ("next week", a date 8 days out), in business days.
SEARCH_DAYS = 10
# A slot asked for today starts no sooner than this: the prospect reads the email first.
SAME_DAY_NOTICE = timedelta(hours=2)


def _candidates(
    day: date, zone: ZoneInfo, hours: WorkingHours, duration: timedelta
) -> list[tuple[datetime, datetime]]:
    """Every slot of the day on the half hour, as aware local datetimes.

    Local wall times are built per slot, so a DST change that day shifts the UTC
    instants, never the times the owner sees.
    """
    slots = []
    minutes = hours.start.hour * 60 + hours.start.minute
    last = hours.end.hour * 60 + hours.end.minute - int(duration.total_seconds() // 60)
    while minutes <= last:
        start = datetime.combine(day, time(minutes // 60, minutes % 60), tzinfo=zone)
        slots.append((start, start + duration))
        minutes += 30
    return slots


def _free(start: datetime, end: datetime, busy: Sequence[TimeSpan]) -> bool:
    return all(end <= block.start or start >= block.end for block in busy)


def _preference(start: datetime, day_index: int) -> tuple[int, int]:
    # Day 1 prefers 10:00, day 2 14:00, day 3 11:00...; a spread the prospect can choose from.
    wanted = PREFERRED_STARTS[day_index % len(PREFERRED_STARTS)]
    distance = abs((start.hour * 60 + start.minute) - (wanted.hour * 60 + wanted.minute))
    return distance, start.hour * 60 + start.minute


def honours(start: datetime, end: datetime, preferences: TimePreferences, zone: ZoneInfo) -> bool:
    """True when a slot (aware start and end) is one the lead asked for, read in `zone`."""
    local, local_end = start.astimezone(zone), end.astimezone(zone)
    day = local.date()
    if preferences.weekdays and day.weekday() not in preferences.weekdays:
        return False
    if day.weekday() in preferences.excluded_weekdays:
        return False
    ranged = preferences.earliest is not None or preferences.latest is not None
    in_range = ranged and (preferences.earliest or day) <= day <= (preferences.latest or day)
    if (preferences.dates or ranged) and not (day in preferences.dates or in_range):
        return False
    if preferences.windows:
        return local_end.date() == day and any(
            low <= local.time() and local_end.time() <= high for low, high in preferences.windows
        )
    return True


def search_until(now: datetime, timezone: str, calendar: BusinessCalendar) -> datetime:
    """The end of the last day the step may search: what the busy look-up must cover."""
    zone = ZoneInfo(timezone)
    last = calendar.next_business_days(now.astimezone(zone).date(), SEARCH_DAYS)[-1]
    return datetime.combine(last + timedelta(days=1), time(0), tzinfo=zone)


@dataclass(frozen=True)
class SlotChoice:
    """The slots, and the preferences they were chosen for (`fallback_reason` set when none
    honoured them)."""

    slots: list[MeetingSlot]
    preferences: TimePreferences


def _pick(
    free_by_day: list[list[tuple[datetime, datetime]]], count: int
) -> list[tuple[datetime, datetime]]:
    chosen: list[tuple[datetime, datetime]] = []
    for index, free in enumerate(free_by_day):
        if free and len(chosen) < count:
            chosen.append(min(free, key=lambda slot: _preference(slot[0], index)))
    # A fully booked day leaves room: fill from the other days' free slots, earliest first.
    for slot in sorted(slot for free in free_by_day for slot in free):
        if len(chosen) >= count:
            break
        if all(abs(slot[0] - taken[0]) >= timedelta(hours=1) for taken in chosen):
            chosen.append(slot)
    return sorted(chosen)


def choose_meeting_slots(
    busy: Sequence[TimeSpan],
    *,
    now: datetime,
    timezone: str,
    calendar: BusinessCalendar,
    preferences: TimePreferences | None = None,
    prospect_timezone: str | None = None,
    hours: WorkingHours | None = None,
    duration: timedelta = timedelta(minutes=30),
    count: int = 3,
    days_out: int = 3,
) -> SlotChoice:
    """Up to `count` free slots in the owner's hours: those the lead asked for (read in their
    zone) within SEARCH_DAYS business days; else, or when they asked nothing, one per
    business day first on the next `days_out` days."""
    zone = ZoneInfo(timezone)
    theirs = ZoneInfo(prospect_timezone) if prospect_timezone else zone
    hours = hours or WorkingHours()
    preferences = preferences or TimePreferences()
    today = now.astimezone(zone).date()

    def free_on(days: list[date], soonest: datetime) -> list[list[tuple[datetime, datetime]]]:
        return [
            [
                slot
                for slot in _candidates(day, zone, hours, duration)
                if slot[0] > soonest and _free(slot[0], slot[1], busy)
            ]
            for day in days
        ]

    def made(chosen: list[tuple[datetime, datetime]]) -> list[MeetingSlot]:
        return [
            MeetingSlot(
                start=start.astimezone(UTC),
                end=end.astimezone(UTC),
                timezone=timezone,
                prospect_timezone=prospect_timezone,
            )
            for start, end in chosen
        ]

    if preferences.stated:
        # "today" may be asked for: today's slots count, with time to prepare.
        days = [today] if calendar.is_business_day(today) else []
        days += calendar.next_business_days(today, SEARCH_DAYS)
        wanted = [
            [slot for slot in free if honours(slot[0], slot[1], preferences, theirs)]
            for free in free_on(days, now + SAME_DAY_NOTICE)
        ]
        # Only the days with a wanted slot compete, so the first is the nearest one.
        chosen = _pick([free for free in wanted if free], count)
        if chosen:
            return SlotChoice(made(chosen), preferences)
        reason = (
            f"no free slot in the owner's working hours matches {preferences.summary} "
            f"within {SEARCH_DAYS} business days; the next free slots are proposed instead"
        )
        preferences = preferences.model_copy(update={"fallback_reason": reason})
    chosen = _pick(free_on(calendar.next_business_days(today, days_out), now), count)
    return SlotChoice(made(chosen), preferences)


def propose_meeting_slots(
    busy: Sequence[TimeSpan],
    *,
    now: datetime,
    timezone: str,
    calendar: BusinessCalendar,
    preferences: TimePreferences | None = None,
    prospect_timezone: str | None = None,
    hours: WorkingHours | None = None,
    duration: timedelta = timedelta(minutes=30),
    count: int = 3,
    days_out: int = 3,
) -> list[MeetingSlot]:
    """The slots of `choose_meeting_slots`, without the preferences."""
    return choose_meeting_slots(
        busy,
        now=now,
        timezone=timezone,
        calendar=calendar,
        preferences=preferences,
        prospect_timezone=prospect_timezone,
        hours=hours,
        duration=duration,
        count=count,
        days_out=days_out,
    ).slots
