"""Step 8's reading of when a lead wants to meet: days, parts of the day, clock bounds, relative
days and dates, in English, German, French and Spanish.

Deterministic: regular expressions over the folded text (no model, no network), so a test
table pins what is understood. Each phrase read is blanked out, so a longer reading wins
over a shorter one inside it ("por la mañana" is a morning, "mañana" alone is tomorrow;
"après-midi" is an afternoon, not "midi"). Anything not understood is left out: an unread
preference costs a slot the lead did not ask for, a misread one costs the slots they did.

Dates written with slashes: day first in de, fr and es ("10/12" is 10 December); in English
(or when the language is unknown) only when unambiguous ("25/12", "12/25"), since "12/10"
is 10 December in London and 12 October in New York. "10.12." is day first everywhere.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sales_agent_pipeline.domain.schedule import TimePreferences
from sales_agent_pipeline.steps import slot_words as words

_LATE = time(23, 59)


def fold(text: str) -> str:
    """Lower case without accents, one kind of apostrophe: what the patterns are written for."""
    return _fold_case(text).lower()


def _fold_case(text: str) -> str:
    # Typographic apostrophes and dashes as typed on phones and in Word: one of each.
    for typed, plain in (("\u2019", "'"), ("`", "'"), ("\u2013", "-"), ("\u2014", "-")):
        text = text.replace(typed, plain)
    text = text.replace("ß", "ss").replace("İ", "I")
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _day_label(day: date) -> str:
    return f"{words.WEEKDAY_NAMES[day.weekday()]} {day.day} {words.MONTH_NAMES[day.month - 1]}"


def _either(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " or " + items[-1]


@dataclass
class _Reading:
    """What has been read so far; `text` has each read phrase blanked out."""

    text: str
    cased: str
    today: date
    language: str | None
    weekdays: list[int] = field(default_factory=list)
    excluded: list[int] = field(default_factory=list)
    dates: list[date] = field(default_factory=list)
    # Dates read from "tomorrow", "demain"...: the summary names them so.
    date_labels: dict[date, str] = field(default_factory=dict)
    spans: list[tuple[str, date, date | None]] = field(default_factory=list)
    parts: list[tuple[str, tuple[time, time]]] = field(default_factory=list)
    clock: list[tuple[time, time]] = field(default_factory=list)
    lower: time | None = None
    upper: time | None = None
    notes: list[str] = field(default_factory=list)

    def take(self, match: re.Match[str]) -> None:
        """Blank out a phrase once read."""
        start, end = match.span()
        self.text = self.text[:start] + " " * (end - start) + self.text[end:]
        self.cased = self.cased[:start] + " " * (end - start) + self.cased[end:]

    def negated(self, start: int) -> bool:
        """A negation right before this position ("not", "nicht am", "sauf le")."""
        return re.search(words.NEGATION_BEFORE, self.text[max(0, start - 40) : start]) is not None

    def until(self, start: int) -> bool:
        """A date the lead is away until ("until the 14th", "bis zum 14."): not a wish."""
        return re.search(words.UNTIL_BEFORE, self.text[max(0, start - 20) : start]) is not None

    def past(self, start: int, end: int) -> bool:
        """A day in the past ("last Tuesday", "mardi dernier"): not a wish."""
        before = self.text[max(0, start - 20) : start]
        return bool(
            re.search(words.PAST_BEFORE, before) or re.match(words.PAST_AFTER, self.text[end:])
        )


def _future(today: date, month: int, day: int, year: int | None) -> date | None:
    """The date on or after today (this year or next when no year is given), else None."""
    years = [year] if year else [today.year, today.year + 1]
    for candidate in years:
        try:
            found = date(candidate, month, day)
        except ValueError:
            return None
        if today <= found <= today + timedelta(days=366):
            return found
    return None


def _year(text: str | None) -> int | None:
    if not text:
        return None
    return int(text) + (2000 if len(text) == 2 else 0)


def _month(name: str) -> int:
    return next(n for n, pattern in words.MONTHS if re.fullmatch(pattern, name))


def _read_dates(reading: _Reading) -> None:
    for pattern in words.DATE_PATTERNS:
        for match in list(re.finditer(pattern, reading.text)):
            parts = match.groupdict()
            month = _month(parts["mon"]) if parts.get("mon") else int(parts["m"])
            found = _future(reading.today, month, int(parts["d"]), _year(parts.get("y")))
            reading.take(match)
            if found and not reading.negated(match.start()) and not reading.until(match.start()):
                reading.dates.append(found)
    for match in list(re.finditer(words.SLASH_DATE, reading.text)):
        a, b = int(match["a"]), int(match["b"])
        if reading.language in ("de", "fr", "es") or a > 12:
            day, month = a, b
        elif b > 12:
            day, month = b, a  # 12/25: only a month-first reading makes sense
        else:
            continue  # 12/10 in English: London and New York disagree, so neither is guessed
        found = _future(reading.today, month, day, _year(match["y"]))
        reading.take(match)
        if found:
            reading.dates.append(found)
    for pattern in words.DAY_OF_MONTH:
        for match in list(re.finditer(pattern, reading.text)):
            day = int(match["d"])
            if reading.until(match.start()):
                reading.take(match)
                continue
            start = reading.today.replace(day=1)
            for offset in (0, 1):
                month_start = (start + timedelta(days=32 * offset)).replace(day=1)
                found = _future(reading.today, month_start.month, day, month_start.year)
                if found:
                    reading.dates.append(found)
                    break
            reading.take(match)


def _clock(hour: str, minute: str | None, meridiem: str | None) -> time | None:
    """A time of day; a bare 1-7 is afternoon (nobody books a call at 3 in the night)."""
    h, m = int(hour), int(minute or 0)
    mer = (meridiem or "").replace(".", "")
    if mer in ("am", "pm"):
        mer = mer[0]
    if mer in words.PM and h < 12:
        h += 12
    elif mer in words.AM and h == 12:
        h = 0
    elif mer not in words.AM and 1 <= h <= 7:
        h += 12
    return time(h, m) if h < 24 else None


def _read_clock(reading: _Reading) -> None:
    for pattern in words.CLOCK_RANGES:
        for match in list(re.finditer(pattern, reading.text)):
            mer1, mer2 = match.groupdict().get("mer1"), match.groupdict().get("mer2")
            end = _clock(match["h2"], match["m2"], mer2)
            # "2-4pm", "between 2 and 4pm": the second time's am/pm applies to the first.
            start = _clock(
                match["h1"], match["m1"], mer1 or (mer2 if mer2 in ("am", "pm") else None)
            )
            reading.take(match)
            if start and end and start < end:
                reading.clock.append((start, end))
                reading.notes.append(f"{start:%H:%M}-{end:%H:%M}")
    for cues, bound in words.CLOCK_BOUNDS:
        for match in list(
            re.finditer(rf"\b(?:{cues})\s+(?:las\s+)?{words.number(1)}{words.GUARD}", reading.text)
        ):
            moment = _clock(match["h1"], match["m1"], match["mer1"])
            reading.take(match)
            if moment is None:
                continue
            if bound == "lower":
                reading.lower = max(moment, reading.lower or moment)
                reading.notes.append(f"after {moment:%H:%M}")
            else:
                reading.upper = min(moment, reading.upper or moment)
                reading.notes.append(f"before {moment:%H:%M}")
    for pattern in words.CLOCK_AT:
        for match in list(re.finditer(pattern, reading.text)):
            moment = _clock(match["h1"], match["m1"], match.groupdict().get("mer1"))
            reading.take(match)
            if moment and moment.hour < 23:
                reading.clock.append((moment, time(moment.hour + 1, moment.minute)))
                reading.notes.append(f"around {moment:%H:%M}")


def _read_parts(reading: _Reading) -> None:
    windows = {key: window for key, _, window in words.PARTS_OF_DAY}
    days = "|".join(
        f"{name}" for name in ("montag", "dienstag", "mittwoch", "donnerstag", "freitag")
    )
    compound = rf"\b({days})({'|'.join(words.GERMAN_DAY_PART)})s?\b"
    for match in list(re.finditer(compound, reading.text)):
        reading.weekdays.append(days.split("|").index(match[1]))
        key = words.GERMAN_DAY_PART[match[2]]
        reading.parts.append((key, windows[key]))
        reading.take(match)
    for match in list(re.finditer(r"\bmorgen fruh\b", reading.text)):
        reading.dates.append(reading.today + timedelta(days=1))
        reading.date_labels[reading.today + timedelta(days=1)] = "tomorrow"
        reading.parts.append(("morning", windows["morning"]))
        reading.take(match)
    for key, pattern, window in words.PARTS_OF_DAY:
        for match in list(re.finditer(rf"\b(?:{pattern})\b", reading.text)):
            negated = reading.negated(match.start())
            reading.take(match)
            if not negated:
                reading.parts.append((key, window))
            elif window[1] <= time(12):  # "not in the morning": from noon
                reading.lower = max(time(12), reading.lower or time(12))
                reading.notes.append("not in the morning (after 12:00)")
            elif window[0] >= time(12) and key != "lunchtime":  # "pas l'après-midi"
                reading.upper = min(window[0], reading.upper or window[0])
                reading.notes.append(f"not in the {key} (before {window[0]:%H:%M})")


def _read_relative(reading: _Reading) -> None:
    today = reading.today
    monday = today - timedelta(days=today.weekday())
    next_monday = monday + timedelta(days=7)
    # On a Saturday or Sunday, "this week" is the one about to start.
    this_monday = next_monday if today.weekday() >= 5 else today
    for key, pattern in words.RELATIVE_DAYS:
        for match in list(re.finditer(rf"\b(?:{pattern})\b", reading.text)):
            negated = reading.negated(match.start())
            past = reading.past(match.start(), match.end()) or re.search(
                r"\bearlier\s+$", reading.text[max(0, match.start() - 10) : match.start()]
            )
            reading.take(match)
            if past:
                continue
            if negated:
                # "not this week": from next Monday; "not today": from tomorrow.
                if key in ("this week", "end of this week"):
                    following = this_monday + timedelta(days=7 - this_monday.weekday())
                    reading.spans.append(("not this week", following, None))
                elif key == "today":
                    reading.spans.append(("not today", today + timedelta(days=1), None))
                continue
            if key in ("today", "tomorrow", "day after tomorrow"):
                offset = {"today": 0, "tomorrow": 1, "day after tomorrow": 2}[key]
                reading.dates.append(today + timedelta(days=offset))
                reading.date_labels[today + timedelta(days=offset)] = key
            elif key == "this week":
                reading.spans.append(
                    (key, this_monday, this_monday + timedelta(days=6 - this_monday.weekday()))
                )
            elif key == "end of this week":
                week = this_monday - timedelta(days=this_monday.weekday())
                start = max(this_monday, week + timedelta(days=3))
                reading.spans.append((key, start, week + timedelta(days=6)))
            elif key == "early next week":
                reading.spans.append((key, next_monday, next_monday + timedelta(days=2)))
            else:
                reading.spans.append((key, next_monday, next_monday + timedelta(days=6)))


def _read_weekdays(reading: _Reading) -> None:
    found: list[tuple[int, int, int]] = []
    for day, pattern in words.WEEKDAYS:
        for match in re.finditer(rf"(?<![@.\w])(?:{pattern})\b(?!\.[a-z]{{2,}}|@)", reading.text):
            found.append((match.start(), match.end(), day))
    for day, pattern in words.WEEKDAY_ABBREVIATIONS:
        if day == 0 and reading.language == "fr":
            continue  # "Mon" is "my" in French
        for match in re.finditer(rf"(?<![@.\w])(?:{pattern})\.?(?![\w@])", reading.cased):
            # "Tue/Thu", "Fri 3pm", "Mon or Tue", not "Wed Corp": a word after it that we did
            # not read makes it a name.
            if re.match(
                r"\s*(?:[a-z]{2,}\b(?<!\bor)(?<!\band)(?<!\boder)(?<!\bund))",
                reading.text[match.end() :],
            ):
                continue
            found.append((match.start(), match.end(), day))
    found.sort()
    previous: tuple[int, int, int, bool] | None = None
    for start, end, day in found:
        if reading.past(start, end):
            continue
        gap = reading.text[previous[1] : start] if previous else ""
        negated = reading.negated(start) or bool(re.match(words.NEGATION_AFTER, reading.text[end:]))
        if previous and previous[3] and re.match(words.CONJUNCTION, gap):
            negated = True
        if negated:
            reading.excluded.append(day)
        else:
            if previous and not previous[3] and re.match(words.RANGE_BETWEEN, gap):
                reading.weekdays.extend(range(previous[2] + 1, day))
            reading.weekdays.append(day)
        previous = (start, end, day, negated)


def _windows(reading: _Reading) -> list[tuple[time, time]]:
    clock = list(reading.clock)
    if reading.lower or reading.upper:
        lower, upper = reading.lower or time(0), reading.upper or _LATE
        clock = [(max(a, lower), min(b, upper)) for a, b in clock] if clock else [(lower, upper)]
        clock = [(a, b) for a, b in clock if a < b]
    parts = [window for _, window in reading.parts]
    if parts and clock:
        both = [(max(a, c), min(b, d)) for a, b in parts for c, d in clock]
        # "the morning, after 3pm" contradicts itself: the clock is the more precise wish.
        return [(a, b) for a, b in both if a < b] or clock
    return parts or clock


def _summary(reading: _Reading, windows: list[tuple[time, time]]) -> str | None:
    pieces: list[str] = []
    weekdays = sorted(set(reading.weekdays) - set(reading.excluded))
    # "Thursday 10 December": the date names its day already.
    if weekdays and set(weekdays) != {d.weekday() for d in reading.dates}:
        pieces.append(_either([words.WEEKDAY_NAMES[d] for d in weekdays]))
    if reading.excluded:
        pieces.append(
            "not " + _either([words.WEEKDAY_NAMES[d] for d in sorted(set(reading.excluded))])
        )
    if reading.dates:
        labels = reading.date_labels
        pieces.append(
            _either(
                [
                    f"{labels[d]} ({_day_label(d)})" if d in labels else _day_label(d)
                    for d in sorted(set(reading.dates))
                ]
            )
        )
    for label, start, end in reading.spans:
        pieces.append(
            f"{label} ({_day_label(start)} to {_day_label(end)})"
            if end
            else f"{label} (from {_day_label(start)})"
        )
    parts = dict(reading.parts)
    if parts:
        pieces.append(_either([f"{key} ({a:%H:%M}-{b:%H:%M})" for key, (a, b) in parts.items()]))
    pieces.extend(dict.fromkeys(reading.notes))
    if not (weekdays or reading.excluded or reading.dates or reading.spans or windows):
        return None
    return ", ".join(pieces)


def parse_preferences(
    text: str | None, *, now: datetime, zone: str, language: str | None = None
) -> TimePreferences:
    """The meeting times a lead's own words ask for, read in their zone (`zone`, IANA)."""
    if not text or not text.strip():
        return TimePreferences()
    cased = _fold_case(text)
    lowered = cased.lower()
    reading = _Reading(
        text=lowered,
        cased=cased if len(cased) == len(lowered) else lowered,
        today=now.astimezone(ZoneInfo(zone)).date(),
        language=(language or "")[:2].lower() or None,
    )
    for match in list(re.finditer(words.GREETINGS, reading.text)):
        reading.take(match)
    _read_dates(reading)
    _read_clock(reading)
    _read_parts(reading)
    _read_relative(reading)
    _read_weekdays(reading)
    windows = sorted(set(_windows(reading)))
    weekdays = sorted(set(reading.weekdays) - set(reading.excluded))
    starts = [start for _, start, _ in reading.spans]
    ends = [end for _, _, end in reading.spans if end]
    return TimePreferences(
        weekdays=tuple(weekdays),
        excluded_weekdays=tuple(sorted(set(reading.excluded))),
        dates=tuple(sorted(set(reading.dates))),
        windows=tuple(windows),
        earliest=min(starts) if starts else None,
        latest=max(ends) if ends and len(ends) == len(starts) else None,
        summary=_summary(reading, windows),
    )
