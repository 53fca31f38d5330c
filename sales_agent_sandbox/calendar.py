"""Google Calendar v3 freeBusy over seeded busy blocks."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, Body, Request

from .deps import GoogleSubjectDep, StoreDep, touch
from .errors import GoogleError
from .google_auth import domain_of
from .state import Calendar, parse_time

router = APIRouter(tags=["calendar"])

_MAX_ITEMS = 50


def _time(body: dict[str, Any], name: str) -> datetime:
    value = body.get(name)
    if not value:
        raise GoogleError(400, f"Missing {name}.", "required", location=name)
    try:
        return parse_time(str(value))
    except ValueError as exc:
        raise GoogleError(400, f"Invalid value for {name}.", "invalid", location=name) from exc


def _format(moment: datetime, zone: ZoneInfo | None) -> str:
    if zone is None:
        return moment.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%dT%H:%M:%SZ")
    return moment.astimezone(zone).isoformat(timespec="seconds")


@router.post("/calendar/v3/freeBusy")
def free_busy(
    body: Annotated[dict[str, Any], Body()],
    request: Request,
    store: StoreDep,
    subject: GoogleSubjectDep,
) -> dict[str, Any]:
    """Return busy intervals overlapping [timeMin, timeMax) for each asked calendar.

    A token's subject sees the free/busy of its own domain's calendars (Workspace shares
    them domain-wide; a user's calendar nothing was seeded in is free); another domain's
    come back as notFound, as Google answers. Anonymous callers see the seeded ones.
    """
    time_min, time_max = _time(body, "timeMin"), _time(body, "timeMax")
    if time_max <= time_min:
        raise GoogleError(
            400, "The specified time range is empty.", "timeRangeEmpty", location="timeMax"
        )
    zone: ZoneInfo | None = None
    if body.get("timeZone"):
        try:
            zone = ZoneInfo(str(body["timeZone"]))
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise GoogleError(400, "Invalid time zone.", "invalid", location="timeZone") from exc
    items = body.get("items") or []
    if len(items) > _MAX_ITEMS:
        raise GoogleError(400, "Too many calendars requested.", "tooManyCalendarsRequested")
    calendars: dict[str, Any] = {}
    answered: list[str] = []
    with store.locked():
        for item in items:
            calendar_id = str(item.get("id", ""))
            wanted = (subject if subject and calendar_id == "primary" else calendar_id).lower()
            calendar = store.calendar(wanted)
            if subject and domain_of(wanted) != domain_of(subject):
                calendar = None
            elif subject and calendar is None and "@" in wanted:
                # Every user of the domain has a calendar: one nothing was seeded in is free.
                calendar = Calendar(wanted)
            if calendar is None:
                calendars[calendar_id] = {
                    "errors": [{"domain": "global", "reason": "notFound"}],
                    "busy": [],
                }
                continue
            # Google clips busy blocks to the asked window and merges none of them.
            busy = [
                {
                    "start": _format(max(start, time_min), zone),
                    "end": _format(min(end, time_max), zone),
                }
                for start, end in sorted(calendar.busy)
                if start < time_max and end > time_min
            ]
            calendars[calendar_id] = {"busy": busy}
            answered.append(calendar.id)
    touch(request, calendars=answered)
    return {
        "kind": "calendar#freeBusy",
        "timeMin": _format(time_min, zone),
        "timeMax": _format(time_max, zone),
        "calendars": calendars,
    }
