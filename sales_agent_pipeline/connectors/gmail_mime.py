"""RFC 2822 both ways: our OutgoingMail to Gmail's `raw`, Gmail's message JSON to MailMessage."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, getaddresses, parsedate_to_datetime
from typing import Any

from sales_agent_pipeline.domain.models import MailMessage, OutgoingMail

_MESSAGE_ID = re.compile(r"<[^<>\s]+>")
_UNSAFE = re.compile(r"[^a-z0-9.-]+")
# Message-IDs we set from a marker; Gmail keeps a client's Message-ID on drafts and sends.
MARKER_DOMAIN = "sales-agent.local"
# Headers the OutgoingMail's own fields set; `headers` may not set them again.
_OWN_HEADERS = frozenset(
    {"from", "to", "cc", "subject", "date", "message-id", "in-reply-to", "references"}
)
_CHARSET = re.compile(r"charset\s*=\s*\"?([\w.:-]+)\"?", re.IGNORECASE)


def marker_message_id(marker: str) -> str:
    """The deterministic Message-ID of the message written for `marker`."""
    token = _UNSAFE.sub("-", marker.strip().lower()).strip("-.")
    if not token:
        raise ValueError(f"marker {marker!r} has no usable characters")
    return f"<sales-agent.{token}@{MARKER_DOMAIN}>"


def build_message(mail: OutgoingMail, *, now: datetime | None = None) -> EmailMessage:
    """The RFC 2822 message: text/plain, plus text/html as multipart/alternative."""
    msg = EmailMessage()
    if mail.from_address:
        msg["From"] = mail.from_address
    msg["To"] = ", ".join(mail.to)
    if mail.cc:
        msg["Cc"] = ", ".join(mail.cc)
    msg["Subject"] = mail.subject
    msg["Date"] = format_datetime(now or datetime.now(UTC))
    if mail.marker:
        msg["Message-ID"] = marker_message_id(mail.marker)
    # Gmail threads a message only when it replies to one in the thread (and keeps
    # the subject), so the reply headers matter as much as threadId.
    if mail.in_reply_to:
        msg["In-Reply-To"] = mail.in_reply_to
    if mail.references:
        msg["References"] = " ".join(mail.references)
    for name, value in mail.headers:
        if name.lower() in _OWN_HEADERS:
            raise ValueError(f"header {name} is set from the message's own fields")
        if "\r" in value or "\n" in value:
            raise ValueError(f"header {name} has a line break")
        msg[name] = value
    msg.set_content(mail.text_body)
    if mail.html_body is not None:
        msg.add_alternative(mail.html_body, subtype="html")
    return msg


def encode_raw(msg: EmailMessage) -> str:
    """Gmail's `raw`: the message bytes (CRLF line ends) in base64url."""
    # RFC 5322 allows 998-character lines: long Message-IDs and References stay unfolded,
    # so servers that do not unfold (and our marker look-up) see them whole.
    return base64.urlsafe_b64encode(msg.as_bytes(policy=SMTP.clone(max_line_length=998))).decode(
        "ascii"
    )


def message_body(mail: OutgoingMail) -> dict[str, Any]:
    """The JSON Message resource for drafts and sends (never a media upload)."""
    body: dict[str, Any] = {"raw": encode_raw(build_message(mail))}
    if mail.thread_id:
        body["threadId"] = mail.thread_id
    return body


def _decode(data: str | None, charset: str | None) -> str:
    if not data:
        return ""
    try:
        raw = base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))
    except (binascii.Error, ValueError):
        return ""
    try:
        return raw.decode(charset or "utf-8", errors="replace")
    except LookupError:
        return raw.decode("utf-8", errors="replace")


def _headers(part: Mapping[str, Any]) -> dict[str, str]:
    found: dict[str, str] = {}
    for header in part.get("headers") or []:
        # The first occurrence wins, as mail clients read them.
        found.setdefault(str(header.get("name", "")).lower(), str(header.get("value", "")))
    return found


def _bodies(part: Mapping[str, Any], found: dict[str, str]) -> None:
    mime = str(part.get("mimeType", ""))
    if part.get("parts"):
        for sub in part["parts"]:
            _bodies(sub, found)
        return
    if part.get("filename") or mime not in ("text/plain", "text/html"):
        return
    if mime in found:
        return
    match = _CHARSET.search(_headers(part).get("content-type", ""))
    found[mime] = _decode((part.get("body") or {}).get("data"), match.group(1) if match else None)


def _addresses(value: str) -> tuple[str, ...]:
    return tuple(addr.lower() for _, addr in getaddresses([value]) if addr)


def _date(value: str, internal_ms: Any) -> datetime | None:
    if value:
        try:
            parsed = parsedate_to_datetime(value)
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
        except (TypeError, ValueError):
            pass
    if internal_ms:
        return datetime.fromtimestamp(int(internal_ms) / 1000, UTC)
    return None


def parse_message(data: Mapping[str, Any]) -> MailMessage:
    """A Gmail Message resource (format=full) as a MailMessage."""
    payload = data.get("payload") or {}
    headers = _headers(payload)
    bodies: dict[str, str] = {}
    _bodies(payload, bodies)
    sender = _addresses(headers.get("from", ""))
    return MailMessage(
        id=str(data.get("id", "")),
        thread_id=str(data.get("threadId", "")),
        from_address=sender[0] if sender else "",
        to=_addresses(headers.get("to", "")),
        cc=_addresses(headers.get("cc", "")),
        subject=headers.get("subject", ""),
        date=_date(headers.get("date", ""), data.get("internalDate")),
        message_id_header=headers.get("message-id") or None,
        in_reply_to=headers.get("in-reply-to") or None,
        references=tuple(_MESSAGE_ID.findall(headers.get("references", ""))),
        text_body=bodies.get("text/plain", ""),
        html_body=bodies.get("text/html"),
        label_ids=tuple(data.get("labelIds") or ()),
        snippet=str(data.get("snippet", "")),
    )
