"""When a SEND lead's email may go out: inside the recipient's business hours (else the
owner's), under the mailbox's daily cap, spaced from the mailbox's other sends.

Pure: the caller passes the clock, the zone, the hours and what the mailbox has already
taken; the answer is a UTC instant, `now` itself when the email may go now.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sales_agent_pipeline.steps.business_days import BusinessCalendar

WEEKDAYS = frozenset(range(5))  # Monday..Friday
# How far ahead a working day is looked for before the hours are called impossible (every
# day a holiday, no working day named): a little over a year covers any real calendar.
HORIZON_DAYS = 400


@dataclass(frozen=True)
class SendHours:
    """The hours mail may go out on a working day, as local wall times of the zone the
    window is read in; `days` are the working weekdays (0 = Monday)."""

    start: time = time(9, 0)
    end: time = time(17, 0)
    days: frozenset[int] = field(default=WEEKDAYS)

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError("send hours must end after they start")
        if not self.days or not self.days <= frozenset(range(7)):
            raise ValueError("send hours need working days among 0 (Monday) .. 6 (Sunday)")

    @classmethod
    def of(cls, start: time, end: time, days: Sequence[int] | None = None) -> SendHours:
        """Hours from settings (send_window_start/end) or an owner's hours ("days": [0..4])."""
        return cls(start=start, end=end, days=frozenset(days) if days is not None else WEEKDAYS)


def zone_named(name: str) -> ZoneInfo:
    """The IANA zone; ValueError (not KeyError) for a name the zone database lacks."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name!r}") from exc


def send_zone(recipient: str | None, owner: str | None, fallback: str = "UTC") -> tuple[str, str]:
    """Whose hours the window follows, and that zone: the recipient's when known (and a
    real zone), else the owner's, else `fallback` (the tenant's)."""
    for zone, whose in ((recipient, "recipient"), (owner, "owner")):
        if zone:
            try:
                zone_named(zone)
            except ValueError:
                continue
            return zone, whose
    return fallback, "tenant"


def _wall(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The instant a wall clock in `zone` shows `at` on `day`, in UTC.

    A wall time skipped by a DST change is read with the offset before the change (02:30 on
    a spring-forward night is 03:30), never earlier; a repeated one is its first occurrence.
    """
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


def _working(day: date, hours: SendHours, calendar: BusinessCalendar | None) -> bool:
    return day.weekday() in hours.days and (calendar is None or day not in calendar.holidays)


def next_send_time(
    now: datetime,
    time_zone: str,
    hours: SendHours | None = None,
    taken: Sequence[datetime] = (),
    daily_cap: int = 200,
    spacing: timedelta = timedelta(0),
    calendar: BusinessCalendar | None = None,
) -> datetime:
    """The first instant at or after `now` (UTC) that is inside `hours` on a working day of
    `time_zone`, on a local day with fewer than `daily_cap` of `taken`, and at least
    `spacing` from every taken instant; `now` itself when it already is.

    `taken`: the mailbox's scheduled and sent instants (aware; from the start of today on).
    A day counts the taken instants that fall on its local date in `time_zone`. Working
    days are `hours.days` minus the calendar's holidays (the calendar's own weekend is not
    consulted: the hours name the working days). ValueError for a naive `now`, an unknown
    zone, a cap below 1 or hours with no working day within HORIZON_DAYS.
    """
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    if daily_cap < 1:
        raise ValueError("the daily cap must be at least 1")
    zone = zone_named(time_zone)
    hours = hours or SendHours()
    spacing = max(spacing, timedelta(0))
    moments = sorted(moment.astimezone(UTC) for moment in taken)
    now = now.astimezone(UTC)
    day = now.astimezone(zone).date()
    for _ in range(HORIZON_DAYS):
        if _working(day, hours, calendar):
            found = _first_free(day, zone, hours, now, moments, daily_cap, spacing)
            if found is not None:
                return found
        day += timedelta(days=1)
    raise ValueError(f"no working day within {HORIZON_DAYS} days of {now.date()}")


def _first_free(
    day: date,
    zone: ZoneInfo,
    hours: SendHours,
    now: datetime,
    moments: Sequence[datetime],
    daily_cap: int,
    spacing: timedelta,
) -> datetime | None:
    """The first free instant of one working day's window, None when the day has none."""
    opens, closes = _wall(day, hours.start, zone), _wall(day, hours.end, zone)
    midnight = _wall(day, time(0), zone)
    next_midnight = _wall(day + timedelta(days=1), time(0), zone)
    if sum(1 for moment in moments if midnight <= moment < next_midnight) >= daily_cap:
        return None
    candidate = max(now, opens)
    if spacing:
        # Moments are sorted: each clash pushes the candidate past it, and a later moment
        # can only clash with the pushed candidate, so one pass settles it.
        for moment in moments:
            if abs(moment - candidate) < spacing:
                candidate = moment + spacing
    return candidate if candidate < closes else None
