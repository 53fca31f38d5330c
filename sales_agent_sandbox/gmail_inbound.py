"""Mail arriving in a mailbox, and its push notifications, under /_sandbox/: what the
outside world would do (a prospect writes or replies, a server bounces), for tests and
the demo.

- POST /gmail/deliver: an inbound message (INBOX, UNREAD), threaded as Gmail would.
- POST /gmail/reply: the recipient of a message in the mailbox answers it.
- POST /gmail/bounce: the mailer-daemon's delivery-status notification for a message.
- POST /gmail/{user}/expire-history: history.list answers 404 for any earlier start id.
- POST /gmail/undeliverable: addresses or "@domains" whose mail bounces at once.
- /pubsub/subscriptions: push subscriptions (topic -> endpoint) for users.watch.
- GET /pubsub/deliveries: what was pushed, and how the endpoint answered.
"""

from __future__ import annotations

import re
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses, make_msgid, parseaddr
from typing import Annotated, Any

from fastapi import APIRouter, Body
from fastapi.responses import JSONResponse

from . import gmail_changes as changes
from . import gmail_mime as mime
from .deps import StoreDep
from .errors import GoogleError
from .gmail import store_message, thread_replied_to
from .gmail_bounce import bounce
from .pubsub import PushSubscription, subscription_name
from .state import GmailMessage, Mailbox, Store, parse_time, utcnow

router = APIRouter(prefix="/_sandbox", tags=["sandbox"])

JsonBody = Annotated[dict[str, Any], Body()]
_EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")
_STATUS = re.compile(r"^[45]\.\d{1,3}\.\d{1,3}$")
_TOPIC = re.compile(r"^projects/[^/\s]+/topics/[^/\s]+$")
_SUBSCRIPTION = re.compile(r"^[A-Za-z][\w.~+%-]{2,254}$")
INBOUND_LABELS = ["INBOX", "UNREAD"]


class _BadInput(ValueError):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def _bad(exc: _BadInput) -> JSONResponse:
    return JSONResponse({"error": str(exc)}, status_code=exc.status)


def _text(body: dict[str, Any], name: str, *, required: bool = False) -> str | None:
    value = body.get(name)
    if value is None or value == "":
        if required:
            raise _BadInput(f"{name} is required")
        return None
    if not isinstance(value, str):
        raise _BadInput(f"{name} must be a string")
    return value


def _address(body: dict[str, Any], name: str, *, required: bool = True) -> str | None:
    value = _text(body, name, required=required)
    if value is None:
        return None
    address = parseaddr(value)[1]
    if not _EMAIL.match(address):
        raise _BadInput(f"{name} must be an email address, not {value!r}")
    return value


def _mailbox_of(store: Store, value: str) -> Mailbox:
    address = parseaddr(value)[1].lower()
    return store.mailbox(address)


def _original(box: Mailbox, body: dict[str, Any]) -> GmailMessage:
    message_id = _text(body, "messageId", required=True)
    found = box.messages.get(str(message_id))
    if found is None:
        raise _BadInput(f"no message {message_id} in {box.email}", 404)
    return found


def _answer(message: GmailMessage) -> dict[str, Any]:
    return {
        "id": message.id,
        "threadId": message.thread_id,
        "historyId": str(message.history_id),
        "labelIds": list(message.label_ids),
        "messageIdHeader": mime.header(mime.parse(message.raw), "Message-ID"),
    }


def _extra_headers(body: dict[str, Any]) -> dict[str, str]:
    extra = body.get("headers") or {}
    if not isinstance(extra, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and "\n" not in k + v for k, v in extra.items()
    ):
        raise _BadInput("headers must map header names to one-line strings")
    return extra


def _labels(body: dict[str, Any], box: Mailbox) -> list[str]:
    labels = body.get("labelIds") or INBOUND_LABELS
    if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
        raise _BadInput("labelIds must be a list of label ids")
    unknown = [x for x in labels if x not in box.labels]
    if unknown:
        raise _BadInput(f"unknown labels in {box.email}: {unknown}")
    return list(labels)


