"""Drive v3 search (`q`) and partial-response (`fields`) parsing.

Matching follows Drive's documented rules for `contains`: `name contains` matches word
prefixes ('Hello' finds "HelloWorld", 'World' does not), every word of the value must
prefix a word of the name; `fullText contains` matches whole alphanumeric words of the
file's indexed text (its name, description and content), every word of the value, and a
value in double quotes matches only that exact run of words. All matching ignores case.

Relevance (the order of a `fullText` query that has no `orderBy`; Drive does not publish
its ranking, so this is ours): each `fullText` value scores, per field it matches in,
3 for the name, 2 for the description, and 1 per occurrence in the content (at most 3);
a quoted phrase scores double. Ties go to the most recently modified file, then the id.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from .errors import GoogleError
from .state import DriveFile, parse_time

FilePredicate = Callable[[DriveFile], bool]
FieldTree = dict[str, "FieldTree | None"]

_TOKEN = re.compile(
    r"\s*('(?:[^'\\]|\\.)*'|!=|<=|>=|=|<|>|\(|\)|[A-Za-z_][A-Za-z0-9_.]*|-?\d+(?:\.\d+)?)"
)
_KEYWORDS = {"and", "or", "not", "in", "contains", "has"}
_COMPARE = {"=", "!=", "<", "<=", ">", ">="}


def _invalid_q() -> GoogleError:
    return GoogleError(400, "Invalid Value", "invalid", location="q")


def _tokens(query: str) -> list[str]:
    tokens: list[str] = []
    pos = 0
    while pos < len(query):
        if query[pos:].strip() == "":
            break
        match = _TOKEN.match(query, pos)
        if not match:
            raise _invalid_q()
        tokens.append(match.group(1))
        pos = match.end()
    return tokens


def _string(token: str) -> str:
    if len(token) < 2 or not (token.startswith("'") and token.endswith("'")):
        raise _invalid_q()
    return re.sub(r"\\(.)", r"\1", token[1:-1])


def words(text: str | None) -> list[str]:
    """Drive's tokens: runs of letters and digits, lower-cased (so "Hello_world" is two)."""
    return list(_tokens_of(text or ""))


@functools.lru_cache(maxsize=4096)
def _tokens_of(text: str) -> tuple[str, ...]:
    # Every query tokenises every candidate file's name, description and content again:
    # cached, a search costs the sandbox's CPU (shared with the stack in benchmarks) little.
    return tuple(re.findall(r"[^\W_]+", text.lower()))


def _words_start_with(text: str, value: str) -> bool:
    # Drive's `name contains` matches word prefixes, not arbitrary substrings.
    wanted = words(value)
    if not wanted:
        return text.lower().startswith(value.lower())
    have = words(text)
    return all(any(w.startswith(p) for w in have) for p in wanted)


def _phrase(value: str) -> tuple[list[str], bool]:
    """The value's words, and whether it is a double-quoted exact phrase."""
    stripped = value.strip()
    quoted = len(stripped) > 1 and stripped.startswith('"') and stripped.endswith('"')
    return words(stripped[1:-1] if quoted else stripped), quoted


def _count(field: list[str], wanted: list[str], quoted: bool) -> int:
    """How often the value occurs in one field's words (a phrase: as a contiguous run)."""
    if not wanted:
        return 0
    if quoted:
        size = len(wanted)
        return sum(field[i : i + size] == wanted for i in range(len(field) - size + 1))
    if not all(w in field for w in wanted):
        return 0
    return min(field.count(w) for w in wanted)


def _fields(file: DriveFile) -> list[list[str]]:
    return [words(file.name), words(file.description), words(file.content)]


def full_text_matches(file: DriveFile, value: str) -> bool:
    """`fullText contains value`: whole words anywhere in the indexed text; a quoted
    phrase within one field."""
    wanted, quoted = _phrase(value)
    if not wanted:
        return False
    fields = _fields(file)
    if quoted:
        return any(_count(field, wanted, True) for field in fields)
    indexed = {w for field in fields for w in field}
    return all(w in indexed for w in wanted)


def relevance(file: DriveFile, values: list[str]) -> float:
    """The sandbox's relevance of a file to a query's `fullText` values (module docstring)."""
    score = 0.0
    name, description, content = _fields(file)
    for value in values:
        wanted, quoted = _phrase(value)
        hits = 3.0 * bool(_count(name, wanted, quoted))
        hits += 2.0 * bool(_count(description, wanted, quoted))
        hits += float(min(_count(content, wanted, quoted), 3))
        score += hits * (2.0 if quoted else 1.0)
    return score


def _compare(left: Any, op: str, right: Any) -> bool:
    if op == "=":
        return bool(left == right)
    if op == "!=":
        return bool(left != right)
    if op == "<":
        return bool(left < right)
    if op == "<=":
        return bool(left <= right)
    if op == ">":
        return bool(left > right)
    return bool(left >= right)


