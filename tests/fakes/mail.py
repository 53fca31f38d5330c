"""One Gmail mailbox in memory: threads, drafts, sent messages and labels."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sales_agent_pipeline.connectors.gmail_mime import marker_message_id
from sales_agent_pipeline.domain.errors import PermanentError
from sales_agent_pipeline.domain.mailbox import (
    Added,
    HistoryExpired,
    HistoryPage,
    InboundMail,
    Profile,
    Watch,
)
from sales_agent_pipeline.domain.models import (
    Draft,
    DraftRef,
    Label,
    MailMessage,
    MailThread,
    OutgoingMail,
    SentRef,
    ThreadSummary,
)
from tests.fakes.faults import FakeVendor

SYSTEM_LABELS = ("INBOX", "SENT", "DRAFT", "SPAM", "TRASH", "UNREAD", "STARRED", "IMPORTANT")
_REPLY_PREFIX = re.compile(r"^\s*((re|fwd?|aw|tr)\s*:\s*)+", re.IGNORECASE)


def _not_found() -> PermanentError:
    return PermanentError("Gmail: Requested entity was not found.", http_status=404)


def _date(message: MailMessage) -> datetime:
    return message.date or datetime.min.replace(tzinfo=UTC)


def _subject_key(subject: str) -> str:
    return _REPLY_PREFIX.sub("", subject).strip().lower()


class Ticking:
    """A clock a second further on each reading, so messages have a clear order."""

    def __init__(self, start: datetime = datetime(2026, 11, 2, 9, tzinfo=UTC)) -> None:
        self._now = start

    def __call__(self) -> datetime:
        self._now += timedelta(seconds=1)
        return self._now


class FakeMail(FakeVendor):
    """The Mail port over one mailbox; behaves as Gmail does where the steps depend on it.

    A reply joins its thread only when it references a message of it and keeps its
    subject; a draft or message written with a marker carries the marker's Message-ID
    and is found by it again; sending a draft turns it into a sent message; a label id
    Gmail no longer has is refused (400). `ensure_label` remembers labels, as the adapter
    does.
    """

    def __init__(
        self, user: str = "owner@ourco.example", clock: Callable[[], datetime] | None = None
    ) -> None:
        super().__init__()
        self.user = user
        self.clock = clock or Ticking()
        self.messages: dict[str, MailMessage] = {}
        self.drafts: dict[str, str] = {}  # draft id -> message id
        self.labels: dict[str, Label] = {
            n: Label(id=n, name=n, type="system") for n in SYSTEM_LABELS
        }
        self._remembered: dict[str, Label] = {}
        self._sent: list[str] = []
        self._ids = itertools.count(1)
        # Gmail's history: (history id, message id) per message added; ids before the
        # floor have expired (history.list's 404).
        self.history_id = 1000
        self.history_floor = 0
        self.added: list[tuple[int, str]] = []
        self.extra_headers: dict[str, dict[str, str]] = {}
        self.raws: dict[str, bytes] = {}
        self.watched: str | None = None

    def _added(self, message_id: str) -> None:
        self.history_id += 1
        self.added.append((self.history_id, message_id))

    def expire_history(self) -> None:
        """Gmail forgets the history so far: earlier start ids answer 404."""
        self.history_floor = self.history_id

    # Seeding and inspection, for tests.

    def add_message(
        self,
        thread_id: str | None = None,
        *,
        from_address: str,
        to: tuple[str, ...] = (),
        subject: str = "",
        text_body: str = "",
        date: datetime | None = None,
        message_id_header: str | None = None,
        references: tuple[str, ...] = (),
        label_ids: tuple[str, ...] = ("INBOX",),
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
    ) -> MailMessage:
        """A message arriving in the mailbox (in `thread_id`, made when new); `headers`
        (lower-case names) and a report's `raw` bytes are what get_message_meta shows."""
        message_id = f"m{next(self._ids)}"
        message = MailMessage(
            id=message_id,
            thread_id=thread_id or f"t{message_id}",
            from_address=from_address,
            to=to or (self.user,),
            subject=subject,
            date=date or self.clock(),
            message_id_header=message_id_header or f"<{message_id}@mail.example>",
            in_reply_to=references[-1] if references else None,
            references=references,
            text_body=text_body,
            label_ids=label_ids,
            snippet=" ".join(text_body.split())[:100],
        )
        self.messages[message_id] = message
        self.extra_headers[message_id] = dict(headers or {})
        if raw is not None:
            self.raws[message_id] = raw
        self._added(message_id)
        return message

    def delete_label(self, label_id: str) -> None:
        """The owner deletes a label in Gmail: it leaves every message too."""
        del self.labels[label_id]
        for message in list(self.messages.values()):
            labels = tuple(x for x in message.label_ids if x != label_id)
            self.messages[message.id] = message.model_copy(update={"label_ids": labels})

    def delete_draft(self, draft_id: str) -> None:
        """The owner deletes a draft in Gmail."""
        del self.messages[self.drafts.pop(draft_id)]

    def draft_messages(self) -> list[MailMessage]:
        """The messages of every draft, oldest draft first."""
        return [self.messages[m] for m in self.drafts.values()]

    def sent_messages(self) -> list[MailMessage]:
        """Every message sent through the port (not the seeded ones), oldest first."""
        return [self.messages[m] for m in self._sent]

    def thread_messages(self, thread_id: str) -> list[MailMessage]:
        """A thread's messages, oldest first; [] for no such thread."""
        members = [m for m in self.messages.values() if m.thread_id == thread_id]
        return sorted(members, key=_date)

    # The Mail port.

    def _write(self, mail: OutgoingMail, label: str, keep_thread: str | None = None) -> MailMessage:
        """Store a new message, threaded as Gmail would (or kept in `keep_thread`)."""
        if not mail.to and not mail.cc:
            raise PermanentError("Gmail: Recipient address required", http_status=400)
        thread = self.thread_messages(mail.thread_id) if mail.thread_id else []
        if mail.thread_id and not thread:
            raise _not_found()
        message_id = f"m{next(self._ids)}"
        joins = bool(thread) and (
            _subject_key(mail.subject) == _subject_key(thread[0].subject)
            and bool({mail.in_reply_to, *mail.references} & {m.message_id_header for m in thread})
        )
        message = MailMessage(
            id=message_id,
            thread_id=keep_thread
            or (mail.thread_id if joins and mail.thread_id else None)
            or f"t{message_id}",
            from_address=mail.from_address or self.user,
            to=mail.to,
            cc=mail.cc,
            subject=mail.subject,
            date=self.clock(),
            message_id_header=(
                marker_message_id(mail.marker) if mail.marker else f"<{message_id}@ourco.example>"
            ),
            in_reply_to=mail.in_reply_to,
            references=mail.references,
            text_body=mail.text_body,
            html_body=mail.html_body,
            label_ids=(label,),
            snippet=" ".join(mail.text_body.split())[:100],
        )
        self.messages[message_id] = message
        self._added(message_id)
        return message

    def search_threads(self, email: str, max_results: int = 10) -> list[ThreadSummary]:
        """Threads with a message from or to the address (not spam or trash), newest first."""
        with self.request("search_threads"):
            address = email.strip().lower()
            if not address or any(c in address for c in ' "()'):
                raise PermanentError(f"not a searchable address: {email!r}")
            last_of: dict[str, MailMessage] = {}
            for message in self.messages.values():
                named = [message.from_address, *message.to, *message.cc]
                hidden = {"SPAM", "TRASH"} & set(message.label_ids)
                if not hidden and any(address in who.lower() for who in named):
                    last_of[message.thread_id] = self.thread_messages(message.thread_id)[-1]
            newest = sorted(last_of.values(), key=_date, reverse=True)
            return [ThreadSummary(id=m.thread_id, snippet=m.snippet) for m in newest][:max_results]

    def get_thread(self, thread_id: str) -> MailThread:
        """A thread with its messages, oldest first."""
        with self.request("get_thread"):
            messages = self.thread_messages(thread_id)
            if not messages:
                raise _not_found()
            return MailThread(id=thread_id, messages=tuple(messages))

    def _draft_ref(self, draft_id: str) -> DraftRef:
        message = self.messages[self.drafts[draft_id]]
        return DraftRef(draft_id=draft_id, message_id=message.id, thread_id=message.thread_id)

    def create_draft(self, mail: OutgoingMail) -> DraftRef:
        """Create a draft (in mail.thread_id when it replies in that thread)."""
        with self.request("create_draft"):
            draft_id = f"r{next(self._ids)}"
            self.drafts[draft_id] = self._write(mail, "DRAFT").id
            return self._draft_ref(draft_id)

    def update_draft(self, draft_id: str, mail: OutgoingMail) -> DraftRef:
        """Replace a draft's message; 404 when the owner deleted the draft."""
        with self.request("update_draft"):
            if draft_id not in self.drafts:
                raise _not_found()
            old = self.messages[self.drafts[draft_id]]
            # A draft alone in its thread keeps that thread when it is rewritten for it.
            alone = mail.thread_id == old.thread_id and self.thread_messages(old.thread_id) == [old]
            message = self._write(mail, "DRAFT", keep_thread=old.thread_id if alone else None)
            del self.messages[old.id]
            self.drafts[draft_id] = message.id
            return self._draft_ref(draft_id)

    def get_draft(self, draft_id: str) -> Draft:
        """Read a draft and its message."""
        with self.request("get_draft"):
            if draft_id not in self.drafts:
                raise _not_found()
            return Draft(draft_id=draft_id, message=self.messages[self.drafts[draft_id]])

    def list_draft_ids(self) -> set[str]:
        """The ids of every draft in the mailbox."""
        with self.request("list_draft_ids"):
            return set(self.drafts)

    def send_draft(self, draft_id: str) -> SentRef:
        """Send an existing draft: it leaves the drafts and becomes a sent message."""
        with self.request("send_draft"):
            if draft_id not in self.drafts:
                raise PermanentError("Gmail: Invalid draft", http_status=400)
            draft = self.messages[self.drafts.pop(draft_id)]
            sent = draft.model_copy(update={"label_ids": ("SENT",)})
            self.messages[sent.id] = sent
            self._sent.append(sent.id)
            return SentRef(message_id=sent.id, thread_id=sent.thread_id, label_ids=sent.label_ids)

    def send_message(self, mail: OutgoingMail) -> SentRef:
        """Send a message directly."""
        with self.request("send_message"):
            sent = self._write(mail, "SENT")
            self._sent.append(sent.id)
            return SentRef(message_id=sent.id, thread_id=sent.thread_id, label_ids=sent.label_ids)

    def _marked(self, to: str, marker: str, label: str) -> list[MailMessage]:
        wanted = marker_message_id(marker)
        address = to.strip().lower()
        return [
            m
            for m in self.messages.values()
            if m.message_id_header == wanted
            and label in m.label_ids
            and any(address in who.lower() for who in m.to)
        ]

    def find_draft_by_marker(self, to: str, marker: str) -> DraftRef | None:
        """The draft written to `to` with this marker, if one exists."""
        with self.request("find_draft_by_marker"):
            ids = {m.id for m in self._marked(to, marker, "DRAFT")}
            found = (d for d, m in self.drafts.items() if m in ids)
            draft_id = next(found, None)
            return None if draft_id is None else self._draft_ref(draft_id)

    def find_sent_by_marker(self, to: str, marker: str) -> SentRef | None:
        """The message sent to `to` with this marker, if one exists."""
        with self.request("find_sent_by_marker"):
            found = self._marked(to, marker, "SENT")
            if not found:
                return None
            return SentRef(
                message_id=found[0].id, thread_id=found[0].thread_id, label_ids=found[0].label_ids
            )

    def find_sent_in_thread(self, thread_id: str, marker: str) -> SentRef | None:
        """The sent message with this marker in the thread (a direct read, never lagging)."""
        with self.request("find_sent_in_thread"):
            wanted = marker_message_id(marker)
            found = (
                m
                for m in self.thread_messages(thread_id)
                if m.message_id_header == wanted and "SENT" in m.label_ids
            )
            sent = next(found, None)
            if sent is None:
                return None
            return SentRef(message_id=sent.id, thread_id=sent.thread_id, label_ids=sent.label_ids)

    def list_labels(self) -> list[Label]:
        """System and user labels."""
        with self.request("list_labels"):
            return list(self.labels.values())

    def create_label(self, name: str) -> Label:
        """Create a user label; a name taken in any case is Gmail's 409."""
        with self.request("create_label"):
            if not name.strip():
                raise PermanentError("Gmail: Invalid label name", http_status=400)
            if any(lb.name.lower() == name.strip().lower() for lb in self.labels.values()):
                raise PermanentError("Gmail: Label name exists or conflicts", http_status=409)
            label = Label(id=f"Label_{next(self._ids)}", name=name.strip())
            self.labels[label.id] = label
            return label

    def ensure_label(self, name: str, *, cached: bool = True) -> Label:
        """The label with this name, created when missing; remembered unless not `cached`."""
        with self.request("ensure_label"):
            wanted = name.strip().lower()
            known = self._remembered.get(wanted) if cached else None
            if known is not None:
                return known
            found = next((lb for lb in self.list_labels() if lb.name.lower() == wanted), None)
            label = found or self.create_label(name)
            self._remembered[wanted] = label
            return label

    def add_thread_label(self, thread_id: str, label_id: str) -> None:
        """Add a label to every message of a thread."""
        with self.request("add_thread_label"):
            if label_id not in self.labels:
                raise PermanentError(f"Gmail: Invalid label: {label_id}", http_status=400)
            messages = self.thread_messages(thread_id)
            if not messages:
                raise _not_found()
            for message in messages:
                if label_id not in message.label_ids:
                    labels = (*message.label_ids, label_id)
                    self.messages[message.id] = message.model_copy(update={"label_ids": labels})

    def profile(self) -> Profile:
        """The mailbox's address and current history id."""
        with self.request("profile"):
            return Profile(email=self.user, history_id=self.history_id)

    def history(self, start_history_id: int, page_token: str | None = None) -> HistoryPage:
        """INBOX messages added after the id, 100 a page; HistoryExpired before the floor."""
        with self.request("history"):
            if start_history_id < self.history_floor:
                raise HistoryExpired()
            after = max(start_history_id, int(page_token or 0))
            # Gmail's labelId=INBOX: what arrived, not what was sent or drafted.
            newer = [
                (h, m)
                for h, m in self.added
                if h > after and m in self.messages and "INBOX" in self.messages[m].label_ids
            ]
            page, rest = newer[:100], newer[100:]
            return HistoryPage(
                added=tuple(Added(message_id=m, history_id=h) for h, m in page),
                next_page_token=str(page[-1][0]) if rest else None,
                history_id=self.history_id,
            )

    def list_message_ids(self, query: str, max_results: int = 500) -> list[str]:
        """The INBOX's messages, newest first (the query is not interpreted)."""
        with self.request("list_message_ids"):
            inbox = [m for m in self.messages.values() if "INBOX" in m.label_ids]
            newest = sorted(inbox, key=_date, reverse=True)
            return [m.id for m in newest][:max_results]

    def get_message_meta(self, message_id: str) -> InboundMail:
        """A message's labels and headers (its raw bytes when it was added with them)."""
        with self.request("get_message_meta"):
            message = self.messages.get(message_id)
            if message is None:
                raise _not_found()
            headers = {
                "from": message.from_address,
                "to": ", ".join(message.to),
                "subject": message.subject,
                "message-id": message.message_id_header or "",
                "in-reply-to": message.in_reply_to or "",
                "references": " ".join(message.references),
                **self.extra_headers.get(message_id, {}),
            }
            return InboundMail(
                id=message.id,
                thread_id=message.thread_id,
                label_ids=message.label_ids,
                headers={k: v for k, v in headers.items() if v},
                raw=self.raws.get(message_id),
            )

    def watch(self, topic: str) -> Watch:
        """Push notifications to a topic for a week."""
        with self.request("watch"):
            self.watched = topic
            return Watch(history_id=self.history_id, expires_at=self.clock() + timedelta(days=7))

    def stop_watch(self) -> None:
        """No more push notifications."""
        with self.request("stop_watch"):
            self.watched = None
