"""What a message found in a watched mailbox is to us, read from its headers (and a
report's delivery status): a bounce, an unsubscribe mail, a possible reply, or nothing.

Pure: whether a possible reply comes from one of the tenant's leads, in a thread of ours,
is the mailbox sync's question (it has the database).

- A bounce is an RFC 3464 delivery status notification (multipart/report;
  report-type=delivery-status) whose per-recipient fields say `Action: failed` with a
  permanent `Status: 5.x.x`; a transient 4.x.x (or `Action: delayed`) is a soft bounce, which
  Gmail retries and we ignore. A notice without a readable status part falls back to its
  X-Failed-Recipients header and a status code found in its text.
- Automatic answers are never replies (RFC 3834 Auto-Submitted other than "no",
  X-Autoreply / X-Autorespond, Precedence bulk/junk/list/auto_reply).
- An unsubscribe mail is the List-Unsubscribe mailto's: subject "unsubscribe <token>"; the
  token itself (signed, encrypted) says whose it is, so the address it went to is not trusted.
"""

from __future__ import annotations

import re
import uuid
from email import message_from_bytes, policy
from email.message import Message
from email.utils import getaddresses

from pydantic import BaseModel, ConfigDict

from sales_agent_pipeline.domain.compliance import InboundKind, normalise_address
from sales_agent_pipeline.domain.mailbox import InboundMail

_MESSAGE_ID = re.compile(r"<[^<>\s]+>")
# The Message-ID step 11 gives our mail (connectors/gmail_mime.marker_message_id of the
# workflow id): a reply's In-Reply-To or References names the workflow it answers.
_OURS = re.compile(
    r"<sales-agent\.([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})"
    r"@sales-agent\.local>",
    re.IGNORECASE,
)
_STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
_UNSUBSCRIBE = re.compile(r"^\s*unsubscribe\s+([A-Za-z0-9_=.\-]{10,2048})\s*$", re.IGNORECASE)
_AUTOMATED_PRECEDENCE = frozenset({"bulk", "junk", "list", "auto_reply"})
# Senders that are servers, never a person replying.
_DAEMONS = re.compile(r"^(mailer-daemon|postmaster|microsoftexchange[0-9a-f]*)@", re.IGNORECASE)


class DeliveryFailure(BaseModel):
    """One recipient a delivery report says failed."""

    model_config = ConfigDict(frozen=True)

    address: str
    status: str
    diagnostic: str | None = None

    @property
    def permanent(self) -> bool:
        """A 5.x.x status: the address does not take mail (a hard bounce)."""
        return self.status.startswith("5.")


class Verdict(BaseModel):
    """What a message is to us, and what the sync needs to act on it."""

    model_config = ConfigDict(frozen=True)

    kind: InboundKind
    # Why, in a few words (kept in inbound_messages.details, never the body).
    why: str
    # The sender of a reply or an unsubscribe mail (lower case).
    address: str | None = None
    # A bounce's hard failures.
    failures: tuple[DeliveryFailure, ...] = ()
    # An unsubscribe mail's token.
    token: str | None = None
    # Message-IDs it answers (In-Reply-To, References; a report's original message).
    references: tuple[str, ...] = ()

    @property
    def workflow_ids(self) -> tuple[uuid.UUID, ...]:
        """The workflows whose mail (by its Message-ID) this one answers or reports on."""
        return workflows_referenced(self.references)


def workflows_referenced(references: tuple[str, ...]) -> tuple[uuid.UUID, ...]:
    """The workflow ids in our Message-IDs among `references`, in order, once each."""
    found: dict[uuid.UUID, None] = {}
    for reference in references:
        match = _OURS.fullmatch(reference.strip())
        if match:
            found[uuid.UUID(match.group(1))] = None
    return tuple(found)


def _addresses(value: str) -> list[str]:
    return [normalise_address(addr) for _, addr in getaddresses([value]) if "@" in addr]


def _ids(*values: str) -> tuple[str, ...]:
    found: dict[str, None] = {}
    for value in values:
        for item in _MESSAGE_ID.findall(value or ""):
            found[item] = None
    return tuple(found)


def _parse(raw: bytes) -> Message:
    return message_from_bytes(raw, policy=policy.compat32)


def _field_blocks(part: Message) -> list[dict[str, str]]:
    """A message/delivery-status part's field groups (per message, then per recipient)."""
    payload = part.get_payload()
    blocks: list[dict[str, str]] = []
    if isinstance(payload, list):
        for block in payload:
            if isinstance(block, Message):
                blocks.append({k.lower(): " ".join(str(v).split()) for k, v in block.items()})
        return blocks
    # Some parsers leave the part as text: groups of "Name: value" lines.
    text = payload if isinstance(payload, str) else ""
    for group in re.split(r"\r?\n\s*\r?\n", text):
        fields: dict[str, str] = {}
        last = ""
        for line in group.splitlines():
            if line[:1] in (" ", "\t") and last:
                fields[last] += " " + line.strip()
            elif ":" in line:
                name, _, value = line.partition(":")
                last = name.strip().lower()
                fields[last] = value.strip()
        if fields:
            blocks.append(fields)
    return blocks


def _recipient(value: str) -> str:
    # "rfc822; jane@acme.example" (the address type, then the address).
    address = value.partition(";")[2] if ";" in value else value
    return normalise_address(address.strip().strip("<>"))


