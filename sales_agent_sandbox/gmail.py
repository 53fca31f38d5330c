"""Gmail v1: threads, messages, drafts and labels, over stored RFC 2822 messages."""

from __future__ import annotations

import base64
import functools
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query

from . import gmail_changes as changes
from . import gmail_mime as mime
from .deps import GmailUser, StoreDep
from .errors import GoogleError
from .gmail_query import (
    Searchable,
    address_terms,
    compile_query,
    label_key,
    mentions_spam_or_trash,
)
from .state import GmailMessage, Mailbox, Store

router = APIRouter(tags=["gmail"])

API = "/gmail/v1/users/{user_id}"
JsonBody = Annotated[dict[str, Any], Body()]
_NOT_FOUND = "Requested entity was not found."
FORMATS = {"full", "metadata", "minimal", "raw"}


def not_found() -> GoogleError:
    """Return Gmail's 404 for an unknown id."""
    return GoogleError(404, _NOT_FOUND, "notFound")


def page_offset(token: str | None) -> int:
    """Decode a page token into a list offset."""
    if not token:
        return 0
    try:
        return int(base64.urlsafe_b64decode(token.encode()).decode())
    except ValueError as exc:
        raise GoogleError(
            400, "Invalid pageToken", "invalidArgument", location="pageToken"
        ) from exc


def page_token_for(offset: int) -> str:
    """Encode a list offset as an opaque page token."""
    return base64.urlsafe_b64encode(str(offset).encode()).decode()


@functools.lru_cache(maxsize=65_536)
def _parsed(raw: bytes) -> tuple[str, str, str, str, str, str, str, bool]:
    # A search looks at every message of the mailbox; parsing each one's MIME again per
    # query made threads.list take seconds once a bulk import had written a few hundred
    # drafts. A message's bytes never change (an update stores new bytes).
    msg = mime.parse(raw)
    return (
        mime.header(msg, "From").lower(),
        mime.header(msg, "To").lower(),
        mime.header(msg, "Cc").lower(),
        mime.header(msg, "Bcc").lower(),
        mime.header(msg, "Subject").lower(),
        mime.body_text(msg).lower(),
        mime.header(msg, "Message-ID"),
        any(part.get_filename() for part in msg.walk()),
    )


def _searchable(box: Mailbox, message: GmailMessage) -> Searchable:
    sender, to, cc, bcc, subject, text, message_id, attached = _parsed(message.raw)
    labels = {label_id.lower() for label_id in message.label_ids}
    labels |= {label_key(box.labels[i].name) for i in message.label_ids if i in box.labels}
    return Searchable(
        sender=sender,
        to=to,
        cc=cc,
        bcc=bcc,
        subject=subject,
        text=text,
        labels=labels,
        date_ms=message.internal_date,
        message_id=message_id,
        has_attachment=attached,
    )


def _names(message: GmailMessage, terms: list[tuple[str, str]]) -> bool:
    sender, to, cc, bcc = _parsed(message.raw)[:4]
    return any(
        value in sender if key == "from" else value in to or value in cc or value in bcc
        for key, value in terms
    )


def _thread_messages(box: Mailbox, thread_id: str) -> list[GmailMessage]:
    if thread_id not in box.threads:
        raise not_found()
    messages = [box.messages[i] for i in box.threads[thread_id]]
    return sorted(messages, key=lambda m: m.internal_date)


def _joins_thread(box: Mailbox, thread_id: str, raw: bytes) -> bool:
    # Gmail only threads a message if it replies to one in the thread and keeps its subject.
    msg = mime.parse(raw)
    members = [mime.parse(m.raw) for m in _thread_messages(box, thread_id)]
    if not members:
        return False
    ids = {mime.header(m, "Message-ID") for m in members}
    same_subject = mime.normal_subject(mime.header(msg, "Subject")) == mime.normal_subject(
        mime.header(members[0], "Subject")
    )
    return same_subject and bool(mime.referenced_ids(msg) & ids)


def store_message(
    store: Store,
    box: Mailbox,
    raw: bytes,
    labels: list[str],
    thread_id: str | None = None,
    *,
    keep_thread: bool = False,
    message_id: str | None = None,
    new_thread_id: str | None = None,
    indexed_by_date: bool = False,
) -> GmailMessage:
    """Insert an RFC 2822 message, threading it as Gmail would.

    `message_id` and `new_thread_id` let seeds give stable ids; API calls leave them out.
    A written message reaches the search index now (q= searches see it once the configured
    lag has passed); seeded history with `indexed_by_date` arrived at its Date.
    """
    raw = mime.complete_headers(raw, box.email)
    if thread_id and thread_id not in box.threads:
        raise not_found()
    if not (thread_id and (keep_thread or _joins_thread(box, thread_id, raw))):
        thread_id = None
    message_id = message_id or store.gmail_id()
    internal_date = mime.internal_date(mime.parse(raw))
    now = time.time()
    message = GmailMessage(
        id=message_id,
        thread_id=thread_id or new_thread_id or message_id,
        raw=raw,
        label_ids=labels,
        internal_date=internal_date,
        history_id=0,
        indexed_at=min(now, internal_date / 1000) if indexed_by_date else now,
    )
    box.messages[message.id] = message
    box.threads.setdefault(message.thread_id, []).append(message.id)
    changes.record(store, box, added=[message])
    return message


