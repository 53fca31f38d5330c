"""Meeting slots and working hours, in the owner's time zone."""

from datetime import date, datetime, time
from typing import Protocol
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, model_validator


class TimeSpan(Protocol):
    """Anything with an aware start and end, e.g. a busy block from free/busy."""

    @property
    def start(self) -> datetime: ...

    @property
    def end(self) -> datetime: ...


class WorkingHours(BaseModel):
    """The owner's bookable hours on a business day, in their own time zone."""

    model_config = ConfigDict(frozen=True)

    start: time = time(9, 0)
    end: time = time(17, 0)

    @model_validator(mode="after")
    def _ordered(self) -> "WorkingHours":
        if self.end <= self.start:
            raise ValueError("working hours must end after they start")
        return self


class TimePreferences(BaseModel):
    """When the lead asked to meet, as read from their own words; every part optional.

    Days and dates are the prospect's; `windows` are times of day in the prospect's zone
    (e.g. 12:00-18:00 for "afternoon"). Empty: the lead stated nothing we understood.
    A slot honours them when its day is one of `weekdays` (if any), not excluded, on one
    of `dates` or within `earliest`..`latest` (either, when both are given), and inside
    one of `windows` (if any).
    """

    model_config = ConfigDict(frozen=True)

    weekdays: tuple[int, ...] = ()  # 0 = Monday
    excluded_weekdays: tuple[int, ...] = ()
    dates: tuple[date, ...] = ()
    windows: tuple[tuple[time, time], ...] = ()
    earliest: date | None = None
    latest: date | None = None
    # How we understood it, in English, for the audit and the writer's brief.
    summary: str | None = None
    # Set by step 8 when no free slot honoured them: the slots are its usual ones instead.
    fallback_reason: str | None = None

    @property
    def stated(self) -> bool:
        """True when the lead stated any preference we understood."""
        return bool(
            self.weekdays
            or self.excluded_weekdays
            or self.dates
            or self.windows
            or self.earliest
            or self.latest
        )


class MeetingSlot(BaseModel):
    """A free 30-minute slot, stored in UTC, shown in the owner's time zone (and in the
    prospect's, when we know it and it differs)."""

    model_config = ConfigDict(frozen=True)

    start: datetime
    end: datetime
    timezone: str
    prospect_timezone: str | None = None

    @property
    def local_start(self) -> datetime:
        """The start in the owner's time zone."""
        return self.start.astimezone(ZoneInfo(self.timezone))

    @property
    def label(self) -> str:
        """How the owner reads it, e.g. 'Tuesday 25 November, 10:00-10:30 EST'."""
        return _label(self.start, self.end, self.timezone)

    @property
    def prospect_label(self) -> str:
        """How the prospect reads it: in their zone, with the owner's in brackets when the
        clocks differ, e.g. 'Tuesday 9 December, 08:00-08:30 EST (14:00-14:30 CET)'."""
        theirs = self.prospect_timezone
        if not theirs or theirs == self.timezone:
            return self.label
        ours_start = self.local_start
        their_start = self.start.astimezone(ZoneInfo(theirs))
        if (their_start.utcoffset(), their_start.tzname()) == (
            ours_start.utcoffset(),
            ours_start.tzname(),
        ):
            return self.label
        owner = _label(self.start, self.end, self.timezone, with_day=False)
        if their_start.date() != ours_start.date():
            owner = self.label
        return f"{_label(self.start, self.end, theirs)} ({owner})"


def _label(start: datetime, end: datetime, zone: str, *, with_day: bool = True) -> str:
    local, local_end = start.astimezone(ZoneInfo(zone)), end.astimezone(ZoneInfo(zone))
    hours = f"{local:%H:%M}-{local_end:%H:%M} {local.tzname()}"
    return f"{local:%A} {local.day} {local:%B}, {hours}" if with_day else hours
