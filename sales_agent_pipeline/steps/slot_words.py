"""The words the slot-preference parser reads, in en, de, fr and es.

Every pattern is written for text that `slot_preferences.fold` has lower-cased and stripped
of accents ("après-midi" -> "apres-midi", "mañana" -> "manana", "übermorgen" ->
"ubermorgen"), so one spelling covers the accented and the unaccented forms leads type.
Tables are ordered: the longer phrase first ("apres-midi" before "midi", "por la manana"
before "manana" = tomorrow), since the parser blanks out what it has read.
"""

from __future__ import annotations

from datetime import time

WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTH_NAMES = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)

# Full day names, with the plural ("mondays") and the German adverb ("dienstags"): both say
# "on that day". Saturday and Sunday are read (so a weekend wish is understood and falls
# back) but short forms such as "sat"/"sun" are not: they are everyday words.
WEEKDAYS: tuple[tuple[int, str], ...] = (
    (0, r"mondays?|montags?|lundis?|lunes"),
    (1, r"tuesdays?|dienstags?|mardis?|martes"),
    (2, r"wednesdays?|mittwochs?|mercredis?|miercoles"),
    (3, r"thursdays?|donnerstags?|jeudis?|jueves"),
    (4, r"fridays?|freitags?|vendredis?|viernes"),
    (5, r"saturdays?|samstags?|sonnabends?|samedis?|sabados?"),
    (6, r"sundays?|sonntags?|dimanches?|domingos?"),
)
# English short forms, read case-sensitively ("Tue", "TUE", "Tues."): lower-case "wed" or
# "mon" (French "my") is too often another word.
WEEKDAY_ABBREVIATIONS: tuple[tuple[int, str], ...] = (
    (0, r"Mon|MON"),
    (1, r"Tues?|TUES?"),
    (2, r"Wed|WED"),
    (3, r"Thu(?:rs?)?|THU(?:RS?)?"),
    (4, r"Fri|FRI"),
)

MONTHS: tuple[tuple[int, str], ...] = (
    (1, r"january|jan|januar|janner|janvier|enero"),
    (2, r"february|feb|februar|fevrier|febrero"),
    (3, r"march|mar|marz|mars|marzo"),
    (4, r"april|apr|avril|abril"),
    (5, r"may|mai|mayo"),
    (6, r"june|jun|juni|juin|junio"),
    (7, r"july|jul|juli|juillet|julio"),
    (8, r"august|aug|aout|agosto"),
    (9, r"september|sept|sep|septembre|septiembre|setiembre"),
    (10, r"october|oct|oktober|okt|octobre|octubre"),
    (11, r"november|nov|novembre|noviembre"),
    (12, r"december|dec|dezember|dez|decembre|diciembre"),
)

# Parts of the day in the prospect's zone: (key, pattern, window). "afternoon" runs to
# 18:00: the owner's working hours cut it further.
MORNING = (time(9), time(12))
AFTERNOON = (time(12), time(18))
TARDE = (time(15), time(19))
PARTS_OF_DAY: tuple[tuple[str, str, tuple[time, time]], ...] = (
    (
        "early afternoon",
        r"early afternoons?|fruhen nachmittag|fruher nachmittag|(?:en )?debut d'apres-midi"
        r"|(?:a )?primera hora de la tarde",
        (time(12), time(15)),
    ),
    (
        "late afternoon",
        r"late afternoons?|spaten nachmittag|spater nachmittag|(?:en )?fin d'apres-midi"
        r"|(?:a )?ultima hora de la tarde",
        (time(15), time(18)),
    ),
    (
        "early morning",
        r"early mornings?|fruh morgens|am fruhen morgen|(?:a )?primera hora de la manana"
        r"|(?:en )?debut de matinee|tot le matin",
        (time(8), time(10)),
    ),
    (
        "late morning",
        r"late mornings?|spaten vormittag|spater vormittag|(?:en )?fin de matinee"
        r"|a media manana",
        (time(10), time(12)),
    ),
    (
        # Spain's "tarde" starts after lunch (la comida, 14:00-15:00).
        "afternoon",
        r"(?:por|en|a|de) la tarde|(?:por )?las tardes",
        TARDE,
    ),
    (
        "afternoon",
        r"afternoons?|after lunch|nachmittags?|(?:l')?apres-midi|apres midi|aprem",
        AFTERNOON,
    ),
    (
        "morning",
        r"mornings?|vormittags?|morgens|am morgen|in der fruh"
        r"|(?:le |les |en |dans la )?matin(?:ee|s)?"
        r"|(?:por|en|a|de) la manana|(?:por )?las mananas",
        MORNING,
    ),
    (
        "evening",
        r"evenings?|after work|abends?|(?:le |en )?soir(?:ee)?s?|(?:por|en|a|de) la noche"
        r"|(?:por )?las noches",
        (time(17), time(20)),
    ),
    (
        "lunchtime",
        r"lunch ?times?|lunch|midday|noon|mittags|mittagszeit|mittagspause|midi"
        r"|pause dejeuner|(?:l')?heure du dejeuner|mediodia|hora de comer|hora del almuerzo",
        (time(12), time(14)),
    ),
)
# German "Dienstagnachmittag": a day and a part of day in one word.
GERMAN_DAY_PART = {
    "vormittag": "morning",
    "morgen": "morning",
    "nachmittag": "afternoon",
    "mittag": "lunchtime",
    "abend": "evening",
}

