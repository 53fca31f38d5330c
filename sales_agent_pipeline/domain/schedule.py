"""Meeting slots and working hours, in the owner's time zone."""

from datetime import datetime, time
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


class MeetingSlot(BaseModel):
    """A free 30-minute slot, stored in UTC, shown in the owner's time zone."""

    model_config = ConfigDict(frozen=True)

    start: datetime
    end: datetime
    timezone: str

    @property
    def local_start(self) -> datetime:
        """The start in the owner's time zone."""
        return self.start.astimezone(ZoneInfo(self.timezone))

    @property
    def label(self) -> str:
        """How a prospect reads it, e.g. 'Tuesday 25 November, 10:00-10:30 EST'."""
        start = self.local_start
        end = self.end.astimezone(ZoneInfo(self.timezone))
        return f"{start:%A} {start.day} {start:%B}, {start:%H:%M}-{end:%H:%M} {start.tzname()}"
