"""Gmail v1 writes: drafts create/get/update/send/delete and messages.send, JSON or upload."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request

from . import gmail_changes as changes
from . import gmail_mime as mime
from .deps import GmailUser, StoreDep
from .errors import GoogleError
from .gmail import (
    API,
    FORMATS,
    Search,
    brief,
    not_found,
    page,
    remove_message,
    store_message,
)
from .gmail_bounce import bounce_undeliverable
from .state import Mailbox, Store

router = APIRouter(tags=["gmail"])

UPLOAD = "/upload/gmail/v1/users/{user_id}"
JsonBody = Annotated[dict[str, Any], Body()]


def _check_recipients(raw: bytes) -> None:
    if not mime.recipients(mime.parse(raw)):
        raise GoogleError(400, "Recipient address required", "invalidArgument")


async def _upload(request: Request) -> tuple[dict[str, Any], bytes]:
    """Read a media or multipart upload into (JSON metadata, RFC 2822 bytes)."""
    kind = request.query_params.get("uploadType", "media")
    body = await request.body()
    if kind == "media":
        return {}, body
    if kind == "multipart":
        meta, media = mime.split_upload(request.headers.get("content-type", ""), body)
        return (json.loads(meta) if meta.strip() else {}), media
    raise GoogleError(400, f"Unsupported uploadType: {kind}", "invalidArgument")


def _send(store: Store, user_id: str, message_body: dict[str, Any], raw: bytes) -> dict[str, Any]:
    _check_recipients(raw)
    with store.locked():
        box = store.mailbox(user_id)
        message = store_message(store, box, raw, ["SENT"], message_body.get("threadId"))
        message.sent_by_api = True
        answer = brief(message)
        bounce_undeliverable(store, box, message)
        return answer


@router.post(f"{API}/messages/send")
def send_message(user_id: GmailUser, body: JsonBody, store: StoreDep) -> dict[str, Any]:
    """Send a message given as base64url `raw`, optionally in a thread."""
    return _send(store, user_id, body, mime.decode_raw(body.get("raw")))


@router.post(f"{UPLOAD}/messages/send")
async def send_message_upload(
    user_id: GmailUser, request: Request, store: StoreDep
) -> dict[str, Any]:
    """Send a message uploaded as media."""
    meta, raw = await _upload(request)
    return _send(store, user_id, meta, raw)


def _draft_json(box: Mailbox, draft_id: str, fmt: str) -> dict[str, Any]:
    message = box.messages[box.drafts[draft_id]]
    message_body = brief(message) if fmt == "brief" else mime.message_json(message, fmt)
    return {"id": draft_id, "message": message_body}


def _create_draft(
    store: Store, user_id: str, message_body: dict[str, Any], raw: bytes
) -> dict[str, Any]:
    with store.locked():
        box = store.mailbox(user_id)
        message = store_message(store, box, raw, ["DRAFT"], message_body.get("threadId"))
        draft_id = f"r{store.next_int() * 7919 + 1_000_000_000_000_000}"
        box.drafts[draft_id] = message.id
        return _draft_json(box, draft_id, "brief")


@router.post(f"{API}/drafts")
def create_draft(user_id: GmailUser, body: JsonBody, store: StoreDep) -> dict[str, Any]:
    """Create a draft from `message.raw`, in `message.threadId` when it threads."""
    message_body = body.get("message") or {}
    return _create_draft(store, user_id, message_body, mime.decode_raw(message_body.get("raw")))


@router.post(f"{UPLOAD}/drafts")
async def create_draft_upload(
    user_id: GmailUser, request: Request, store: StoreDep
) -> dict[str, Any]:
    """Create a draft uploaded as media."""
    meta, raw = await _upload(request)
    return _create_draft(store, user_id, meta.get("message") or {}, raw)


@router.get(f"{API}/drafts")
def list_drafts(
    user_id: GmailUser,
    store: StoreDep,
    q: str | None = None,
    max_results: Annotated[int, Query(alias="maxResults", ge=1, le=500)] = 100,
    page_token: Annotated[str | None, Query(alias="pageToken")] = None,
    include_spam_trash: Annotated[bool, Query(alias="includeSpamTrash")] = False,
) -> dict[str, Any]:
    """List drafts (those whose message matches `q`, once indexed), newest first."""
    search = Search.of(store, q, None, include_spam_trash)
    with store.locked():
        box = store.mailbox(user_id)
        found_in = search.matcher(box)
        drafts = [
            _draft_json(box, draft_id, "brief")
            for draft_id, message_id in reversed(box.drafts.items())
            if found_in(box.messages[message_id])
        ]
    shown, next_token = page(drafts, page_token, max_results)
    body: dict[str, Any] = {"drafts": shown, "resultSizeEstimate": len(drafts)}
    if next_token:
        body["nextPageToken"] = next_token
    return body


@router.get(f"{API}/drafts/{{draft_id}}")
def get_draft(
    user_id: GmailUser,
    draft_id: str,
    store: StoreDep,
    format: str = "full",
) -> dict[str, Any]:
    """Return a draft with its message in the asked format."""
    if format not in FORMATS:
        raise GoogleError(400, f"Invalid value for format: {format}", "invalidArgument")
    with store.locked():
        box = store.mailbox(user_id)
        if draft_id not in box.drafts:
            raise not_found()
        return _draft_json(box, draft_id, format)


def _update_draft(
    store: Store, user_id: str, draft_id: str, message_body: dict[str, Any], raw: bytes
) -> dict[str, Any]:
    with store.locked():
        box = store.mailbox(user_id)
        if draft_id not in box.drafts:
            raise not_found()
        old = box.messages[box.drafts[draft_id]]
        wanted = message_body.get("threadId")
        # A draft alone in its thread keeps that thread when it is rewritten.
        alone = wanted == old.thread_id and box.threads.get(old.thread_id) == [old.id]
        remove_message(store, box, old.id)
        if alone:
            box.threads[old.thread_id] = []
        message = store_message(store, box, raw, ["DRAFT"], wanted, keep_thread=alone)
        box.drafts[draft_id] = message.id
        return _draft_json(box, draft_id, "brief")


@router.put(f"{API}/drafts/{{draft_id}}")
def update_draft(
    user_id: GmailUser, draft_id: str, body: JsonBody, store: StoreDep
) -> dict[str, Any]:
    """Replace a draft's message."""
    message_body = body.get("message") or {}
    raw = mime.decode_raw(message_body.get("raw"))
    return _update_draft(store, user_id, draft_id, message_body, raw)