def remove_message(store: Store, box: Mailbox, message_id: str) -> None:
    """Delete a message, and its thread when it was the last one."""
    message = box.messages.pop(message_id)
    members = box.threads.get(message.thread_id, [])
    if message_id in members:
        members.remove(message_id)
    if not members:
        box.threads.pop(message.thread_id, None)
    changes.record(store, box, deleted=[message])


def thread_replied_to(box: Mailbox, raw: bytes) -> str | None:
    """The thread of the message this one replies to (In-Reply-To or References naming its
    Message-ID, with the same subject but for Re:/Fwd:), as Gmail threads incoming mail."""
    msg = mime.parse(raw)
    wanted = mime.referenced_ids(msg)
    if not wanted:
        return None
    subject = mime.normal_subject(mime.header(msg, "Subject"))
    for message in sorted(box.messages.values(), key=lambda m: m.internal_date, reverse=True):
        if _parsed(message.raw)[6] in wanted:
            theirs = mime.normal_subject(mime.header(mime.parse(message.raw), "Subject"))
            if theirs == subject:
                return message.thread_id
    return None


def _thread_json(
    box: Mailbox, thread_id: str, fmt: str, headers: list[str] | None
) -> dict[str, Any]:
    messages = _thread_messages(box, thread_id)
    return {
        "id": thread_id,
        "historyId": str(max(m.history_id for m in messages)),
        "messages": [mime.message_json(m, fmt, headers) for m in messages],
    }


def brief(message: GmailMessage) -> dict[str, Any]:
    """Serialise a message as id, threadId and labelIds only."""
    return {"id": message.id, "threadId": message.thread_id, "labelIds": list(message.label_ids)}


@dataclass(frozen=True)
class Search:
    """One list call's filter: q, labelIds, spam and trash, and the search index's lag."""

    q: str | None
    label_ids: frozenset[str]
    include_spam_trash: bool
    # Messages indexed after this (epoch seconds) are not found by q yet; None: no q.
    horizon: float | None

    @classmethod
    def of(
        cls, store: Store, q: str | None, label_ids: list[str] | None, include_spam_trash: bool
    ) -> Search:
        """The filter of a list call; the index lag applies only when it searches (q)."""
        searching = bool(q and q.strip())
        return cls(
            q,
            frozenset(label_ids or []),
            include_spam_trash or mentions_spam_or_trash(q),
            time.time() - store.config.gmail_lag if searching else None,
        )

    def candidates(self, box: Mailbox) -> Iterable[GmailMessage]:
        """The messages that can match: only those naming an address the query asks for.

        A cheap look at the headers first, the whole predicate on those only (under the
        store's lock, a full scan per search slowed every request of a bulk import as its
        drafts piled up: ~100 ms a search at 8,000).
        """
        terms = address_terms(self.q)
        messages = box.messages.values()
        return messages if terms is None else [m for m in messages if _names(m, terms)]

    def matcher(self, box: Mailbox) -> Callable[[GmailMessage], bool]:
        """Whether a message of this mailbox is found by this filter."""
        predicate = compile_query(self.q)

        def found(message: GmailMessage) -> bool:
            labels = set(message.label_ids)
            return (
                (self.include_spam_trash or not {"SPAM", "TRASH"} & labels)
                and self.label_ids <= labels
                and (self.horizon is None or message.indexed_at <= self.horizon)
                and predicate(_searchable(box, message))
            )

        return found


def page(
    items: list[Any], page_token: str | None, max_results: int
) -> tuple[list[Any], str | None]:
    """One page of a list, and the token of the next one (None on the last)."""
    start = page_offset(page_token)
    more = start + max_results < len(items)
    return items[start : start + max_results], page_token_for(start + max_results) if more else None


