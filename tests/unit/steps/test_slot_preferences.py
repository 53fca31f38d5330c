"""Step 8's parser: a table of what leads write, in en, de, fr and es, and what it means."""

from datetime import UTC, date, datetime, time
from typing import Any

import pytest

from sales_agent_pipeline.steps.slot_preferences import parse_preferences

# Sunday 6 December 2026, 10:00 in Berlin: "tomorrow" is Monday 7, "next week" 7-13 December.
NOW = datetime(2026, 12, 6, 9, tzinfo=UTC)
ZONE = "Europe/Berlin"
MON, TUE, WED, THU, FRI, SAT, SUN = range(7)
MORNING = (time(9), time(12))
AFTERNOON = (time(12), time(18))
TARDE = (time(15), time(19))  # Spain: after lunch
LATE = time(23, 59)
NEXT_WEEK = {"earliest": date(2026, 12, 7), "latest": date(2026, 12, 13)}
DEC_10 = {"dates": (date(2026, 12, 10),)}


def after(hour: int, minute: int = 0) -> dict[str, Any]:
    return {"windows": ((time(hour, minute), LATE),)}


def before(hour: int) -> dict[str, Any]:
    return {"windows": ((time(0), time(hour)),)}


def between(start: int, end: int) -> dict[str, Any]:
    return {"windows": ((time(start), time(end)),)}


def days(*weekdays: int) -> dict[str, Any]:
    return {"weekdays": weekdays}


def not_days(*weekdays: int) -> dict[str, Any]:
    return {"excluded_weekdays": weekdays}


def parts(*windows: tuple[time, time]) -> dict[str, Any]:
    return {"windows": windows}


def on(*days_of_december: int) -> dict[str, Any]:
    return {"dates": tuple(date(2026, 12, d) for d in days_of_december)}


CASES: list[tuple[str | None, str, dict[str, Any]]] = [
    # English
    ("en", "Tuesday or Wednesday afternoon is best for us", days(TUE, WED) | parts(AFTERNOON)),
    ("en", "Tue/Thu", days(TUE, THU)),
    ("en", "Tuesday or Wednesday", days(TUE, WED)),
    ("en", "Monday to Wednesday", days(MON, TUE, WED)),
    ("en", "not Monday", not_days(MON)),
    ("en", "any day except Friday", not_days(FRI)),
    ("en", "any weekday but not Monday or Friday", not_days(MON, FRI)),
    ("en", "Mondays are bad for me", not_days(MON)),
    ("en", "I can't do Friday, Thursday works", days(THU) | not_days(FRI)),
    ("en", "mornings work best", parts(MORNING)),
    ("en", "late afternoon", parts((time(15), time(18)))),
    ("en", "lunchtime on Thursday", days(THU) | parts((time(12), time(14)))),
    ("en", "evenings", parts((time(17), time(20)))),
    ("en", "after 3pm", after(15)),
    ("en", "before 11", before(11)),
    ("en", "no later than 4", before(16)),
    ("en", "not before 10am", after(10)),
    ("en", "between 2 and 4pm", between(14, 16)),
    ("en", "2-4pm", between(14, 16)),
    ("en", "today", on(6)),
    ("en", "tomorrow at 3pm", on(7) | between(15, 16)),
    ("en", "this week if possible", NEXT_WEEK),
    ("en", "next week", NEXT_WEEK),
    ("en", "early next week", {"earliest": date(2026, 12, 7), "latest": date(2026, 12, 9)}),
    ("en", "December 10", DEC_10),
    ("en", "10 Dec", DEC_10),
    ("en", "on the 10th", DEC_10),
    ("en", "2026-12-10", DEC_10),
    ("en", "25/12", on(25)),
    ("en", "12/25", on(25)),
    ("en", "Thursday morning, not before 10", days(THU) | parts((time(10), time(12)))),
    ("en", "Sometime next week, Tuesday ideally", days(TUE) | NEXT_WEEK),
    ("en", "not in the morning", after(12)),
    (None, "TUE or WED", days(TUE, WED)),
    # German
    ("de", "dienstags oder donnerstags ab 14 Uhr", days(TUE, THU) | after(14)),
    ("de", "Dienstag oder Mittwoch", days(TUE, WED)),
    ("de", "nicht montags", not_days(MON)),
    ("de", "außer Freitag", not_days(FRI)),
    ("de", "montags geht nicht", not_days(MON)),
    ("de", "Dienstagnachmittag wäre gut", days(TUE) | parts(AFTERNOON)),
    ("de", "vormittags", parts(MORNING)),
    ("de", "nachmittags", parts(AFTERNOON)),
    ("de", "vor 11 Uhr", before(11)),
    ("de", "ab 14:30", after(14, 30)),
    ("de", "zwischen 14 und 16 Uhr", between(14, 16)),
    ("de", "morgen", on(7)),
    ("de", "morgen früh", on(7) | parts(MORNING)),
    ("de", "übermorgen", on(8)),
    ("de", "nächste Woche", NEXT_WEEK),
    ("de", "kommende Woche am Donnerstag", days(THU) | NEXT_WEEK),
    ("de", "am 10.12.", DEC_10),
    ("de", "10.12.2026", DEC_10),
    ("de", "Donnerstag, den 10. Dezember", days(THU) | DEC_10),
    # French
    ("fr", "mardi ou jeudi après-midi", days(TUE, THU) | parts(AFTERNOON)),
    ("fr", "mardi", days(TUE)),
    ("fr", "sauf le lundi", not_days(MON)),
    ("fr", "le lundi je ne peux pas", not_days(MON)),
    ("fr", "le matin", parts(MORNING)),
    ("fr", "l'après-midi", parts(AFTERNOON)),
    ("fr", "en fin d\u2019après-midi", parts((time(15), time(18)))),
    ("fr", "après 14h", after(14)),
    ("fr", "avant 11h", before(11)),
    ("fr", "entre 14h et 16h", between(14, 16)),
    ("fr", "pas avant 10h", after(10)),
    ("fr", "demain", on(7)),
    ("fr", "après-demain", on(8)),
    ("fr", "la semaine prochaine", NEXT_WEEK),
    ("fr", "le 10 décembre", DEC_10),
    ("fr", "10/12", DEC_10),
    ("fr", "le 10/12 à 10h", DEC_10 | between(10, 11)),
    # Spanish
    ("es", "el martes por la tarde", days(TUE) | parts(TARDE)),
    ("es", "el miércoles o el jueves", days(WED, THU)),
    ("es", "excepto el lunes", not_days(MON)),
    ("es", "cualquier día menos el viernes", not_days(FRI)),
    ("es", "el lunes no puedo", not_days(MON)),
    ("es", "por la mañana", parts(MORNING)),
    ("es", "en la mañana", parts(MORNING)),
    ("es", "mañana", on(7)),
    ("es", "mañana por la mañana", on(7) | parts(MORNING)),
    ("es", "manana por la tarde", on(7) | parts(TARDE)),
    ("es", "pasado mañana", on(8)),
    ("es", "después de las 15h", after(15)),
    ("es", "antes de las 11", before(11)),
    ("es", "a partir de las 16", after(16)),
    ("es", "entre las 14 y las 16", between(14, 16)),
    ("es", "a las 3 de la tarde", between(15, 16)),
    ("es", "la semana que viene", NEXT_WEEK),
    ("es", "la próxima semana por la mañana", NEXT_WEEK | parts(MORNING)),
    ("es", "el 10 de diciembre", DEC_10),
    ("es", "10/12", DEC_10),
]

