"""Meeting slots as a prospect reads them, in their language and their time zone (with the
owner's beside it when the two differ).

Day and month names are tabled by hand for the four languages drafts are written in
rather than taken from Babel (CLDR): four short tables against a dependency with every
locale's data.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sales_agent_pipeline.domain.schedule import MeetingSlot

_DAYS = {
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    "de": ("Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag"),
    "fr": ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"),
    "es": ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo"),
}
_MONTHS = {
    "en": "January February March April May June July August September October November December",
    "de": "Januar Februar März April Mai Juni Juli August September Oktober November Dezember",
    "fr": "janvier février mars avril mai juin juillet août septembre octobre novembre décembre",
    "es": "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre "
    "diciembre",
}
# "(14:00-14:30 CET, my time)": the owner's own time beside the prospect's.
_MY_TIME = {"en": "my time", "de": "meine Zeit", "fr": "mon heure", "es": "mi hora"}


def _day(start: datetime, language: str) -> str:
    day = _DAYS.get(language, _DAYS["en"])[start.weekday()]
    month = _MONTHS.get(language, _MONTHS["en"]).split()[start.month - 1]
    if language == "de":
        return f"{day}, {start.day}. {month}"
    if language == "es":
        return f"{day} {start.day} de {month}"
    return f"{day} {start.day} {month}"


def _hours(slot: MeetingSlot, zone: str) -> tuple[datetime, str]:
    start = slot.start.astimezone(ZoneInfo(zone))
    end = slot.end.astimezone(ZoneInfo(zone))
    return start, f"{start:%H:%M}-{end:%H:%M} {start.tzname()}"


def slot_label(slot: MeetingSlot, language: str = "en") -> str:
    """E.g. "Tuesday 9 December, 08:00-08:30 EST (14:00-14:30 CET, my time)"."""
    shown = slot.prospect_timezone or slot.timezone
    start, hours = _hours(slot, shown)
    label = f"{_day(start, language)}, {hours}"
    if shown != slot.timezone:
        own_start, own_hours = _hours(slot, slot.timezone)
        if own_hours != hours or own_start.date() != start.date():
            mine = _MY_TIME.get(language, _MY_TIME["en"])
            if own_start.date() != start.date():
                own_hours = f"{_day(own_start, language)}, {own_hours}"
            label += f" ({own_hours}, {mine})"
    return label
