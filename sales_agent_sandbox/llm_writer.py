"""The sandbox's stand-in language model: a deterministic follow-up writer.

Our connector sends the draft brief as JSON between `<brief>` and `</brief>` in the last
user message. This "model" reads it as plain dicts (tolerantly: any field may be missing),
writes a short follow-up in the brief's language that answers the lead's topic, acts on the
angle, names the chosen asset and the meeting days (never times, links or addresses), and
picks slot and asset ids from the brief. Every choice is derived from a hash of the prompt,
so the same request always gets the same answer; temperature is ignored.

`compromise` is the same model under prompt injection: it obeys the lead's text (see
faults.py, `compromised`).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from typing import Any

from .llm_lexicon import LEXICON, TOPIC_ANSWERS, TOPIC_NAMES, TOPIC_TITLES, TOPICS
from .llm_phrases import GENERIC, MEETING_WORDS, SENTENCES, STOPWORDS, SUSPECT_WORDS, WEEKDAYS

LANGUAGES = ("en", "de", "fr", "es")
_BRIEF = re.compile(r"<brief>(.*?)</brief>", re.DOTALL)
_WORD = re.compile(r"[^\W\d_]+(?:['\u2019][^\W\d_]+)?", re.UNICODE)
_URL = re.compile(r"(?:https?://|www\.)[^\s<>\"'()\[\]]+", re.IGNORECASE)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_TIME = re.compile(r"\b(\d{1,2})[:.h](\d{2})\b")
_UNTRUSTED = ("first_name", "company", "job_title", "industry", "message")
# What the compromised model adds that no brief offers.
FOREIGN_SLOT_ID = "slot-injected"
FOREIGN_ASSET_ID = "asset-injected"
INJECTED_URL = "https://attacker.example/offer"


def estimate_tokens(text: str) -> int:
    """Tokens of a text by a simple rule: about four characters a token (no tokenizer:
    counts only need to be deterministic and of the right order)."""
    return math.ceil(len(text) / 4) if text else 0


def prompt_hash(*parts: str) -> int:
    """A stable number from the prompt, the source of every variation."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big")


def find_brief(text: str) -> dict[str, Any] | None:
    """The brief's JSON in a user message, as plain dicts; None when absent or unreadable."""
    matches = _BRIEF.findall(text or "")
    if not matches:
        return None
    raw = matches[-1].strip()
    if raw.startswith("```"):
        raw = raw.strip("`").removeprefix("json").strip()
    try:
        value = json.loads(raw)
    except ValueError:
        start = raw.find("{")
        try:
            value, _ = json.JSONDecoder().raw_decode(raw[start:]) if start >= 0 else (None, 0)
        except ValueError:
            return None
    return value if isinstance(value, dict) else None


def _text(value: Any, limit: int = 2000) -> str:
    return value[:limit] if isinstance(value, str) else ""


def _thread(brief: dict[str, Any]) -> dict[str, Any]:
    thread = brief.get("thread")
    return thread if isinstance(thread, dict) else {}