class _Parser:
    def __init__(self, tokens: list[str], viewer: str | None) -> None:
        self.tokens = tokens
        self.pos = 0
        self.viewer = viewer
        # The `fullText` values, for the relevance order.
        self.full_text: list[str] = []

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> str:
        if self.pos >= len(self.tokens):
            raise _invalid_q()
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def keyword(self, word: str) -> bool:
        token = self.peek()
        if token is not None and token.lower() == word:
            self.pos += 1
            return True
        return False

    def disjunction(self) -> FilePredicate:
        items = [self.conjunction()]
        while self.keyword("or"):
            items.append(self.conjunction())
        return items[0] if len(items) == 1 else (lambda f: any(p(f) for p in items))

    def conjunction(self) -> FilePredicate:
        items = [self.negation()]
        while self.keyword("and"):
            items.append(self.negation())
        return items[0] if len(items) == 1 else (lambda f: all(p(f) for p in items))

    def negation(self) -> FilePredicate:
        if self.keyword("not"):
            inner = self.negation()
            return lambda f: not inner(f)
        if self.peek() == "(":
            self.take()
            inner = self.disjunction()
            if self.take() != ")":
                raise _invalid_q()
            return inner
        return self.term()

    def term(self) -> FilePredicate:
        first = self.take()
        if first.startswith("'"):
            value = _string(first)
            if not self.keyword("in"):
                raise _invalid_q()
            collection = self.take().lower()
            if collection == "parents":
                return lambda f: value in f.parents
            if collection == "owners":
                return lambda f: value.lower() == f.owner_email.lower()
            if collection in ("writers", "readers"):
                who = value.lower()
                return lambda f: who == f.owner_email.lower() or who in f.shared_with
            raise _invalid_q()
        field = first
        if self.keyword("contains"):
            text = _string(self.take())
            if field == "name":
                return lambda f: _words_start_with(f.name, text)
            if field == "fullText":
                self.full_text.append(text)
                return lambda f: full_text_matches(f, text)
            if field == "mimeType":
                return lambda f: text in f.mime_type
            raise _invalid_q()
        op = self.take()
        if op not in _COMPARE:
            raise _invalid_q()
        return self._comparison(field, op, self.take())

    def _comparison(self, field: str, op: str, raw: str) -> FilePredicate:
        if field in ("trashed", "starred", "sharedWithMe"):
            if raw.lower() not in ("true", "false") or op not in ("=", "!="):
                raise _invalid_q()
            flag = raw.lower() == "true"
            if field == "sharedWithMe":
                # Shared with the caller directly, not its own (anonymous: nothing is).
                viewer = self.viewer
                return lambda f: _compare(
                    viewer is not None
                    and f.owner_email.lower() != viewer
                    and viewer in f.shared_with,
                    op,
                    flag,
                )
            flag_attr = field
            return lambda f: _compare(bool(getattr(f, flag_attr)), op, flag)
        value = _string(raw)
        if field in ("name", "mimeType"):
            attr = "name" if field == "name" else "mime_type"
            if op not in ("=", "!="):
                raise _invalid_q()
            return lambda f: _compare(getattr(f, attr), op, value)
        if field in ("modifiedTime", "createdTime"):
            try:
                moment: datetime = parse_time(value)
            except ValueError as exc:
                raise _invalid_q() from exc
            attr = "modified_time" if field == "modifiedTime" else "created_time"
            return lambda f: _compare(getattr(f, attr), op, moment)
        raise _invalid_q()


def compile_search(query: str | None, viewer: str | None = None) -> tuple[FilePredicate, list[str]]:
    """Compile a Drive `q` string into a predicate over files, as `viewer` asks it, and
    the values of its `fullText` terms (none: the query has no full-text part)."""
    if not query or not query.strip():
        return (lambda f: True), []
    parser = _Parser(_tokens(query), viewer)
    predicate = parser.disjunction()
    if parser.peek() is not None:
        raise _invalid_q()
    return predicate, parser.full_text


def compile_q(query: str | None, viewer: str | None = None) -> FilePredicate:
    """Compile a Drive `q` string into a predicate over files, as `viewer` asks it."""
    return compile_search(query, viewer)[0]


def parse_fields(spec: str) -> FieldTree:
    """Parse a partial-response selector like `nextPageToken, files(id, name)`."""
    tree: FieldTree = {}
    pos = _parse_list(spec.replace(" ", ""), 0, tree)
    if pos != len(spec.replace(" ", "")):
        raise GoogleError(
            400, f"Invalid field selection {spec}", "invalidParameter", location="fields"
        )
    return tree


def _parse_list(spec: str, pos: int, tree: FieldTree) -> int:
    while pos < len(spec):
        match = re.compile(r"[A-Za-z_*][A-Za-z0-9_/*]*").match(spec, pos)
        if not match:
            raise GoogleError(
                400, f"Invalid field selection {spec}", "invalidParameter", location="fields"
            )
        path = match.group(0).split("/")
        pos = match.end()
        node = tree
        for name in path[:-1]:
            child = node.get(name)
            if child is None:
                child = {}
                node[name] = child
            node = child
        leaf = path[-1]
        if pos < len(spec) and spec[pos] == "(":
            sub: FieldTree = {}
            pos = _parse_list(spec, pos + 1, sub)
            if pos >= len(spec) or spec[pos] != ")":
                raise GoogleError(
                    400, f"Invalid field selection {spec}", "invalidParameter", location="fields"
                )
            pos += 1
            node[leaf] = sub
        else:
            node[leaf] = None
        if pos < len(spec) and spec[pos] == ",":
            pos += 1
        elif pos < len(spec) and spec[pos] == ")":
            return pos
    return pos


def check_fields(tree: FieldTree, allowed: set[str], nested: dict[str, set[str]]) -> None:
    """Reject unknown field names, as the real API does, so typos surface in tests."""
    for name, sub in tree.items():
        if name != "*" and name not in allowed:
            raise GoogleError(
                400, f"Invalid field selection {name}", "invalidParameter", location="fields"
            )
        if sub is not None and name in nested:
            check_fields(sub, nested[name], {})


def select(data: Any, tree: FieldTree | None) -> Any:
    """Keep only the selected fields of a response."""
    if tree is None or "*" in tree:
        return data
    if isinstance(data, list):
        return [select(item, tree) for item in data]
    if not isinstance(data, dict):
        return data
    return {name: select(data[name], sub) for name, sub in tree.items() if name in data}