# Relative days: (key, pattern), longest first.
RELATIVE_DAYS: tuple[tuple[str, str], ...] = (
    (
        "day after tomorrow",
        r"(?:the )?day after tomorrow|ubermorgen|apres-demain|apres demain"
        r"|pasado manana",
    ),
    (
        "early next week",
        r"early next week|beginning of next week|start of next week"
        r"|anfang (?:der )?nachste[nr]? woche|(?:en )?debut de (?:la )?semaine prochaine"
        r"|(?:a )?principios de la (?:semana que viene|proxima semana|semana proxima)",
    ),
    (
        "end of this week",
        r"(?:the )?end of (?:the|this) week|later this week"
        r"|ende (?:der|dieser) woche|(?:en )?fin de (?:cette )?semaine",
    ),
    (
        "next week",
        r"next week|the week after|(?:in der )?nachste[nr]? woche"
        r"|(?:in der )?kommende[nr]? woche|(?:la )?semaine prochaine|la semaine suivante"
        r"|(?:la )?semana que viene|(?:la )?proxima semana|(?:la )?semana proxima",
    ),
    ("this week", r"this week|diese[rn]? woche|cette semaine|esta semana"),
    ("today", r"today|heute|aujourd'hui|hoy"),
    ("tomorrow", r"tomorrow|morgen|demain|manana"),
)

# Before a day or a part of day: it is excluded ("not Monday", "sauf le lundi").
NEGATION_BEFORE = (
    r"(?:\b(?:not|except|excluding|other than|anything but|apart from|never|no|can'?t do"
    r"|cannot do|can'?t make|nicht|keine?n?|ausser|ausgenommen|sauf|pas|excepte|hormis"
    r"|ni|excepto|salvo|menos))"
    r"(?:\s+(?:on|the|in|at|a|am|an|le|les|la|el|los|las|de|en|du|des|available|disponible"
    r"|verfugbar|por|dans))*\s*$"
)
# After a day, with no comma between: "Monday is out", "montags nicht", "el lunes no puedo".
NEGATION_AFTER = (
    r"^ +(?:(?!(?:but|or|and|aber|oder|und|mais|ou|et|pero|o|y)\b)[a-z']+ +){0,2}?"
    r"(?:not|isn't|doesn't|won't|can't|nicht|pas|no|ne|n'est)\b"
    r"|^ +(?:is|are|'s|ist|es|est|c'est|would be)? *(?:out|bad|difficult|tricky|impossible"
    r"|schlecht|schwierig|ungunstig|imposible|dificil|complique|booked|busy|full)\b"
)
# A past day is not a wish: "last Tuesday", "letzten Montag", "mardi dernier", "el martes pasado".
PAST_BEFORE = r"\b(?:last|since|letzte[nmr]?|seit|depuis)\s+(?:the |am |le |el )?$"
PAST_AFTER = r"^\s+(?:dernier|passe|pasado)\b"
# Between two excluded days, these carry the exclusion on ("not Monday or Friday").
CONJUNCTION = r"^\s*(?:or|and|nor|oder|und|noch|ou|et|ni|o|y|u|/)\s+(?:(?:on|the|le|el|am)\s+)?$"
# Between two wished-for days, these make a range ("Monday to Wednesday", "lun-mer").
RANGE_BETWEEN = (
    r"^\s*(?:-|to|through|thru|until|till|bis|au|a|jusqu'au|hasta el|hasta)\s*(?:le |el |the )?$"
)

# Words after a number that make it a quantity, not a time of day.
UNITS = (
    r"%|percent|days?|weeks?|months?|years?|hours?|minutes?|mins?|people|persons?|users?"
    r"|employees|seats|locations|sites|tage?n?|wochen?|monate?n?|jahren?|stunden?|minuten?"
    r"|leute|mitarbeiter|jours?|semaines?|mois|ans?|heures?|personnes?|dias?|semanas?"
    r"|mes(?:es)?|anos?|horas?|minutos?|personas?|floor|floors|stock"
)