def _compose(body: dict[str, Any], sender: str, to: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    cc = _text(body, "cc")
    if cc:
        msg["Cc"] = cc
    msg["Subject"] = _text(body, "subject") or ""
    date = _text(body, "date")
    try:
        msg["Date"] = format_datetime(parse_time(date) if date else utcnow())
    except ValueError as exc:
        raise _BadInput(f"date must be ISO 8601 or epoch milliseconds: {date!r}") from exc
    domain = parseaddr(sender)[1].rsplit("@", 1)[-1]
    msg["Message-ID"] = _text(body, "messageIdHeader") or make_msgid(domain=domain)
    in_reply_to = _text(body, "inReplyTo")
    references = _text(body, "references") or in_reply_to
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
    if references:
        msg["References"] = references
    for name, value in _extra_headers(body).items():
        msg[name] = value
    msg.set_content(_text(body, "text") or "")
    html = _text(body, "html")
    if html:
        msg.add_alternative(html, subtype="html")
    return msg.as_bytes()


def _arrive(
    store: Store, box: Mailbox, raw: bytes, labels: list[str], thread_id: str | None
) -> GmailMessage:
    if thread_id is not None and thread_id not in box.threads:
        raise _BadInput(f"no thread {thread_id} in {box.email}", 404)
    thread = thread_id or thread_replied_to(box, raw)
    try:
        return store_message(store, box, raw, labels, thread, keep_thread=thread is not None)
    except GoogleError as exc:
        raise _BadInput(exc.message) from exc


@router.post("/gmail/deliver", response_model=None)
def deliver(body: JsonBody, store: StoreDep) -> dict[str, Any] | JSONResponse:
    """A message arrives in `to`'s mailbox: from `from` with subject and text (or `raw`,
    base64url RFC 2822), in the thread it replies to (In-Reply-To/References and subject)
    or `threadId`. Labels INBOX and UNREAD unless `labelIds` says otherwise."""
    try:
        to = str(_address(body, "to"))
        with store.locked():
            box = _mailbox_of(store, to)
            raw_field = body.get("raw")
            if raw_field is not None:
                try:
                    raw = mime.decode_raw(raw_field)
                except GoogleError as exc:
                    raise _BadInput(f"raw: {exc.message}") from exc
            else:
                raw = _compose(body, str(_address(body, "from")), to)
            thread_id = _text(body, "threadId")
            message = _arrive(store, box, raw, _labels(body, box), thread_id)
            return _answer(message)
    except _BadInput as exc:
        return _bad(exc)


def _quote(original: GmailMessage) -> str:
    parsed = mime.parse(original.raw)
    quoted = "\n".join(f"> {line}" if line else ">" for line in mime.body_text(parsed).splitlines())
    return f"On {mime.header(parsed, 'Date')}, {mime.header(parsed, 'From')} wrote:\n{quoted}\n"


@router.post("/gmail/reply", response_model=None)
def reply(body: JsonBody, store: StoreDep) -> dict[str, Any] | JSONResponse:
    """The recipient of message `messageId` in `mailbox` answers it: from `from` (else the
    message's first recipient), Subject "Re: ...", In-Reply-To and References set, the
    original quoted below `text` unless `quote` is false, in the same thread."""
    try:
        mailbox = str(_address(body, "mailbox"))
        with store.locked():
            box = _mailbox_of(store, mailbox)
            original = _original(box, body)
            parsed = mime.parse(original.raw)
            sender = _address(body, "from", required=False)
            if sender is None:
                recipients = getaddresses([mime.header(parsed, "To")])
                if not recipients or not recipients[0][1]:
                    raise _BadInput(f"message {original.id} has no recipient to reply")
                name, address = recipients[0]
                sender = f"{name} <{address}>" if name else address
            subject = mime.header(parsed, "Subject")
            if not re.match(r"^\s*re\s*:", subject, re.IGNORECASE):
                subject = f"Re: {subject}"
            original_id = mime.header(parsed, "Message-ID")
            refs = " ".join(x for x in (mime.header(parsed, "References"), original_id) if x)
            text = _text(body, "text") or ""
            if body.get("quote", True) is not False:
                text = f"{text}\n\n{_quote(original)}"
            fields = {**body, "subject": subject, "text": text, "inReplyTo": original_id}
            fields["references"] = refs
            to = mime.header(parsed, "From") or box.email
            raw = _compose(fields, sender, to)
            labels = _labels(body, box)
            message = store_message(store, box, raw, labels, original.thread_id, keep_thread=True)
            return _answer(message)
    except _BadInput as exc:
        return _bad(exc)


@router.post("/gmail/bounce", response_model=None)
def bounce_message(body: JsonBody, store: StoreDep) -> dict[str, Any] | JSONResponse:
    """Message `messageId` of `mailbox` bounces: a delivery-status notification (RFC 3464)
    from the mailer-daemon arrives in the mailbox's inbox, in that message's thread.
    `recipients` (default: all of the message's), `status` (5.1.1), `diagnostic`."""
    try:
        mailbox = str(_address(body, "mailbox"))
        status = _text(body, "status") or "5.1.1"
        if not _STATUS.match(status):
            raise _BadInput(f"status must be an RFC 3463 failure code like 5.1.1: {status!r}")
        recipients = body.get("recipients")
        if recipients is not None and (
            not isinstance(recipients, list)
            or not recipients
            or not all(isinstance(r, str) and _EMAIL.match(r) for r in recipients)
        ):
            raise _BadInput("recipients must be a non-empty list of email addresses")
        diagnostic = _text(body, "diagnostic")
        with store.locked():
            box = _mailbox_of(store, mailbox)
            original = _original(box, body)
            if not recipients and not mime.recipients(mime.parse(original.raw)):
                raise _BadInput(f"message {original.id} has no recipient to bounce")
            dsn = bounce(store, box, original, recipients, status=status, diagnostic=diagnostic)
            failed = recipients or mime.recipients(mime.parse(original.raw))
            return {**_answer(dsn), "failedRecipients": failed}
    except _BadInput as exc:
        return _bad(exc)


@router.post("/gmail/{user}/expire-history", response_model=None)
def expire_history(user: str, store: StoreDep) -> dict[str, Any] | JSONResponse:
    """Forget the mailbox's history: history.list from any earlier start id answers 404."""
    if not _EMAIL.match(user):
        return JSONResponse({"error": f"not an email address: {user!r}"}, status_code=400)
    with store.locked():
        box = store.mailbox(user)
        forgotten = changes.expire(box)
        return {
            "user": box.email,
            "expired": forgotten,
            "historyId": str(box.history_id),
            "historyFloor": str(box.history_floor),
        }


@router.post("/gmail/undeliverable", response_model=None)
def add_undeliverable(body: JsonBody, store: StoreDep) -> dict[str, Any] | JSONResponse:
    """Addresses ("x@y") and domains ("@y") whose mail bounces when sent (`addresses`)."""
    try:
        entries = undeliverable_entries(body.get("addresses"))
    except ValueError as exc:
        return JSONResponse({"error": str(exc)}, status_code=400)
    with store.locked():
        store.undeliverable.update(entries)
        return {"undeliverable": sorted(store.undeliverable)}


def undeliverable_entries(value: Any) -> set[str]:
    """Check a list of "x@y" and "@y" entries; return them lowercased."""
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError("undeliverable must be a list of addresses or @domains")
    entries = {v.strip().lower() for v in value}
    bad = [v for v in entries if not (_EMAIL.match(v) or _EMAIL.match("x" + v))]
    if bad:
        raise ValueError(f"not an address or @domain: {bad}")
    return entries


def _subscription_json(sub: PushSubscription) -> dict[str, Any]:
    return {"name": sub.name, "topic": sub.topic, "pushEndpoint": sub.endpoint}


@router.post("/pubsub/subscriptions", status_code=201, response_model=None)
def create_subscription(body: JsonBody, store: StoreDep) -> dict[str, Any] | JSONResponse:
    """A push subscription: messages published to `topic` (projects/p/topics/t, as given
    to users.watch) are POSTed to `pushEndpoint`; `name` defaults to one made up."""
    topic, endpoint, name = body.get("topic"), body.get("pushEndpoint"), body.get("name")
    if not isinstance(topic, str) or not _TOPIC.match(topic):
        return JSONResponse({"error": "topic must be projects/<p>/topics/<t>"}, status_code=400)
    if not isinstance(endpoint, str) or not re.match(r"^https?://\S+$", endpoint):
        return JSONResponse({"error": "pushEndpoint must be an http(s) URL"}, status_code=400)
    if name is not None and (not isinstance(name, str) or not _SUBSCRIPTION.match(name)):
        return JSONResponse({"error": "name must be a Pub/Sub subscription id"}, status_code=400)
    with store.locked():
        full = subscription_name(name or f"gmail-push-{store.next_int()}")
        for subs in store.push_subscriptions.values():
            if any(s.name == full for s in subs):
                return JSONResponse({"error": f"{full} already exists"}, status_code=409)
        sub = PushSubscription(full, topic, endpoint)
        store.push_subscriptions.setdefault(topic, []).append(sub)
        return _subscription_json(sub)


@router.get("/pubsub/subscriptions")
def list_subscriptions(store: StoreDep) -> dict[str, Any]:
    """Every push subscription."""
    with store.locked():
        subs = [s for found in store.push_subscriptions.values() for s in found]
        return {"subscriptions": [_subscription_json(s) for s in subs]}


@router.delete("/pubsub/subscriptions/{name}")
def delete_subscription(name: str, store: StoreDep) -> dict[str, bool]:
    """Delete a push subscription (by its short or full name)."""
    full = subscription_name(name)
    with store.locked():
        found = False
        for topic, subs in list(store.push_subscriptions.items()):
            kept = [s for s in subs if s.name != full]
            found = found or len(kept) != len(subs)
            store.push_subscriptions[topic] = kept
        return {"deleted": found}


@router.get("/pubsub/deliveries")
def deliveries(store: StoreDep, wait: float = 0.0) -> dict[str, Any]:
    """Pushes made (oldest first): subscription, endpoint (without its query), the decoded
    data, the endpoint's status and attempts. `wait` seconds for queued ones to finish."""
    idle = store.pusher.idle(min(max(wait, 0.0), 30.0))
    return {"deliveries": store.pusher.log(), "idle": idle}
