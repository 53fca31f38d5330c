"""A parser for Gmail's search operators (the subset our connectors and tests use)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from .errors import GoogleError


@dataclass
class Searchable:
    """What a Gmail query can look at in one message."""

    sender: str
    to: str
    cc: str
    bcc: str
    subject: str
    text: str
    labels: set[str]
    date_ms: int
    message_id: str
    has_attachment: bool

    def everywhere(self) -> str:
        """Return all searchable text, lower-cased."""
        return " ".join((self.sender, self.to, self.cc, self.subject, self.text)).lower()


Predicate = Callable[[Searchable], bool]
_TOKEN = re.compile(r'\s*(\(|\)|\{|\}|-(?=[({])|(?:-?[A-Za-z_]+:)?(?:"[^"]*"|[^\s(){}"]+)|"[^"]*")')
_IN = {
    "inbox": "INBOX",
    "sent": "SENT",
    "drafts": "DRAFT",
    "draft": "DRAFT",
    "trash": "TRASH",
    "spam": "SPAM",
    "starred": "STARRED",
    "important": "IMPORTANT",
    "chats": "CHAT",
}


def label_key(name: str) -> str:
    """Normalise a label name as Gmail's `label:` operator does (case, spaces, slashes)."""
    return re.sub(r"[\s/]+", "-", name.strip().lower())


def _tokens(query: str) -> list[str]:
    tokens: list[str] = []
    pos = 0
    query = query.strip()
    while pos < len(query):
        match = _TOKEN.match(query, pos)
        if not match or match.end() == pos:
            raise GoogleError(400, f"Invalid query: {query}", "invalidArgument", location="q")
        tokens.append(match.group(1))
        pos = match.end()
        while pos < len(query) and query[pos].isspace():
            pos += 1
    return tokens


def _date_ms(value: str) -> int:
    if value.isdigit():
        return int(value) * 1000
    parts = re.split(r"[/-]", value)
    if len(parts) != 3:
        raise GoogleError(400, f"Invalid date in query: {value}", "invalidArgument", location="q")
    year, month, day = (int(p) for p in parts)
    return int(datetime(year, month, day, tzinfo=UTC).timestamp() * 1000)


def _age_ms(value: str) -> int:
    units = {"h": 3600, "d": 86400, "m": 30 * 86400, "y": 365 * 86400}
    match = re.fullmatch(r"(\d+)([hdmy])", value.lower())
    if not match:
        raise GoogleError(400, f"Invalid age in query: {value}", "invalidArgument", location="q")
    delta = timedelta(seconds=int(match.group(1)) * units[match.group(2)])
    return int((datetime.now(UTC) - delta).timestamp() * 1000)


def _term(token: str) -> Predicate:
    negate = token.startswith("-")
    token = token[1:] if negate else token
    key, sep, value = token.partition(":")
    if not sep or not re.fullmatch(r"[A-Za-z_]+", key):
        key, value = "", token
    key, value = key.lower(), value.strip('"').lower()
    predicate = _operator(key, value)
    return (lambda m: not predicate(m)) if negate else predicate


def _operator(key: str, value: str) -> Predicate:
    if key == "from":
        return lambda m: value in m.sender
    if key in ("to", "deliveredto"):
        return lambda m: value in m.to or value in m.cc or value in m.bcc
    if key in ("cc", "bcc", "subject"):
        return lambda m: value in getattr(m, key)
    if key == "label":
        return lambda m: label_key(value) in m.labels
    if key == "in":
        if value == "anywhere":
            return lambda m: True
        return lambda m: _IN.get(value, value.upper()).lower() in m.labels
    if key == "is":
        if value == "read":
            return lambda m: "unread" not in m.labels
        return lambda m: value in m.labels
    if key == "has":
        return lambda m: m.has_attachment if value == "attachment" else False
    if key in ("after", "newer"):
        return lambda m: m.date_ms >= _date_ms(value)
    if key in ("before", "older"):
        return lambda m: m.date_ms < _date_ms(value)
    if key == "newer_than":
        return lambda m: m.date_ms >= _age_ms(value)
    if key == "older_than":
        return lambda m: m.date_ms < _age_ms(value)
    if key == "rfc822msgid":
        return lambda m: value.strip("<>") == m.message_id.strip("<>").lower()
    text = f"{key}:{value}" if key else value
    return lambda m: text in m.everywhere()


class _Parser:
    def __init__(self, tokens: list[str]) -> None:
        self.tokens = tokens
        self.pos = 0

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> str:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def conjunction(self, closer: str | None) -> Predicate:
        # Gmail binds OR tighter than the implicit AND between terms.
        items: list[Predicate] = []
        while self.peek() is not None and self.peek() != closer:
            if self.peek() == "AND":
                self.take()
                continue
            items.append(self.disjunction())
        return lambda m: all(p(m) for p in items)

    def disjunction(self) -> Predicate:
        items = [self.unary()]
        while self.peek() == "OR":
            self.take()
            items.append(self.unary())
        return items[0] if len(items) == 1 else (lambda m: any(p(m) for p in items))

    def unary(self) -> Predicate:
        if self.peek() is None:
            raise GoogleError(400, "Invalid query", "invalidArgument", location="q")
        piece = self.take()
        if piece == "-":
            inner = self.unary()
            return lambda m: not inner(m)
        if piece in ("(", "{"):
            closer = ")" if piece == "(" else "}"
            if piece == "{":
                items: list[Predicate] = []
                while self.peek() not in (None, "}"):
                    items.append(self.unary())
                group: Predicate = lambda m: any(p(m) for p in items)  # noqa: E731
            else:
                group = self.conjunction(closer)
            if self.peek() != closer:
                raise GoogleError(
                    400, "Invalid query: unbalanced brackets", "invalidArgument", location="q"
                )
            self.take()
            return group
        return _term(piece)


def compile_query(query: str | None) -> Predicate:
    """Compile a Gmail `q` string into a predicate over one message."""
    if not query or not query.strip():
        return lambda m: True
    parser = _Parser(_tokens(query))
    predicate = parser.conjunction(None)
    if parser.peek() is not None:
        raise GoogleError(
            400, "Invalid query: unbalanced brackets", "invalidArgument", location="q"
        )
    return predicate


def address_terms(query: str | None) -> list[tuple[str, str]] | None:
    """The (from|to, value) terms of a query made only of them and OR; None for any other.

    Such a query (the connector's `from:x OR to:x`) can only match a message whose headers
    contain one of the values: threads.list checks those first instead of every predicate.
    """
    if not query or not query.strip():
        return None
    terms: list[tuple[str, str]] = []
    for term in _tokens(query):
        if term == "OR":
            continue
        key, sep, value = term.partition(":")
        if not sep or key.lower() not in ("from", "to") or not value.strip('"'):
            return None
        terms.append((key.lower(), value.strip('"').lower()))
    return terms or None


def mentions_spam_or_trash(query: str | None) -> bool:
    """Tell whether a query asks for trash or spam, which threads.list otherwise hides."""
    return bool(query and re.search(r"\bin:(trash|spam|anywhere)\b", query, re.IGNORECASE))