def delivery_failures(raw: bytes) -> tuple[list[DeliveryFailure], tuple[str, ...]]:
    """A delivery report's failed recipients (Action failed or delayed, with a status),
    and the Message-IDs of the message it reports on (its headers part, or the
    X-Original-Message-ID field)."""
    message = _parse(raw)
    failures: list[DeliveryFailure] = []
    originals: list[str] = []
    for part in message.walk():
        kind = part.get_content_type()
        if kind == "message/delivery-status":
            for fields in _field_blocks(part):
                originals.append(fields.get("x-original-message-id", ""))
                recipient = fields.get("final-recipient") or fields.get("original-recipient")
                action = fields.get("action", "").lower()
                status = _STATUS.search(fields.get("status", ""))
                if not recipient or status is None or action not in ("failed", "delayed"):
                    continue
                failures.append(
                    DeliveryFailure(
                        address=_recipient(recipient),
                        status=status.group(0),
                        diagnostic=fields.get("diagnostic-code") or None,
                    )
                )
        elif kind == "text/rfc822-headers":
            body = part.get_payload(decode=True)
            if isinstance(body, bytes):
                originals.append(str(_parse(body).get("Message-ID", "")))
        elif kind == "message/rfc822":
            inner = part.get_payload()
            if isinstance(inner, list) and inner and isinstance(inner[0], Message):
                originals.append(str(inner[0].get("Message-ID", "")))
    return failures, _ids(*originals)


def _text_of(raw: bytes) -> str:
    texts: list[str] = []
    for part in _parse(raw).walk():
        if part.get_content_type() == "text/plain":
            body = part.get_payload(decode=True)
            if isinstance(body, bytes):
                texts.append(body.decode("utf-8", "replace"))
    return "\n".join(texts)


def _is_report(mail: InboundMail) -> bool:
    content_type = mail.header("content-type").lower()
    if "multipart/report" in content_type:
        return "disposition-notification" not in content_type
    return bool(mail.header("x-failed-recipients"))


def _bounce(mail: InboundMail) -> Verdict:
    references = _ids(mail.header("in-reply-to"), mail.header("references"))
    failures: list[DeliveryFailure] = []
    originals: tuple[str, ...] = ()
    if mail.raw is not None:
        failures, originals = delivery_failures(mail.raw)
    if not failures and mail.header("x-failed-recipients"):
        # A notice without a status part: its header names who failed, its text the code.
        code = _STATUS.search(_text_of(mail.raw)) if mail.raw is not None else None
        if code is not None:
            failures = [
                DeliveryFailure(address=address, status=code.group(0))
                for address in _addresses(mail.header("x-failed-recipients"))
            ]
    references = tuple(dict.fromkeys((*references, *originals)))
    hard = tuple(f for f in failures if f.permanent)
    if hard:
        codes = ", ".join(sorted({f.status for f in hard}))
        return Verdict(
            kind=InboundKind.BOUNCE,
            why=f"delivery failed ({codes})",
            failures=hard,
            references=references,
        )
    if failures:
        codes = ", ".join(sorted({f.status for f in failures}))
        return Verdict(
            kind=InboundKind.OTHER,
            why=f"soft bounce ({codes}): Gmail retries it",
            references=references,
        )
    return Verdict(kind=InboundKind.OTHER, why="a report without a failed recipient")


def automatic(mail: InboundMail) -> str | None:
    """Why a message was sent by a program rather than a person (RFC 3834), or None."""
    submitted = mail.header("auto-submitted").strip().lower()
    if submitted and submitted.split(";")[0].strip() != "no":
        return f"automatic (Auto-Submitted: {submitted.split(';')[0].strip()})"
    for name in ("x-autoreply", "x-autorespond"):
        if mail.header(name):
            return f"automatic ({name})"
    precedence = mail.header("precedence").strip().lower()
    if precedence in _AUTOMATED_PRECEDENCE:
        return f"automatic (Precedence: {precedence})"
    return None


def classify(mail: InboundMail, *, mailbox: str) -> Verdict:
    """What the message is: a hard bounce, an unsubscribe mail, a possible reply (from
    someone other than the mailbox, to be matched with a lead), or other."""
    if {"SENT", "DRAFT"} & set(mail.label_ids):
        return Verdict(kind=InboundKind.OTHER, why="written in this mailbox")
    if _is_report(mail):
        return _bounce(mail)
    senders = _addresses(mail.header("from"))
    sender = senders[0] if senders else None
    if sender is None:
        return Verdict(kind=InboundKind.OTHER, why="no sender")
    unsubscribe = _UNSUBSCRIBE.match(mail.header("subject"))
    if unsubscribe:
        return Verdict(
            kind=InboundKind.UNSUBSCRIBE,
            why="unsubscribe mail",
            address=sender,
            token=unsubscribe.group(1),
        )
    robot = automatic(mail)
    if robot is not None:
        return Verdict(kind=InboundKind.OTHER, why=robot, address=sender)
    if sender == normalise_address(mailbox) or _DAEMONS.match(sender):
        return Verdict(kind=InboundKind.OTHER, why="not from a person", address=sender)
    return Verdict(
        kind=InboundKind.REPLY,
        why="from a person",
        address=sender,
        references=_ids(mail.header("in-reply-to"), mail.header("references")),
    )


def from_raw(
    raw: bytes, *, message_id: str, thread_id: str, label_ids: tuple[str, ...] = ("INBOX",)
) -> InboundMail:
    """An InboundMail read from a message's RFC 822 bytes (as Gmail's metadata shows it)."""
    message = _parse(raw)
    headers: dict[str, str] = {}
    for name, value in message.items():
        headers.setdefault(name.lower(), " ".join(str(value).split()))
    content_type = headers.get("content-type", "").lower()
    report = "multipart/report" in content_type or bool(headers.get("x-failed-recipients"))
    return InboundMail(
        id=message_id,
        thread_id=thread_id,
        label_ids=label_ids,
        headers=headers,
        raw=raw if report else None,
    )
