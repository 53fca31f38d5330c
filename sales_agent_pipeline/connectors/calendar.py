"""The Calendar protocol on google-api-python-client's Calendar v3 freeBusy."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any

from sales_agent_pipeline.connectors.google_auth import GoogleApi
from sales_agent_pipeline.domain.errors import PermanentError, TransientError
from sales_agent_pipeline.domain.models import BusyInterval

# freeBusy takes at most 50 calendars per query.
_MAX_CALENDARS = 50
# Per-calendar reasons that mean "this calendar cannot be read", not "try later".
_PERMANENT_REASONS = {"notFound", "forbidden", "groupTooBig", "tooManyCalendarsRequested"}


def _rfc3339(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("freeBusy needs timezone-aware datetimes")
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _parse(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class GoogleCalendar:
    """Calendar adapter; thread-safe."""

    def __init__(self, api: GoogleApi) -> None:
        self._api = api

    def busy_intervals(
        self, calendar_ids: Sequence[str], start: datetime, end: datetime
    ) -> dict[str, list[BusyInterval]]:
        """Busy blocks per calendar within [start, end), in UTC."""
        result: dict[str, list[BusyInterval]] = {}
        ids = list(dict.fromkeys(calendar_ids))
        for offset in range(0, len(ids), _MAX_CALENDARS):
            chunk = ids[offset : offset + _MAX_CALENDARS]
            body = {
                "timeMin": _rfc3339(start),
                "timeMax": _rfc3339(end),
                "timeZone": "UTC",
                "items": [{"id": calendar_id} for calendar_id in chunk],
            }
            answer = self._api.execute("freebusy.query", partial(_query, body=body))
            calendars = answer.get("calendars") or {}
            for calendar_id in chunk:
                entry = calendars.get(calendar_id) or {}
                _raise_for_errors(calendar_id, entry.get("errors") or [])
                result[calendar_id] = [
                    BusyInterval(
                        calendar_id=calendar_id,
                        start=_parse(block["start"]).astimezone(UTC),
                        end=_parse(block["end"]).astimezone(UTC),
                    )
                    for block in entry.get("busy") or []
                ]
        return result


def _query(service: Any, body: dict[str, Any]) -> Any:
    return service.freebusy().query(body=body)


def _raise_for_errors(calendar_id: str, errors: list[dict[str, str]]) -> None:
    if not errors:
        return
    reasons = {str(e.get("reason", "")) for e in errors}
    message = f"Google calendar freeBusy for {calendar_id}: {', '.join(sorted(reasons))}"
    if reasons & _PERMANENT_REASONS:
        raise PermanentError(message, vendor_message=", ".join(sorted(reasons)))
    raise TransientError(message, vendor_message=", ".join(sorted(reasons)))