@router.put(f"{UPLOAD}/drafts/{{draft_id}}")
async def update_draft_upload(
    user_id: GmailUser, draft_id: str, request: Request, store: StoreDep
) -> dict[str, Any]:
    """Replace a draft's message with an uploaded one."""
    meta, raw = await _upload(request)
    return _update_draft(store, user_id, draft_id, meta.get("message") or {}, raw)


@router.delete(f"{API}/drafts/{{draft_id}}", status_code=204)
def delete_draft(user_id: GmailUser, draft_id: str, store: StoreDep) -> None:
    """Delete a draft and its message."""
    with store.locked():
        box = store.mailbox(user_id)
        if draft_id not in box.drafts:
            raise not_found()
        remove_message(store, box, box.drafts.pop(draft_id))


def _send_draft(
    store: Store, user_id: str, body: dict[str, Any], raw: bytes | None
) -> dict[str, Any]:
    draft_id = str(body.get("id") or "")
    with store.locked():
        box = store.mailbox(user_id)
        if draft_id not in box.drafts:
            raise GoogleError(400, "Invalid draft", "invalidArgument")
        if raw is not None:
            _update_draft(store, user_id, draft_id, body.get("message") or {}, raw)
        message = box.messages[box.drafts[draft_id]]
        _check_recipients(message.raw)
        del box.drafts[draft_id]
        message.label_ids = [x for x in message.label_ids if x != "DRAFT"] + ["SENT"]
        changes.record(
            store, box, labels_removed=[(message, ["DRAFT"])], labels_added=[(message, ["SENT"])]
        )
        message.sent_by_api = True
        answer = brief(message)
        bounce_undeliverable(store, box, message)
        return answer


@router.post(f"{API}/drafts/send")
def send_draft(user_id: GmailUser, body: JsonBody, store: StoreDep) -> dict[str, Any]:
    """Send an existing draft (optionally rewriting its message first)."""
    raw = (body.get("message") or {}).get("raw")
    return _send_draft(store, user_id, body, mime.decode_raw(raw) if raw else None)


@router.post(f"{UPLOAD}/drafts/send")
async def send_draft_upload(
    user_id: GmailUser, request: Request, store: StoreDep
) -> dict[str, Any]:
    """Send a draft whose new message is uploaded as media."""
    meta, raw = await _upload(request)
    return _send_draft(store, user_id, meta, raw)
