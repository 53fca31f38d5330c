"""Bounces: the delivery-status notification (RFC 3464) Gmail's mailer-daemon puts in the
sender's inbox, in the failed message's thread, when an address does not exist.

Made on request (/_sandbox/gmail/bounce) or at once when messages.send or drafts.send
mails an address or domain the seed called undeliverable.
"""

from __future__ import annotations

import uuid
from email.utils import format_datetime, getaddresses

from . import gmail_mime as mime
from .gmail import store_message
from .state import GmailMessage, Mailbox, Store, utcnow

MAILER_DAEMON = "Mail Delivery Subsystem <mailer-daemon@googlemail.com>"
SUBJECT = "Delivery Status Notification (Failure)"
# What Gmail's mailer-daemon quotes of the remote server's refusal of an unknown user.
_DIAGNOSTIC = (
    "smtp; 550-5.1.1 The email account that you tried to reach does not exist. Please try "
    "double-checking the recipient's email address for typos or unnecessary spaces. "
    "https://support.google.com/mail/?p=NoSuchUser"
)


def undeliverable(store: Store, recipients: list[str]) -> list[str]:
    """The recipients configured to bounce: the address itself or its "@domain"."""
    found = []
    for address in recipients:
        lowered = address.lower()
        domain = "@" + lowered.rsplit("@", 1)[-1]
        if lowered in store.undeliverable or domain in store.undeliverable:
            found.append(address)
    return found


def _headers_text(raw: bytes) -> str:
    head = raw.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0]
    return head.decode("utf-8", "replace").replace("\n", "\r\n")


def compose(
    original: GmailMessage,
    sender: str,
    recipients: list[str],
    *,
    status: str = "5.1.1",
    diagnostic: str | None = None,
) -> bytes:
    """The DSN's RFC 2822 bytes: a readable part, the per-recipient status fields and the
    failed message's headers (text/rfc822-headers), threaded under the failed message."""
    parsed = mime.parse(original.raw)
    original_id = mime.header(parsed, "Message-ID")
    references = " ".join(x for x in (mime.header(parsed, "References"), original_id) if x)
    now = format_datetime(utcnow())
    code = diagnostic or _DIAGNOSTIC
    boundary = f"{uuid.uuid4().hex}"
    failed = ", ".join(recipients)
    readable = (
        "** Address not found **\r\n\r\n"
        f"Your message wasn't delivered to {failed} because the address couldn't be found, "
        "or is unable to receive mail.\r\n\r\n"
        "The response from the remote server was:\r\n"
        f"{code.removeprefix('smtp; ')}\r\n"
    )
    per_recipient = "".join(
        f"Final-Recipient: rfc822; {address}\r\n"
        "Action: failed\r\n"
        f"Status: {status}\r\n"
        f"Remote-MTA: dns; mx.{address.rsplit('@', 1)[-1]}\r\n"
        f"Diagnostic-Code: {code}\r\n"
        f"Last-Attempt-Date: {now}\r\n"
        "\r\n"
        for address in recipients
    )
    lines = [
        f"From: {MAILER_DAEMON}",
        f"To: {sender}",
        f"Subject: {SUBJECT}",
        f"Date: {now}",
        f"Message-ID: <{uuid.uuid4().hex}@mx.google.com>",
        *([f"In-Reply-To: {original_id}"] if original_id else []),
        *([f"References: {references}"] if references else []),
        "Auto-Submitted: auto-replied",
        f"X-Failed-Recipients: {failed}",
        "MIME-Version: 1.0",
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"',
        "",
        f"--{boundary}",
        'Content-Type: text/plain; charset="UTF-8"',
        "",
        readable,
        f"--{boundary}",
        "Content-Type: message/delivery-status",
        "",
        "Reporting-MTA: dns; googlemail.com",
        f"Arrival-Date: {mime.header(parsed, 'Date') or now}",
        *([f"X-Original-Message-ID: {original_id}"] if original_id else []),
        "",
        per_recipient.rstrip("\r\n"),
        "",
        f"--{boundary}",
        "Content-Type: text/rfc822-headers",
        "",
        _headers_text(original.raw),
        "",
        f"--{boundary}--",
        "",
    ]
    return "\r\n".join(lines).encode()


def bounce(
    store: Store,
    box: Mailbox,
    original: GmailMessage,
    recipients: list[str] | None = None,
    *,
    status: str = "5.1.1",
    diagnostic: str | None = None,
) -> GmailMessage:
    """Put a DSN for `original` (all its recipients unless given) in its sender's inbox."""
    failed = recipients or mime.recipients(mime.parse(original.raw))
    raw = compose(original, box.email, failed, status=status, diagnostic=diagnostic)
    return store_message(store, box, raw, ["INBOX", "UNREAD"], original.thread_id, keep_thread=True)


def bounce_undeliverable(store: Store, box: Mailbox, sent: GmailMessage) -> None:
    """After a send: a DSN for the recipients configured to bounce, if any."""
    if not store.undeliverable:
        return
    parsed = mime.parse(sent.raw)
    values = [mime.header(parsed, name) for name in ("To", "Cc", "Bcc")]
    addresses = [addr for _, addr in getaddresses(values) if addr]
    failed = undeliverable(store, addresses)
    if failed:
        bounce(store, box, sent, failed)
