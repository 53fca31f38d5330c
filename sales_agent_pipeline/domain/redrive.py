"""The dead-letter queue's re-drive schedule: growing, bounded delays, then a person.

Written as a comma-separated list of durations ("1m,5m,15m,1h"): a number and a unit (s, m,
h, d), or plain seconds. The n-th re-drive waits the n-th delay; after the last one the lead
stays in the queue until someone replays or discards it.
"""

from __future__ import annotations

import re
from datetime import timedelta

# About two days in all, in the spirit of HubSpot's own three-day webhook retry: a vendor's
# outage of minutes is re-driven within minutes, one of a day still within the schedule.
DEFAULT_REDRIVE_DELAYS = "1m,5m,15m,1h,3h,6h,12h,24h"
MAX_REDRIVES = 20

_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhd]?)")
_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_delays(text: str) -> tuple[timedelta, ...]:
    """The delays of a schedule; ValueError naming the first part that is not a positive
    duration, or a schedule longer than MAX_REDRIVES."""
    delays: list[timedelta] = []
    for part in (p.strip().lower() for p in text.split(",")):
        if not part:
            continue
        match = _DURATION.fullmatch(part)
        seconds = float(match[1]) * _SECONDS[match[2]] if match else 0.0
        if seconds <= 0:
            raise ValueError(f"{part!r} is not a positive duration like 90s, 5m, 1h or 1d")
        delays.append(timedelta(seconds=seconds))
    if len(delays) > MAX_REDRIVES:
        raise ValueError(f"at most {MAX_REDRIVES} re-drives, not {len(delays)}")
    return tuple(delays)