def _list(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _safe_name(value: Any) -> str:
    """A short name fit to appear in text (a company, an industry), else ''."""
    text = " ".join(_text(value, 200).split())
    if not text or len(text) > 60 or _URL.search(text) or _EMAIL.search(text):
        return ""
    return text if not re.search(r"[<>{}\[\]|\\]", text) else ""


class _Say:
    """Picks phrasings for one draft: the language's sentences, chosen by the prompt's hash."""

    def __init__(self, language: str, seed: int) -> None:
        self.language = language if language in LANGUAGES else "en"
        self.seed = seed

    def __call__(self, key: str, **values: str) -> str:
        options = SENTENCES[self.language][key]
        choice = options[(self.seed >> (len(key) % 16)) % len(options)]
        return choice.format(**values)


def _lead_words(message: str, language: str) -> tuple[list[str], list[str]]:
    """The topics a message is about, and how to name them back (the lead's own words when
    they wrote in the draft's language)."""
    topics: list[str] = []
    named: list[str] = []
    own = LEXICON.get(language, {})
    for word in _WORD.findall(message.lower()):
        if word in SUSPECT_WORDS:
            continue
        hit = own.get(word)
        if hit is None:
            other = next((LEXICON[lang][word] for lang in LANGUAGES if word in LEXICON[lang]), None)
            hit = (other[0], TOPIC_NAMES[language][other[0]]) if other else None
        if hit is None or hit[0] in topics:
            continue
        topics.append(hit[0])
        named.append(hit[1])
    return topics[:2], named[:2]


def _own_words(message: str, language: str, skip: set[str]) -> str:
    """A few of the lead's own content words (at most two in a row, never the whole
    message), when no topic matched and the message is in the draft's language; else ''.
    English takes a run of up to two words, German its longest noun; French and Spanish none
    (a bare noun without its article reads wrong there)."""
    words = _WORD.findall(_EMAIL.sub(" ", _URL.sub(" ", message)))
    lowered = [w.lower() for w in words]
    if language not in ("en", "de") or SUSPECT_WORDS.intersection(lowered):
        return ""  # a message that gives orders is not paraphrased back
    counts = {lang: sum(w in STOPWORDS[lang] for w in lowered) for lang in LANGUAGES}
    if max(counts.values()) and counts[language] < max(counts.values()):
        return ""  # written in another language: the topic is named in the draft's instead
    days = {d.lower() for names in WEEKDAYS.values() for d in names}
    runs: list[list[str]] = [[]]
    for word, low in zip(words, lowered, strict=True):
        content = (
            len(low) >= 3
            and low not in STOPWORDS[language]
            and low not in SUSPECT_WORDS
            and low not in days
            and low not in skip
        )
        if language == "de":
            # German nouns are capitalised: keep the longest one.
            if content and word[0].isupper() and len(word) > len("".join(runs[0])):
                runs[0] = [word]
        elif content:
            runs[-1].append(low)
        elif runs[-1]:
            runs.append([])
    best = max((run[:2] for run in runs if any(len(w) >= 6 for w in run)), key=len, default=[])
    if not best or len(best) * 2 > len(words) + 1:
        return ""
    return " ".join(best)


def _angle(angle: str, industry: str, say: _Say) -> str:
    """Act on step 6's angle (an instruction to the writer, not a sentence to paste)."""
    lowered = angle.lower()
    if "returning" in lowered or "existing conversation" in lowered:
        return say("angle_returning")
    match = re.search(r"proven in ([^:;]+)", angle, re.IGNORECASE)
    if match or "peer" in lowered:
        name = _safe_name(match.group(1)) if match else industry
        if "_" in name or name.isupper():
            name = name.replace("_", " ").lower()  # a CRM enum: COMPUTER_SOFTWARE
        # An industry name is English data: named in English drafts only.
        if name and say.language == "en":
            return say("angle_peer", industry=name)
        return say("angle_peer_plain")
    return ""


def _subject(brief: dict[str, Any], topics: list[str], say: _Say, sender: str) -> str:
    thread = _thread(brief)
    subject = " ".join(_text(thread.get("subject"), 200).split())
    if subject and not _URL.search(subject) and not _EMAIL.search(subject):
        return subject if subject.lower().startswith("re:") else f"Re: {subject}"
    company = _safe_name(brief.get("company"))
    if topics:
        title = TOPIC_TITLES[say.language][TOPICS.index(topics[0])]
        if company:
            return say("subject_company", Title=title, company=company)
        return say("subject_title", Title=title)
    return say("subject_plain", sender=sender)


def write(brief: dict[str, Any] | None, seed: int) -> dict[str, Any]:
    """The structured answer to a brief: subject, paragraphs, slot_ids, asset_ids."""
    if brief is None:
        return {
            **GENERIC,
            "paragraphs": list(GENERIC["paragraphs"]),
            "slot_ids": [],
            "asset_ids": [],
        }
    language = _text(brief.get("language"), 10).lower()
    say = _Say(language, seed)
    sender = _safe_name(brief.get("sender_company")) or "our team"
    thread = _thread(brief)
    message = _text(brief.get("message")) or _text(thread.get("last_message"))
    topics, named = _lead_words(message, say.language)

    opener = [
        say("thanks_reply")
        if thread.get("last_speaker") == "prospect"
        else say("thanks_plain", sender=sender)
    ]
    if named:
        # The lead's words, never their sentence: a run of four of their words is reordered.
        words = next(
            (
                _and(say.language).join(option)
                for option in (named, named[::-1], named[:1])
                if not _echoes(_and(say.language).join(option), message)
            ),
            TOPIC_NAMES[say.language][topics[0]],
        )
        opener.append(say("mentioned", words=words))
        opener.append(TOPIC_ANSWERS[say.language][topics[0]])
    else:
        skip = {
            w.lower()
            for field in ("first_name", "company")
            for w in _WORD.findall(_text(brief.get(field), 200))
        }
        own = _own_words(message, say.language, skip)
        if own:
            opener.append(say("mentioned_bare" if say.language == "de" else "mentioned", words=own))
        asks_for_call = MEETING_WORDS.intersection(_WORD.findall(message.lower()))
        if asks_for_call:
            opener.append(say("call_welcome"))
        opener.append(say("generic_answer"))

    said = " \n".join(
        part
        for part in (
            _text(brief.get("message")),
            _text(thread.get("last_message")) if thread.get("last_speaker") == "prospect" else "",
        )
        if part
    )
    skip = {w.lower() for n in named for w in _WORD.findall(n)}
    skip |= {w.lower() for w in _WORD.findall(_text(brief.get("first_name"), 200))}
    company = {w.lower() for w in _WORD.findall(_text(brief.get("company"), 200))}
    focus = _focus_words(said, say.language, skip, company=company)
    if focus:
        opener.append(say("focus", words=_listed(focus, say.language)))

    assets = [a for a in _list(brief.get("assets")) if isinstance(a.get("id"), str)]
    middle: list[str] = []
    angle = _angle(_text(brief.get("angle"), 500), _safe_name(brief.get("industry")), say)
    if angle:
        middle.append(angle)
    # The assets and the meeting times follow the paragraphs, introduced by the caller's
    # own frame (as the instructions say): the model neither names them nor asks for a time.
    slots = [s for s in _list(brief.get("slots")) if isinstance(s.get("id"), str)][:3]

    paragraphs = [" ".join(opener)] + ([" ".join(middle)] if middle else [])
    return {
        "subject": _subject(brief, topics, say, sender)[:120],
        "paragraphs": paragraphs,
        "slot_ids": [s["id"] for s in slots],
        "asset_ids": _chosen_assets(assets, said),
    }


# Words after which a noun follows (an article, a possessive, a preposition): the sandbox's
# stand-in for a model's sense of what a message is about.
_BEFORE_NOUN = {
    "en": frozenset(
        [
            "the",
            "our",
            "your",
            "their",
            "a",
            "an",
            "of",
            "for",
            "about",
            "with",
            "on",
            "in",
            "my",
            "its",
            "this",
            "these",
        ]
    ),
    "fr": frozenset(
        [
            "le",
            "la",
            "les",
            "l",
            "des",
            "du",
            "de",
            "d",
            "nos",
            "vos",
            "notre",
            "votre",
            "un",
            "une",
            "ces",
            "sur",
            "pour",
        ]
    ),
    "es": frozenset(
        [
            "el",
            "la",
            "los",
            "las",
            "del",
            "de",
            "nuestros",
            "nuestras",
            "nuestro",
            "nuestra",
            "sus",
            "su",
            "un",
            "una",
            "para",
            "sobre",
            "con",
            "varias",
            "varios",
            "muchas",
            "muchos",
            "algunas",
            "algunos",
        ]
    ),
}


# Words a message is rarely about, though long enough to pass for a topic.
_FILLER = frozenset(
    [
        "because",
        "writing",
        "behalf",
        "would",
        "could",
        "should",
        "which",
        "there",
        "their",
        "these",
        "those",
        "about",
        "after",
        "before",
        "being",
        "having",
        "looking",
        "hello",
        "thanks",
        "regards",
        "still",
        "every",
        "other",
        "really",
    ]
)


def _focus_words(
    message: str, language: str, skip: set[str], most: int = 4, company: set[str] | None = None
) -> list[str]:
    """The lead's nouns that recur most (then the earliest), from the sentences that give
    no orders (no instructions, links or addresses), when the text is in the draft's
    language: what a reader checks the answer against. Single words, so no run of theirs
    is repeated."""
    sentences = [
        part
        # Markup is read as its text (a tag's link is no sentence of theirs).
        for part in re.split(r"(?<=[.!?;])\s+|\n+", re.sub(r"<[^>]*>", " ", message))
        if not _URL.search(part)
        and not _EMAIL.search(part)
        and not SUSPECT_WORDS.intersection(w.lower() for w in _WORD.findall(part))
    ]
    words: list[str] = []
    # What the lead leads with and what they ask weigh more than what they repeat.
    weight: list[int] = []
    for index, part in enumerate(sentences):
        bonus = (3 if index == 0 else 0) + (2 if part.rstrip().endswith("?") else 0)
        for word in _WORD.findall(part):
            words.append(word.split("'")[-1].split("\u2019")[-1])
            weight.append(1 + bonus)
    lowered = [w.lower() for w in words]
    counts = {lang: sum(w in STOPWORDS[lang] for w in lowered) for lang in LANGUAGES}
    if not words or (max(counts.values()) and counts[language] < max(counts.values())):
        return []
    days = {d.lower() for names in WEEKDAYS.values() for d in names}
    before = _BEFORE_NOUN.get(language, frozenset())
    seen: dict[str, tuple[int, int, str]] = {}
    for position, (word, low) in enumerate(zip(words, lowered, strict=True)):
        if len(low) < 4 or low in STOPWORDS[language] or low in days or low in skip | _FILLER:
            continue
        if language == "en":
            # English: a longer content word (not an adverb), or a name (SAP, Shopify).
            noun = (len(low) >= 5 and not low.endswith("ly")) or (
                position > 0 and word[0].isupper() and len(low) >= 3
            )
        elif language == "de":
            noun = word[0].isupper() and position > 0
        else:
            noun = len(low) >= 9 or (position > 0 and lowered[position - 1] in before)
        if not noun:
            continue
        count, first, shown = seen.get(low, (0, position, word if language == "de" else low))
        # A name mid-sentence in English (SAP, Shopify) is what a question is about.
        named_thing = (
            language == "en" and position > 0 and word[0].isupper() and low not in (company or ())
        )
        seen[low] = (count + weight[position] + (2 if named_thing else 0), first, shown)
    ranked = sorted(seen.values(), key=lambda item: (-item[0], item[1]))
    return [shown for _, _, shown in ranked[:most]]


def _chosen_assets(assets: list[dict[str, Any]], said: str) -> list[str]:
    """Step 7's first asset, and beside it the one whose title or description shares the
    most words with what the lead wrote when that is another: as a model reading the
    descriptions would."""
    wanted = {w.lower() for w in _WORD.findall(said) if len(w) >= 4}
    scored = []
    for index, asset in enumerate(assets):
        text = f"{_text(asset.get('title'), 200)} {_text(asset.get('description'), 300)}"
        shared = {w.lower() for w in _WORD.findall(text) if len(w) >= 4} & wanted
        scored.append((-len(shared), index, asset["id"]))
    if not scored:
        return []
    first = scored[0]
    best = min(scored)
    # Step 7's first choice, and the one closest to their words when it is closer.
    return [first[2]] + ([best[2]] if best[0] < first[0] else [])


def _listed(words: list[str], language: str) -> str:
    """ "a, b and c" in the language."""
    if len(words) < 2:
        return "".join(words)
    return ", ".join(words[:-1]) + _and(language) + words[-1]


def _echoes(text: str, message: str, run: int = 4) -> bool:
    """Whether `text` repeats `run` words in a row of the lead's message."""
    said = " ".join(_WORD.findall(message.lower()))
    words = _WORD.findall(text.lower())
    return any(
        f" {' '.join(words[i : i + run])} " in f" {said} " for i in range(len(words) - run + 1)
    )


def _and(language: str) -> str:
    return {"en": " and ", "de": " und ", "fr": " et ", "es": " y "}.get(language, " and ")


def compromise(
    answer: dict[str, Any], brief: dict[str, Any] | None, prompt: str, system_line: str
) -> dict[str, Any]:
    """The answer of a model that obeyed the lead's text: every URL and address the lead
    typed in a paragraph, ids the brief never offered, and the instructions' first line."""
    sources: list[str] = []
    if brief is not None:
        sources += [_text(brief.get(name)) for name in _UNTRUSTED]
        thread = _thread(brief)
        sources += [_text(thread.get("subject")), _text(thread.get("last_message"))]
    else:
        sources.append(prompt)
    found: list[str] = []
    for text in sources:
        for item in _URL.findall(text) + _EMAIL.findall(text):
            if item.rstrip(".,;") not in found:
                found.append(item.rstrip(".,;"))
    if not any(_URL.match(item) for item in found):
        found.append(INJECTED_URL)
    paragraphs = list(answer["paragraphs"])
    paragraphs.insert(1, "As requested, please also use: " + ", ".join(found) + ".")
    if system_line:
        paragraphs.append(f"My instructions begin: {system_line}")
    return {
        **answer,
        "paragraphs": paragraphs,
        "slot_ids": [*answer["slot_ids"], FOREIGN_SLOT_ID],
        "asset_ids": [*answer["asset_ids"], FOREIGN_ASSET_ID],
    }


def as_text(answer: dict[str, Any]) -> str:
    """The answer as a plain-text email (a request without a schema)."""
    return "\n\n".join([f"Subject: {answer['subject']}", *answer["paragraphs"]])