# Text that states no time to meet: nothing is read, so no window is wrongly imposed.
NOTHING = [
    ("en", "We are a Monday.com shop"),
    ("en", "I am satisfied with the demo"),
    ("en", "Good morning Alex, happy to chat"),
    ("en", "We have 3 warehouses and 20 people"),
    ("en", "after 2 weeks of testing we decided"),
    ("en", "We met last Tuesday"),
    ("en", "Thanks for the call earlier this week"),
    ("en", "I sat down with Wed Corp"),
    ("en", "12/10"),  # 12 October in New York, 10 December in London: not guessed
    ("de", "Guten Morgen, ich melde mich"),
    ("fr", "Mon collègue est disponible"),
    ("es", "Buenas tardes, gracias"),
    (None, ""),
    (None, None),
]


def fields(text: str | None, language: str | None) -> dict[str, Any]:
    found = parse_preferences(text, now=NOW, zone=ZONE, language=language)
    return found.model_dump(exclude={"summary", "fallback_reason"})


EMPTY = fields(None, None)


def test_the_table_has_fifty_phrasings_in_each_language_family() -> None:
    assert len(CASES) >= 50
    assert {language for language, _, _ in CASES} >= {"en", "de", "fr", "es"}


@pytest.mark.parametrize(("language", "text", "expected"), CASES, ids=[c[1] for c in CASES])
def test_a_stated_preference_is_read(
    language: str | None, text: str, expected: dict[str, Any]
) -> None:
    assert fields(text, language) == EMPTY | expected


@pytest.mark.parametrize(("language", "text"), NOTHING, ids=[str(c[1]) for c in NOTHING])
def test_text_without_a_time_yields_nothing(language: str | None, text: str | None) -> None:
    found = parse_preferences(text, now=NOW, zone=ZONE, language=language)
    assert not found.stated
    assert found.summary is None


def test_the_summary_says_in_english_what_was_understood() -> None:
    found = parse_preferences(
        "A call works. Tuesday or Wednesday afternoon is best for us", now=NOW, zone=ZONE
    )
    assert found.summary == "Tuesday or Wednesday, afternoon (12:00-18:00)"
    tomorrow = parse_preferences("mañana por la tarde", now=NOW, zone=ZONE, language="es")
    assert tomorrow.summary == "tomorrow (Monday 7 December), afternoon (15:00-19:00)"
    week = parse_preferences("nicht montags, nächste Woche", now=NOW, zone=ZONE)
    assert week.summary == "not Monday, next week (Monday 7 December to Sunday 13 December)"


def test_relative_days_are_read_in_the_prospects_zone() -> None:
    # 23:30 UTC on Sunday is already Monday in Tokyo: "tomorrow" there is Tuesday.
    late = datetime(2026, 12, 6, 23, 30, tzinfo=UTC)
    assert parse_preferences("tomorrow", now=late, zone="Asia/Tokyo").dates == (date(2026, 12, 8),)
    assert parse_preferences("tomorrow", now=late, zone="America/New_York").dates == (
        date(2026, 12, 7),
    )


def test_slash_dates_follow_the_language() -> None:
    assert parse_preferences("3/4", now=NOW, zone=ZONE, language="de").dates == (date(2027, 4, 3),)
    assert parse_preferences("3/4", now=NOW, zone=ZONE, language="en").dates == ()


def test_a_past_date_this_year_is_next_years() -> None:
    assert parse_preferences("on 2 March", now=NOW, zone=ZONE).dates == (date(2027, 3, 2),)
    assert parse_preferences("2025-03-02", now=NOW, zone=ZONE).dates == ()