# The patterns built from the words above: dates, then clock times.
MONTH_ALTERNATIVES = "|".join(pattern for _, pattern in MONTHS)
MONTH = rf"(?P<mon>{MONTH_ALTERNATIVES})\.?"
DATE_PATTERNS = (
    # 10 December, 10th December, 10. Dezember, 10 de diciembre (de 2026), 1er décembre
    rf"\b(?P<d>\d{{1,2}})(?:st|nd|rd|th|er|\.)?\s+(?:de\s+)?{MONTH}(?:\s+(?:de\s+)?(?P<y>20\d\d))?\b",
    # December 10, Dec 10th, 2026
    rf"\b{MONTH}\s+(?:the\s+)?(?P<d>\d{{1,2}})(?:st|nd|rd|th)?\b(?![:.]\d)(?:,?\s+(?P<y>20\d\d)\b)?",
    r"\b(?P<y>20\d\d)-(?P<m>\d{1,2})-(?P<d>\d{1,2})\b",
    r"(?<![\d.])(?P<d>\d{1,2})\.(?P<m>\d{1,2})\.(?P<y>(?:20)?\d\d)?(?![\d.])(?!\s*(?:uhr|h)\b)",
    r"\b(?:am|den|vom|le|el)\s+(?P<d>\d{1,2})\.(?P<m>\d{1,2})\b(?![.:]\d)(?!\s*(?:uhr|h)\b)",
)
SLASH_DATE = r"(?<![\d/])(?P<a>\d{1,2})/(?P<b>\d{1,2})(?:/(?P<y>(?:20)?\d\d))?(?![\d/])"
DAY_OF_MONTH = (
    r"\b(?:the\s+)?(?P<d>\d{1,2})(?:st|nd|rd|th)\b"
    r"(?!\s+(?:floor|time|anniversary|quarter|place|grade|generation|edition|century))",
    r"\bam\s+(?P<d>\d{1,2})\.(?!\d)",
    rf"\b(?:le|el)\s+(?P<d>\d{{1,2}})(?:er)?\b(?![.,:/]\d)(?!\s*(?:%|(?:{UNITS})\b))",
)

MERIDIEM = (
    r"a\.?m\.?|p\.?m\.?|uhr|h|hrs|o'clock|de la tarde|de la manana|de la noche|du matin"
    r"|de l'apres-midi|du soir|nachmittags|abends|morgens|vormittags"
)
PM = ("p", "de la tarde", "de la noche", "de l'apres-midi", "du soir", "nachmittags", "abends")
AM = ("a", "de la manana", "du matin", "morgens", "vormittags")
GUARD = rf"(?!\s*(?:%|(?:{UNITS})\b))"


def number(n: int, meridiem_required: bool = False) -> str:
    """An hour (and minutes) as groups h{n}, m{n}, mer{n}: "15", "3pm", "14h30", "9:30 a.m."."""
    mer = rf"\s*(?P<mer{n}>{MERIDIEM})(?![a-z])"
    return rf"(?<![\d.:/])(?P<h{n}>[01]?\d|2[0-3])(?:(?::|\.|h)(?P<m{n}>[0-5]\d))?(?![\d/])" + (
        mer if meridiem_required else rf"(?:{mer})?"
    )


CONNECT = r"(?:\s*-\s*|\s+(?:and|to|until|till|und|bis|et|a|y|hasta)\s+(?:las\s+)?)"
CLOCK_RANGES = (
    rf"\b(?:between|from|zwischen|von|entre|de|desde)\s+(?:las\s+|les\s+)?{number(1)}{CONNECT}"
    rf"{number(2)}{GUARD}",
    rf"{number(1)}\s*-\s*{number(2, meridiem_required=True)}",
    r"(?<![\d.:/])(?P<h1>[01]?\d|2[0-3]):(?P<m1>[0-5]\d)\s*-\s*(?P<h2>[01]?\d|2[0-3]):(?P<m2>[0-5]\d)",
)
# (cues, bound): "not before 10" is a lower bound, so the negated cues are read first.
CLOCK_BOUNDS = (
    (r"not before|no earlier than|nicht vor|pas avant|no antes de(?: las?)?", "lower"),
    (r"not after|no later than|nicht nach|pas apres|no despues de(?: las?)?", "upper"),
    (
        r"after|from|starting(?: at| from)?|any ?time after|ab|nach|fruhestens(?: um| ab)?"
        r"|apres|a partir de(?: las?)?|despues de(?: las?)?|desde(?: las?)?",
        "lower",
    ),
    (
        r"before|by|until|till|vor|bis|spatestens(?: um| bis)?|avant|jusqu'a"
        r"|antes de(?: las?)?|hasta(?: las?)?",
        "upper",
    ),
)
CLOCK_AT = (
    rf"\b(?:at|around|about|um|gegen|vers|a|sobre|hacia)\s+(?:las\s+)?"
    rf"{number(1, meridiem_required=True)}",
    rf"\b(?:a|sobre|hacia)\s+las\s+{number(1)}{GUARD}",
)
GREETINGS = (
    r"\b(?:good (?:morning|afternoon|evening)|guten (?:morgen|tag|abend)|buenos dias"
    r"|buenas (?:tardes|noches)|bonsoir|bon apres-midi|have a (?:good|great|nice) \w+"
    r"|(?:schones|schoenes) wochenende|bon week-end|buen fin de semana)\b"
)

# Right before a date the lead is away until (folded text: no accents).
UNTIL_BEFORE = (
    r"\b(?:until|till|til|bis(?: zum| am)?|jusqu'?au|jusqu au|hasta el|hasta)\s*(?:the\s*)?$"
)
