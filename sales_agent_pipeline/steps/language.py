"""The lead's language, among those drafts are written in.

Written by hand rather than with a language-identification library (py3langid, lingua):
those load a model of about a hundred languages, which takes a second in every process,
and every Dagster run is a process of its own, so each lead would pay it. Telling four
languages apart by their most frequent words is reliable on a sentence and costs
microseconds; on a text too short to tell, the hint (a form field, HubSpot's contact
language) or the tenant's default decides.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from sales_agent_pipeline.domain.drafting import SUPPORTED_LANGUAGES

# Frequent words of each language that the other three do not use (so "a", "de", "en",
# "la", "que", "un", "no" are left out: two of the languages share each).
_WORDS: dict[str, frozenset[str]] = {
    "en": frozenset(
        [
            "the",
            "and",
            "to",
            "of",
            "is",
            "are",
            "you",
            "we",
            "our",
            "for",
            "with",
            "that",
            "this",
            "it",
            "be",
            "on",
            "can",
            "would",
            "could",
            "please",
            "thanks",
            "thank",
            "have",
            "has",
            "will",
            "what",
            "when",
            "how",
            "about",
            "your",
            "my",
            "us",
            "an",
            "at",
            "from",
            "looking",
            "interested",
            "call",
            "next",
            "week",
            "works",
            "best",
        ]
    ),
    "de": frozenset(
        [
            "der",
            "die",
            "das",
            "und",
            "ist",
            "sind",
            "wir",
            "sie",
            "ihr",
            "ihre",
            "ein",
            "eine",
            "einen",
            "mit",
            "für",
            "fur",
            "auf",
            "nicht",
            "ich",
            "bitte",
            "danke",
            "können",
            "konnen",
            "würden",
            "wurden",
            "gerne",
            "uns",
            "unser",
            "unsere",
            "zu",
            "im",
            "ist",
            "wie",
            "was",
            "wann",
            "über",
            "uber",
            "nächste",
            "nachste",
            "woche",
            "vielen",
            "dank",
            "haben",
            "hätten",
        ]
    ),
    "fr": frozenset(
        [
            "le",
            "les",
            "des",
            "et",
            "est",
            "sont",
            "nous",
            "vous",
            "votre",
            "vos",
            "une",
            "pour",
            "avec",
            "sur",
            "pas",
            "je",
            "merci",
            "bonjour",
            "pouvez",
            "pourriez",
            "serait",
            "être",
            "avoir",
            "notre",
            "nos",
            "du",
            "au",
            "aux",
            "dans",
            "qui",
            "que",
            "quand",
            "comment",
            "semaine",
            "prochaine",
            "après",
            "je",
            "suis",
        ]
    ),
    "es": frozenset(
        [
            "el",
            "los",
            "las",
            "y",
            "es",
            "son",
            "nosotros",
            "usted",
            "ustedes",
            "su",
            "sus",
            "una",
            "para",
            "con",
            "sobre",
            "yo",
            "gracias",
            "hola",
            "podemos",
            "podrían",
            "podrian",
            "sería",
            "seria",
            "nuestro",
            "nuestra",
            "del",
            "al",
            "cuando",
            "cómo",
            "como",
            "semana",
            "próxima",
            "proxima",
            "después",
            "despues",
            "por",
            "favor",
        ]
    ),
}
# Letters only one of the languages uses.
_LETTERS: dict[str, str] = {"de": "äöüß", "fr": "çèêëàâîïôûœ", "es": "ñ¿¡"}
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
# Fewer telling words than this, and the text does not decide.
_MIN_VOTES = 2


def normalise_language(value: str | None) -> str | None:
    """A supported language code from a hint such as "de", "de-AT", "German" or "fr_CA"."""
    if not value:
        return None
    text = value.strip().lower().replace("_", "-")
    names = {"english": "en", "german": "de", "deutsch": "de", "french": "fr"}
    names |= {"français": "fr", "francais": "fr", "spanish": "es", "español": "es"}
    names |= {"espanol": "es"}
    code = names.get(text, text.split("-", 1)[0])
    return code if code in SUPPORTED_LANGUAGES else None


def _votes(text: str) -> dict[str, int]:
    words = [word.lower() for word in _WORD.findall(text)]
    votes = {
        language: sum(w in vocabulary for w in words) for language, vocabulary in _WORDS.items()
    }
    lowered = text.lower()
    for language, letters in _LETTERS.items():
        votes[language] += sum(2 for char in lowered if char in letters)
    return votes


def detect_language(texts: Iterable[str | None]) -> str | None:
    """The supported language the texts are written in, or None when they do not tell."""
    text = unicodedata.normalize("NFC", " ".join(t for t in texts if t))
    if not text.strip():
        return None
    votes = _votes(text)
    best = max(votes, key=lambda language: (votes[language], language == "en"))
    ranked = sorted(votes.values(), reverse=True)
    if votes[best] < _MIN_VOTES or ranked[0] == ranked[1]:
        return None
    return best


def lead_language(texts: Iterable[str | None], hints: Iterable[str | None], default: str) -> str:
    """The language to write to a lead in: what their own words are written in; else a
    hint (a form field, the contact's language in HubSpot); else the default."""
    detected = detect_language(texts)
    if detected:
        return detected
    for hint in hints:
        language = normalise_language(hint)
        if language:
            return language
    return normalise_language(default) or "en"
