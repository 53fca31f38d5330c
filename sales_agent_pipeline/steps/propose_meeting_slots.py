"""Step 8: two or three free 30-minute slots on the owner's next business days."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sales_agent_pipeline.domain.schedule import MeetingSlot, TimeSpan, WorkingHours
from sales_agent_pipeline.steps.business_days import BusinessCalendar

# Times prospects accept most, tried in turn on each day: late morning, then early afternoon.
PREFERRED_STARTS = (time(10, 0), time(14, 0), time(11, 0), time(15, 0), time(9, 30))


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


def propose_meeting_slots(
    busy: Sequence[TimeSpan],
    *,
    now: datetime,
    timezone: str,
    calendar: BusinessCalendar,
    hours: WorkingHours | None = None,
    duration: timedelta = timedelta(minutes=30),
    count: int = 3,
    days_out: int = 3,
) -> list[MeetingSlot]:
    """Up to `count` free slots, one per business day first, on the next `days_out` days."""
    zone = ZoneInfo(timezone)
    hours = hours or WorkingHours()
    today = now.astimezone(zone).date()
    days = calendar.next_business_days(today, days_out)
    free_by_day = [
        [
            slot
            for slot in _candidates(day, zone, hours, duration)
            if slot[0] > now and _free(slot[0], slot[1], busy)
        ]
        for day in days
    ]
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
    return [
        MeetingSlot(start=start.astimezone(UTC), end=end.astimezone(UTC), timezone=timezone)
        for start, end in sorted(chosen)
    ]
