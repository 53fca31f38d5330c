"""Google Calendar free/busy in memory."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sales_agent_pipeline.domain.models import BusyInterval
from tests.fakes.faults import FakeVendor


class FakeCalendar(FakeVendor):
    """The Calendar port over busy blocks per calendar; a calendar with none is free.

    Blocks are clipped to the window asked for, as freeBusy answers.
    """

    def __init__(self) -> None:
        super().__init__()
        self.busy: dict[str, list[tuple[datetime, datetime]]] = {}

    def add_busy(self, calendar_id: str, start: datetime, end: datetime) -> None:
        """A busy block in a calendar (aware datetimes)."""
        self.busy.setdefault(calendar_id, []).append((start, end))

    def busy_intervals(
        self, calendar_ids: Sequence[str], start: datetime, end: datetime
    ) -> dict[str, list[BusyInterval]]:
        """Busy blocks per calendar within [start, end)."""
        with self.request("busy_intervals"):
            return {
                calendar_id: [
                    BusyInterval(calendar_id=calendar_id, start=max(s, start), end=min(e, end))
                    for s, e in sorted(self.busy.get(calendar_id, []))
                    if s < end and e > start
                ]
                for calendar_id in dict.fromkeys(calendar_ids)
            }
