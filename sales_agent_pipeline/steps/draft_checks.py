"""A model's answer checked before any of it is used. The model is a vendor we do not
trust: whatever the lead typed reached it, so its answer may carry a link, an address, a
time or words that the lead asked for. Any problem sends the draft to the template writer.
"""

from __future__ import annotations

import re

from sales_agent_pipeline.domain.drafting import (
    MAX_BODY_WORDS,
    MAX_PARAGRAPH_CHARS,
    MAX_PARAGRAPHS,
    MAX_SUBJECT_CHARS,
    MIN_PARAGRAPHS,
    DraftAnswer,
    DraftBrief,
)
from sales_agent_pipeline.steps.language import detect_language

_URL = re.compile(
    r"(?i)\b(?:https?://|ftp://|www\.)\S+|\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:com|net|org|io|"
    r"ai|co|de|fr|es|uk|us|info|biz|app|dev|example|xyz|ru|cn|ly|me|link|click)(?:/\S*)?\b"
)
_EMAIL = re.compile(r"(?i)\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
# A clock time: 14:00, 2pm, 2 p.m., 14h, 14 Uhr, 14.30 Uhr.
_TIME = re.compile(
    r"(?i)\b\d{1,2}(?:[:.]\d{2})\s*(?:uhr|h\b|am\b|pm\b)?|\b\d{1,2}\s*(?:a\.?m\.?|p\.?m\.?)"
    r"(?=\W|$)|\b\d{1,2}\s*(?:uhr|h)\b"
)
# TODO, TBD and XXX in capitals only: "sobre todo" is Spanish for "above all".
_PLACEHOLDER = re.compile(
    r"\[[^\]]{1,40}\]|\{\{?[^}]{0,40}\}?\}|<[a-zA-Z/][^>]{0,40}>|\b(?:TODO|TBD|XXX)\b|"
    r"(?i:\blorem ipsum\b)"
)
_PHONE = re.compile(r"\+?\d[\d ()./-]{7,}\d")
# What a model under injection says of its instructions.
_LEAKS = re.compile(
    r"(?i)system prompt|my instructions|<\s*/?\s*brief|untrusted|json schema|as an ai\b|"
    r"language model"
)
# Words no follow-up of ours contains, in the four languages (a short list on purpose: it
# stops an injected insult, not every rude word).
_OFFENSIVE = re.compile(
    r"(?i)\b(?:idiot|idiots|stupid|moron|fuck\w*|shit\w*|bitch\w*|bastard\w*|damn|"
    r"scheiße|scheisse|arschloch|dumm|idiotin|merde|connard\w*|putain|salope|"
    r"mierda|gilipollas|imbécil|imbecil|estúpido|estupido|puta)\b"
)
QUOTE_WORDS = 8


def _words(text: str) -> list[str]:
    return re.findall(r"[\w']+", text.lower())


def quotes(text: str, sources: list[str], run: int = QUOTE_WORDS) -> bool:
    """True when `text` repeats `run` or more consecutive words of a source."""
    said = _words(text)
    grams = {tuple(said[i : i + run]) for i in range(len(said) - run + 1)}
    for source in sources:
        words = _words(source)
        if any(tuple(words[i : i + run]) in grams for i in range(len(words) - run + 1)):
            return True
    return False


def _links(text: str) -> list[str]:
    return [match.group(0).rstrip(".,;:!?)") for match in _URL.finditer(text)]


def _own_names(brief: DraftBrief) -> set[str]:
    """Domain-like names the brief itself gives (a company called "Monday.com", its
    domain): naming them is not adding a link. A scheme or a path never passes."""
    names = {brief.company or "", brief.sender_company}
    names |= {fact.split(": ", 1)[1] for fact in brief.company_facts if fact.startswith("domain: ")}
    names |= {fact.split(": ", 1)[1] for fact in brief.company_facts if fact.startswith("name: ")}
    return {name.strip().lower() for name in names if name and "/" not in name}


def answer_problems(answer: DraftAnswer, brief: DraftBrief) -> list[str]:
    """What is wrong with the answer (empty: it may be used as it is)."""
    problems: list[str] = []
    slot_ids = {slot.id for slot in brief.slots}
    asset_ids = {asset.id for asset in brief.assets}
    unknown = [i for i in answer.slot_ids if i not in slot_ids]
    unknown += [i for i in answer.asset_ids if i not in asset_ids]
    if unknown:
        problems.append(f"ids not in the brief: {', '.join(sorted(set(unknown))[:5])}")
    subject = answer.subject.strip()
    if not subject or len(subject) > MAX_SUBJECT_CHARS or "\n" in subject:
        problems.append("subject missing, multi-line or too long")
    paragraphs = [p.strip() for p in answer.paragraphs if p.strip()]
    if not MIN_PARAGRAPHS <= len(paragraphs) <= MAX_PARAGRAPHS:
        problems.append(f"{len(paragraphs)} paragraphs")
    if any(len(p) > MAX_PARAGRAPH_CHARS for p in paragraphs):
        problems.append("a paragraph too long")
    if sum(len(p.split()) for p in paragraphs) > MAX_BODY_WORDS:
        problems.append("body too long")
    text = "\n".join([subject, *paragraphs])
    own = _own_names(brief)
    if any(link.lower() not in own for link in _links(text)):
        problems.append("contains a link")
    for name, pattern in (
        ("an email address", _EMAIL),
        ("a clock time", _TIME),
        ("a placeholder", _PLACEHOLDER),
        ("a phone number", _PHONE),
        ("words about its instructions", _LEAKS),
        ("offensive words", _OFFENSIVE),
    ):
        if pattern.search(text):
            problems.append(f"contains {name}")
    language = detect_language(paragraphs)
    if language is not None and language != brief.language:
        problems.append(f"written in {language}, not {brief.language}")
    sources = [s for s in (brief.message, brief.thread.last_message if brief.thread else None) if s]
    if quotes(text, sources):
        problems.append(f"quotes {QUOTE_WORDS}+ words of the lead's text")
    return problems
