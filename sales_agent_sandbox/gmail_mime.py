"""RFC 2822 handling for the Gmail emulation: decode `raw`, fill headers, build `payload`."""

from __future__ import annotations

import base64
import binascii
import re
from email import message_from_bytes, policy
from email.message import EmailMessage, Message
from email.utils import format_datetime, getaddresses, make_msgid, parsedate_to_datetime
from typing import Any

from .errors import GoogleError
from .state import GmailMessage, utcnow

_PREFIX = re.compile(r"^\s*((re|fwd?|aw|tr)\s*:\s*)+", re.IGNORECASE)
_TAG = re.compile(r"<[^>]+>")


def b64url(data: bytes) -> str:
    """Encode bytes the way Gmail does in `raw` and `body.data`."""
    return base64.urlsafe_b64encode(data).decode("ascii")


def decode_raw(raw: Any) -> bytes:
    """Decode a base64url `raw` field (padding optional), or answer Google's 400."""
    if not isinstance(raw, str) or not raw.strip():
        raise GoogleError(
            400,
            "'raw' RFC822 payload message string or uploading message via /upload/* URL required",
            "invalidArgument",
        )
    text = raw.strip().replace("+", "-").replace("/", "_")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise GoogleError(400, "Invalid value for ByteString: raw", "invalidArgument") from exc


def parse(raw: bytes) -> EmailMessage:
    """Parse RFC 2822 bytes with the modern email policy."""
    msg = message_from_bytes(raw, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def complete_headers(raw: bytes, sender: str) -> bytes:
    """Add the From, Date and Message-ID headers Gmail adds when a client leaves them out."""
    msg = parse(raw)
    if not msg.keys() or not any(h in msg for h in ("From", "To", "Subject", "Content-Type")):
        raise GoogleError(400, "Invalid RFC822 message: no headers found", "invalidArgument")
    added = []
    if "From" not in msg:
        added.append(f"From: {sender}")
    if "Date" not in msg:
        added.append(f"Date: {format_datetime(utcnow())}")
    if "Message-ID" not in msg:
        added.append(f"Message-ID: {make_msgid(domain='mail.gmail.com')}")
    if not added:
        return raw
    # Put in front of the client's bytes, which stay as sent (every header, as folded).
    newline = "\r\n" if b"\r\n" in raw.split(b"\n", 1)[0] + b"\n" else "\n"
    return "".join(line + newline for line in added).encode() + raw


def header(msg: Message, name: str) -> str:
    """Return a header's decoded value, or an empty string."""
    value = msg.get(name)
    return "" if value is None else str(value)


def normal_subject(subject: str) -> str:
    """Strip reply and forward prefixes, as Gmail does when it matches thread subjects."""
    return _PREFIX.sub("", subject).strip().lower()


def referenced_ids(msg: Message) -> set[str]:
    """Return the Message-IDs a message replies to (In-Reply-To and References)."""
    text = f"{header(msg, 'In-Reply-To')} {header(msg, 'References')}"
    return set(re.findall(r"<[^<>\s]+>", text))


def recipients(msg: Message) -> list[str]:
    """Return every To, Cc and Bcc address."""
    values = [header(msg, name) for name in ("To", "Cc", "Bcc")]
    return [addr for _, addr in getaddresses(values) if addr]


def internal_date(msg: Message) -> int:
    """Return the message's date in epoch milliseconds (the Date header, else now)."""
    try:
        return int(parsedate_to_datetime(header(msg, "Date")).timestamp() * 1000)
    except (TypeError, ValueError):
        return int(utcnow().timestamp() * 1000)


def body_text(msg: EmailMessage) -> str:
    """Return the plain-text body (or tag-stripped HTML) for snippets and search."""
    part = msg.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (KeyError, LookupError):
        return ""
    text = content if isinstance(content, str) else ""
    if part.get_content_subtype() == "html":
        text = _TAG.sub(" ", text)
    return text


def snippet(msg: EmailMessage) -> str:
    """Return Gmail's short preview: the start of the body, whitespace collapsed."""
    return " ".join(body_text(msg).split())[:200]


def payload(part: Message, part_id: str = "", metadata: set[str] | None = None) -> dict[str, Any]:
    """Build Gmail's MessagePart tree; with `metadata`, headers only (filtered if non-empty)."""
    headers = [{"name": k, "value": str(v)} for k, v in part.items()]
    result: dict[str, Any] = {
        "partId": part_id,
        "mimeType": part.get_content_type(),
        "filename": part.get_filename() or "",
        "headers": headers,
    }
    if metadata is not None:
        if metadata:
            result["headers"] = [h for h in headers if h["name"].lower() in metadata]
        return result
    if part.get_content_type() == "message/delivery-status":
        # Gmail serves a DSN's status fields as one leaf part, its text in body.data.
        text = part.as_bytes().replace(b"\r\n", b"\n").split(b"\n\n", 1)[-1]
        result["body"] = {"size": len(text), "data": b64url(text)}
        return result
    if part.is_multipart():
        subparts = part.get_payload()
        assert isinstance(subparts, list)
        result["body"] = {"size": 0}
        result["parts"] = [
            payload(sub, f"{part_id}.{i}" if part_id else str(i)) for i, sub in enumerate(subparts)
        ]
        return result
    data = part.get_payload(decode=True)
    data = data if isinstance(data, bytes) else b""
    result["body"] = {"size": len(data), "data": b64url(data)} if data else {"size": 0}
    return result


def message_json(
    message: GmailMessage, fmt: str = "full", metadata_headers: list[str] | None = None
) -> dict[str, Any]:
    """Serialise a stored message in one of Gmail's formats (minimal, metadata, full, raw)."""
    msg = parse(message.raw)
    result: dict[str, Any] = {
        "id": message.id,
        "threadId": message.thread_id,
        "labelIds": list(message.label_ids),
        "snippet": snippet(msg),
        "sizeEstimate": len(message.raw),
        "historyId": str(message.history_id),
        "internalDate": str(message.internal_date),
    }
    if fmt == "full":
        result["payload"] = payload(msg)
    elif fmt == "metadata":
        result["payload"] = payload(msg, metadata={h.lower() for h in metadata_headers or []})
    elif fmt == "raw":
        result["raw"] = b64url(message.raw)
    return result


def split_upload(content_type: str, body: bytes) -> tuple[bytes, bytes]:
    """Split a multipart/related upload into its JSON metadata part and its media part."""
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    if not match:
        raise GoogleError(400, "Multipart upload without a boundary", "invalidArgument")
    delimiter = b"--" + match.group(1).encode()
    chunks = [c for c in body.split(delimiter)[1:] if not c.startswith(b"--")]
    parts = []
    for chunk in chunks:
        _head, sep, content = chunk.lstrip(b"\r\n").partition(b"\r\n\r\n")
        if not sep:
            _head, _, content = chunk.lstrip(b"\n").partition(b"\n\n")
        parts.append(content[:-2] if content.endswith(b"\r\n") else content.rstrip(b"\n"))
    if len(parts) != 2:
        raise GoogleError(400, "Multipart upload must have metadata and media", "invalidArgument")
    return parts[0], parts[1]