@router.get(f"{API}/threads")
def list_threads(
    user_id: GmailUser,
    store: StoreDep,
    q: str | None = None,
    label_ids: Annotated[list[str] | None, Query(alias="labelIds")] = None,
    max_results: Annotated[int, Query(alias="maxResults", ge=1, le=500)] = 100,
    page_token: Annotated[str | None, Query(alias="pageToken")] = None,
    include_spam_trash: Annotated[bool, Query(alias="includeSpamTrash")] = False,
) -> dict[str, Any]:
    """List threads with a message matching `q` and `labelIds`, most recent first."""
    search = Search.of(store, q, label_ids, include_spam_trash)
    with store.locked():
        box = store.mailbox(user_id)
        found_in = search.matcher(box)
        named = {m.thread_id for m in search.candidates(box)}
        found: list[tuple[int, str, GmailMessage]] = []
        for thread_id in [t for t in box.threads if t in named]:
            messages = _thread_messages(box, thread_id)
            if any(found_in(m) for m in messages):
                found.append((messages[-1].internal_date, thread_id, messages[-1]))
    found.sort(key=lambda item: item[0], reverse=True)
    shown, next_token = page(found, page_token, max_results)
    body: dict[str, Any] = {"resultSizeEstimate": len(found)}
    if shown:
        body["threads"] = [
            {
                "id": tid,
                "snippet": mime.snippet(mime.parse(last.raw)),
                "historyId": str(last.history_id),
            }
            for _, tid, last in shown
        ]
    if next_token:
        body["nextPageToken"] = next_token
    return body


@router.get(f"{API}/messages")
def list_messages(
    user_id: GmailUser,
    store: StoreDep,
    q: str | None = None,
    label_ids: Annotated[list[str] | None, Query(alias="labelIds")] = None,
    max_results: Annotated[int, Query(alias="maxResults", ge=1, le=500)] = 100,
    page_token: Annotated[str | None, Query(alias="pageToken")] = None,
    include_spam_trash: Annotated[bool, Query(alias="includeSpamTrash")] = False,
) -> dict[str, Any]:
    """List messages matching `q` and `labelIds`, most recent first."""
    search = Search.of(store, q, label_ids, include_spam_trash)
    with store.locked():
        box = store.mailbox(user_id)
        found_in = search.matcher(box)
        found = [m for m in search.candidates(box) if found_in(m)]
    found.sort(key=lambda m: m.internal_date, reverse=True)
    shown, next_token = page(found, page_token, max_results)
    body: dict[str, Any] = {"resultSizeEstimate": len(found)}
    if shown:
        body["messages"] = [{"id": m.id, "threadId": m.thread_id} for m in shown]
    if next_token:
        body["nextPageToken"] = next_token
    return body


@router.get(f"{API}/threads/{{thread_id}}")
def get_thread(
    user_id: GmailUser,
    thread_id: str,
    store: StoreDep,
    format: str = "full",
    metadata_headers: Annotated[list[str] | None, Query(alias="metadataHeaders")] = None,
) -> dict[str, Any]:
    """Return a thread with its messages in the asked format."""
    if format not in {"full", "metadata", "minimal"}:
        raise GoogleError(400, f"Invalid value for format: {format}", "invalidArgument")
    with store.locked():
        return _thread_json(store.mailbox(user_id), thread_id, format, metadata_headers)


@router.post(f"{API}/threads/{{thread_id}}/modify")
def modify_thread(
    user_id: GmailUser, thread_id: str, body: JsonBody, store: StoreDep
) -> dict[str, Any]:
    """Add and remove labels on every message of a thread."""
    add = list(body.get("addLabelIds") or [])
    remove = list(body.get("removeLabelIds") or [])
    with store.locked():
        box = store.mailbox(user_id)
        for label_id in add + remove:
            if label_id not in box.labels:
                raise GoogleError(400, f"Invalid label: {label_id}", "invalidArgument")
        added: list[tuple[GmailMessage, list[str]]] = []
        removed: list[tuple[GmailMessage, list[str]]] = []
        for message in _thread_messages(box, thread_id):
            gone = [x for x in message.label_ids if x in remove]
            labels = [x for x in message.label_ids if x not in remove]
            new = [x for x in dict.fromkeys(add) if x not in labels]
            message.label_ids = labels + new
            if gone:
                removed.append((message, gone))
            if new:
                added.append((message, new))
        if added or removed:
            changes.record(store, box, labels_added=added, labels_removed=removed)
        return _thread_json(box, thread_id, "minimal", None)


@router.get(f"{API}/messages/{{message_id}}")
def get_message(
    user_id: GmailUser,
    message_id: str,
    store: StoreDep,
    format: str = "full",
    metadata_headers: Annotated[list[str] | None, Query(alias="metadataHeaders")] = None,
) -> dict[str, Any]:
    """Return one message in the asked format."""
    if format not in FORMATS:
        raise GoogleError(400, f"Invalid value for format: {format}", "invalidArgument")
    with store.locked():
        box = store.mailbox(user_id)
        if message_id not in box.messages:
            raise not_found()
        return mime.message_json(box.messages[message_id], format, metadata_headers)
