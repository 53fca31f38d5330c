"""Read a watched mailbox's new mail and act on what it means, once per message.

Gmail's sync model (developers.google.com/workspace/gmail/api/guides/sync): the cursor is
a history id; users.history.list gives the messages added since, page by page, and the
cursor moves to the answer's history id. The first read, and a read whose id expired
(history.list's 404), is a full sync instead: the profile's history id becomes the cursor
and the INBOX's recent mail is scanned, so nothing that arrived in between is missed.

Each message is classified (steps/inbound_mail.py) and acted on once
(usecases/inbound_actions.py: replies stop the lead's workflows, hard bounces suppress,
unsubscribe mail unsubscribes); the HubSpot follow-ups come after each commit
(usecases/mailbox_followups.py).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import structlog
from sqlalchemy.orm import Session, sessionmaker

from sales_agent_pipeline.db.repositories import mailboxes
from sales_agent_pipeline.db.repositories.mailboxes import Cursor
from sales_agent_pipeline.domain.compliance import InboundKind
from sales_agent_pipeline.domain.errors import ConfigurationError, PipelineError
from sales_agent_pipeline.domain.mailbox import HistoryExpired
from sales_agent_pipeline.ports.vendors import CRM, Mail
from sales_agent_pipeline.settings import Settings
from sales_agent_pipeline.steps.inbound_mail import classify
from sales_agent_pipeline.usecases.inbound_actions import Inbox, act
from sales_agent_pipeline.usecases.mailbox_followups import follow_up
from sales_agent_pipeline.usecases.suppression import masked

log = structlog.get_logger(__name__)

# The full sync's scan: the INBOX's recent mail, as many messages as a sync reads at most.
FULL_SYNC_QUERY = "in:inbox newer_than:7d"
FULL_SYNC_LIMIT = 200

CrmFor = Callable[[], CRM]


@dataclass
class SyncReport:
    """What one read of a mailbox did."""

    tenant_id: uuid.UUID
    mailbox: str
    read: int = 0
    replies: int = 0
    bounces: int = 0
    unsubscribes: int = 0
    full_sync: bool = False
    history_id: int | None = None
    # Stopped at the time budget: the rest is read next time.
    partial: bool = False
    errors: list[str] = field(default_factory=list)

    def line(self) -> str:
        """One line for a sensor's log."""
        kind = "full sync" if self.full_sync else "history"
        rest = " (more next time)" if self.partial else ""
        return (
            f"{self.mailbox}: {kind}, {self.read} message(s) read, {self.replies} repl(ies), "
            f"{self.bounces} bounce(s), {self.unsubscribes} unsubscribe(s){rest}"
        )


class MailboxSync:
    """One read of one tenant's mailbox, with its connectors and a time budget."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        settings: Settings,
        *,
        tenant_id: uuid.UUID,
        mailbox: str,
        mail: Mail,
        crm: CrmFor,
        deadline: float | None = None,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self._sessions = sessions
        self._settings = settings
        self._tenant_id = tenant_id
        self._mailbox = mailbox.strip().lower()
        self._mail = mail
        self._crm = crm
        self._deadline = deadline
        self._now = now or (lambda: datetime.now(UTC))
        self.report = SyncReport(tenant_id=tenant_id, mailbox=self._mailbox)
        self._inbox = Inbox(sessions, settings, tenant_id, self._mailbox, self._now)

    def _late(self) -> bool:
        return self._deadline is not None and time.monotonic() >= self._deadline

    # Reading.

    def run(self) -> SyncReport:
        """Read what is new (a full sync when needed), act on it, move the cursor; then the
        HubSpot follow-ups still pending."""
        with self._sessions.begin() as session:
            mailboxes.ensure(session, [(self._tenant_id, self._mailbox)])
            cursor = mailboxes.get(session, self._tenant_id, self._mailbox)
        assert cursor is not None
        try:
            if cursor.history_id is None:
                self._full_sync()
            else:
                try:
                    self._history(cursor)
                except HistoryExpired:
                    log.info("mailbox.history_expired", mailbox=masked(self._mailbox))
                    self._full_sync()
        except PipelineError as exc:
            self.report.errors.append(str(exc))
            with self._sessions.begin() as session:
                mailboxes.failed(session, self._tenant_id, self._mailbox, str(exc))
            raise
        self.report.errors.extend(follow_up(self._inbox, self._crm))
        return self.report

    def _history(self, cursor: Cursor) -> None:
        assert cursor.history_id is not None
        start = cursor.history_id
        # `done`: the last history record read whole (one record may add several messages).
        done = current = start
        token: str | None = None
        while True:
            page = self._mail.history(start, token)
            with self._sessions.begin() as session:
                known = mailboxes.known_messages(
                    session, self._tenant_id, self._mailbox, page.message_ids
                )
            for added in page.added:
                if added.history_id != current:
                    done, current = current, added.history_id
                if self._late():
                    if done > start:
                        self._advance(done)
                    self.report.partial = True
                    return
                if added.message_id not in known:
                    self._read(added.message_id)
                    known.add(added.message_id)
            token = page.next_page_token
            if not token:
                self._advance(max(page.history_id, current))
                return

    def _advance(self, history_id: int, *, full_sync: bool = False) -> None:
        with self._sessions.begin() as session:
            mailboxes.advance(
                session, self._tenant_id, self._mailbox, history_id, full_sync=full_sync
            )
        self.report.history_id = history_id

    def _full_sync(self) -> None:
        """The profile's history id, then the recent INBOX (each message once)."""
        self.report.full_sync = True
        profile = self._mail.profile()
        if profile.email and profile.email != self._mailbox:
            raise ConfigurationError(
                f"the Google credentials read {masked(profile.email)}, not "
                f"{masked(self._mailbox)}: not this mailbox's history"
            )
        ids = list(reversed(self._mail.list_message_ids(FULL_SYNC_QUERY, FULL_SYNC_LIMIT)))
        with self._sessions.begin() as session:
            known = mailboxes.known_messages(session, self._tenant_id, self._mailbox, ids)
        for message_id in ids:
            if message_id not in known:
                self._read(message_id)
        self._advance(profile.history_id, full_sync=True)

    def _read(self, message_id: str) -> None:
        try:
            mail = self._mail.get_message_meta(message_id)
        except PipelineError as exc:
            # Deleted since it was added: nothing to act on.
            if exc.http_status == 404:
                return
            raise
        self.report.read += 1
        try:
            verdict = classify(mail, mailbox=self._mailbox)
        except (ValueError, LookupError, TypeError) as exc:
            # A message no parser makes sense of must not hold the mailbox's reading up.
            log.warning("mailbox.unreadable_message", error=type(exc).__name__)
            return
        if act(self._inbox, mail, verdict):
            if verdict.kind is InboundKind.REPLY:
                self.report.replies += 1
            elif verdict.kind is InboundKind.BOUNCE:
                self.report.bounces += 1
            else:
                self.report.unsubscribes += 1


def sync_mailbox(
    sessions: sessionmaker[Session],
    settings: Settings,
    *,
    tenant_id: uuid.UUID,
    mailbox: str,
    mail: Mail,
    crm: CrmFor,
    deadline: float | None = None,
) -> SyncReport:
    """Read one mailbox's new mail and act on it (see the module's docstring)."""
    return MailboxSync(
        sessions,
        settings,
        tenant_id=tenant_id,
        mailbox=mailbox,
        mail=mail,
        crm=crm,
        deadline=deadline,
    ).run()
