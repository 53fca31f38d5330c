"""Gmail v1 sync: users.getProfile, users.history.list, users.watch and users.stop.

history.list answers the records strictly after startHistoryId, oldest first; a start id
older than the mailbox's retained history is Gmail's 404 (the client must resync in full).
"""

from __future__ import annotations

import base64
import re
import time
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Response

from . import gmail_changes as changes
from .deps import GmailUser, StoreDep
from .errors import GoogleError
from .gmail import API, not_found
from .state import GmailWatch, HistoryChange, HistoryRecord, Mailbox

router = APIRouter(tags=["gmail"])

JsonBody = Annotated[dict[str, Any], Body()]
HISTORY_TYPES = ("messageAdded", "messageDeleted", "labelAdded", "labelRemoved")
WATCH_DAYS = 7
_TOPIC = re.compile(r"^projects/[^/\s]+/topics/[^/\s]+$")


def _bad(message: str, location: str | None = None) -> GoogleError:
    return GoogleError(400, message, "invalidArgument", location=location)


def _start_id(value: str | None) -> int:
    if value is None or not value.strip():
        raise _bad("Missing required parameter: startHistoryId", "startHistoryId")
    if not value.strip().isdigit():
        raise _bad(
            f"Invalid value at 'start_history_id' (TYPE_UINT64), \"{value}\"", "startHistoryId"
        )
    return int(value)


def _after_token(token: str | None) -> int:
    if not token:
        return 0
    try:
        return int(base64.urlsafe_b64decode(token.encode()).decode())
    except ValueError as exc:
        raise _bad("Invalid pageToken", "pageToken") from exc


def _token(after: int) -> str:
    return base64.urlsafe_b64encode(str(after).encode()).decode()


def _message(change: HistoryChange, labels: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {"id": change.message_id, "threadId": change.thread_id}
    if labels:
        body["labelIds"] = list(change.label_ids)
    return body


def _record_json(
    entry: HistoryRecord, types: set[str], label_id: str | None
) -> dict[str, Any] | None:
    """One History in Gmail's shape, or None when the filters leave nothing of it."""

    def kept(found: list[HistoryChange]) -> list[HistoryChange]:
        return [c for c in found if label_id is None or label_id in (*c.label_ids, *c.changed)]

    parts: dict[str, list[dict[str, Any]]] = {}
    touched: list[HistoryChange] = []
    if "messageAdded" in types and (added := kept(entry.added)):
        parts["messagesAdded"] = [{"message": _message(c)} for c in added]
        touched += added
    if "messageDeleted" in types and (deleted := kept(entry.deleted)):
        parts["messagesDeleted"] = [{"message": _message(c, labels=False)} for c in deleted]
        touched += deleted
    if "labelAdded" in types and (labelled := kept(entry.labels_added)):
        parts["labelsAdded"] = [{"message": _message(c), "labelIds": c.changed} for c in labelled]
        touched += labelled
    if "labelRemoved" in types and (unlabelled := kept(entry.labels_removed)):
        parts["labelsRemoved"] = [
            {"message": _message(c), "labelIds": c.changed} for c in unlabelled
        ]
        touched += unlabelled
    if not parts:
        return None
    seen: dict[str, HistoryChange] = {}
    for change in touched:
        seen.setdefault(change.message_id, change)
    messages = [_message(c, labels=False) for c in seen.values()]
    return {"id": str(entry.id), "messages": messages, **parts}


@router.get(f"{API}/profile")
def get_profile(user_id: GmailUser, store: StoreDep) -> dict[str, Any]:
    """The mailbox's address, message and thread counts, and its current history id."""
    with store.locked():
        box = store.mailbox(user_id)
        return {
            "emailAddress": box.email,
            "messagesTotal": len(box.messages),
            "threadsTotal": len(box.threads),
            "historyId": str(box.history_id),
        }


@router.get(f"{API}/history")
def list_history(
    user_id: GmailUser,
    store: StoreDep,
    start_history_id: Annotated[str | None, Query(alias="startHistoryId")] = None,
    history_types: Annotated[list[str] | None, Query(alias="historyTypes")] = None,
    label_id: Annotated[str | None, Query(alias="labelId")] = None,
    max_results: Annotated[int, Query(alias="maxResults", ge=1, le=500)] = 100,
    page_token: Annotated[str | None, Query(alias="pageToken")] = None,
) -> dict[str, Any]:
    """The mailbox's changes after startHistoryId, oldest first, paged by maxResults."""
    start = _start_id(start_history_id)
    types = set(history_types or HISTORY_TYPES)
    unknown = sorted(types - set(HISTORY_TYPES))
    if unknown:
        raise _bad(f"Invalid value for historyTypes: {unknown[0]}", "historyTypes")
    after = max(start, _after_token(page_token))
    with store.locked():
        box = store.mailbox(user_id)
        changes.prune(store, box)
        if start < box.history_floor:
            raise not_found()
        shown: list[dict[str, Any]] = []
        more = False
        for entry in box.history:
            if entry.id <= after:
                continue
            found = _record_json(entry, types, label_id)
            if found is None:
                continue
            if len(shown) == max_results:
                more = True
                break
            shown.append(found)
        body: dict[str, Any] = {}
        if shown:
            body["history"] = shown
        if more:
            body["nextPageToken"] = _token(int(shown[-1]["id"]))
        body["historyId"] = str(box.history_id)
        return body


def _watch(box: Mailbox, body: dict[str, Any]) -> GmailWatch:
    topic = body.get("topicName")
    if not isinstance(topic, str) or not topic.strip():
        raise _bad("Invalid topicName: a topic name is required", "topicName")
    if not _TOPIC.match(topic):
        raise _bad(f"Invalid topicName does not match projects/*/topics/*: {topic}", "topicName")
    label_ids = body.get("labelIds") or []
    if not isinstance(label_ids, list) or not all(isinstance(x, str) for x in label_ids):
        raise _bad("Invalid labelIds: a list of label ids is expected", "labelIds")
    for label in label_ids:
        if label not in box.labels:
            raise _bad(f"Invalid label: {label}", "labelIds")
    # labelFilterBehavior replaces the deprecated labelFilterAction; both default to include.
    behavior = body.get("labelFilterBehavior") or body.get("labelFilterAction") or "include"
    if str(behavior).lower() not in ("include", "exclude"):
        raise _bad(f"Invalid labelFilterBehavior: {behavior}", "labelFilterBehavior")
    return GmailWatch(
        topic_name=topic,
        label_ids=list(label_ids),
        label_filter_behavior=str(behavior).lower(),
        expiration_ms=int((time.time() + WATCH_DAYS * 86400) * 1000),
        history_id=box.history_id,
    )


@router.post(f"{API}/watch")
def watch(user_id: GmailUser, body: JsonBody, store: StoreDep) -> dict[str, Any]:
    """Set up (or renew) push notifications of the mailbox's changes to a Pub/Sub topic."""
    with store.locked():
        box = store.mailbox(user_id)
        box.watch = _watch(box, body)
        return {"historyId": str(box.history_id), "expiration": str(box.watch.expiration_ms)}


@router.post(f"{API}/stop", status_code=204)
def stop(user_id: GmailUser, store: StoreDep) -> Response:
    """Stop push notifications for the mailbox."""
    with store.locked():
        store.mailbox(user_id).watch = None
    return Response(status_code=204)
