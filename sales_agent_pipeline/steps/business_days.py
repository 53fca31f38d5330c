"""Business days in an owner's calendar: weekends and holidays excluded."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta

import holidays as holiday_calendars

WEEKEND = frozenset({5, 6})  # Saturday, Sunday


@dataclass(frozen=True)
class BusinessCalendar:
    """Which days are business days: not a weekend day, not a holiday."""

    holidays: frozenset[date] = field(default_factory=frozenset)
    weekend: frozenset[int] = WEEKEND

    @classmethod
    def for_country(
        cls, country: str | None, years: Iterable[int], extra: Iterable[date] = ()
    ) -> BusinessCalendar:
        """A calendar with a country's public holidays (ISO code, e.g. US, GB) plus extras."""
        days: set[date] = set(extra)
        if country:
            days.update(holiday_calendars.country_holidays(country, years=list(years)).keys())
        return cls(holidays=frozenset(days))

    def is_business_day(self, day: date) -> bool:
        """True on a weekday that is not a holiday."""
        return day.weekday() not in self.weekend and day not in self.holidays

    def next_business_days(self, after: date, count: int) -> list[date]:
        """The first `count` business days strictly after `after`."""
        days: list[date] = []
        day = after
        while len(days) < count:
            day += timedelta(days=1)
            if self.is_business_day(day):
                days.append(day)
        return days

    def add_business_days(self, start: date, count: int) -> date:
        """The business day `count` business days after `start`."""
        return self.next_business_days(start, count)[-1]
