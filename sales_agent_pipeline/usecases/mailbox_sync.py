"""Read a watched mailbox's new mail and act on what it means, once per message.

Gmail's sync model (developers.google.com/workspace/gmail/api/guides/sync): the cursor is
a history id; users.history.list gives the messages added since, page by page, and the
cursor moves to the answer's history id. The first read, and a read whose id expired
(history.list's 404), is a full sync instead: the profile's history id becomes the cursor
and the INBOX's recent mail is scanned, so nothing that arrived in between is missed.

Each message is classified (steps/inbound_mail.py) and acted on in one transaction with
the inbound_messages row that records it, whose primary key makes a second sight of it (a
resync, a push racing a poll) a no-op:

- a reply from a lead, in a thread of its mail or answering it: every open-ended workflow
  of the tenant for that address is stopped ("replied"), its scheduled send cancelled, a
  "stopped_on_reply" event recorded; then its HubSpot task is completed and annotated;
- a hard bounce of a lead's address: suppressed (reason bounce), its workflows stopped,
  a "bounced" event; then a note on the HubSpot contact;
- an unsubscribe mail: the token's address unsubscribed (usecases/unsubscribe.py).

The HubSpot follow-ups come after the commit: a failure leaves them pending on the row
(details.hubspot), tried again at the mailbox's next sync. Mail content never leaves the
mailbox: rows and events keep ids, addresses and statuses, never a body or a subject.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import structlog
from sqlalchemy import func, update
from sqlalchemy.orm import Session, sessionmaker

from sales_agent_pipeline.db.models import HubspotTask, Workflow
from sales_agent_pipeline.db.repositories import audit, mailboxes, scheduled_sends
from sales_agent_pipeline.db.repositories.mailboxes import Cursor, LeadWorkflow
from sales_agent_pipeline.domain.compliance import InboundKind, StopReason, SuppressionReason
from sales_agent_pipeline.domain.enums import StepStatus, TaskStatus
from sales_agent_pipeline.domain.errors import ConfigurationError, PipelineError
from sales_agent_pipeline.domain.mailbox import HistoryExpired, InboundMail
from sales_agent_pipeline.domain.models import NewNote
from sales_agent_pipeline.ports.vendors import CRM, Mail
from sales_agent_pipeline.settings import Settings
from sales_agent_pipeline.steps.inbound_mail import Verdict, classify
from sales_agent_pipeline.usecases.suppression import masked, stop_workflows, suppress
from sales_agent_pipeline.usecases.unsubscribe import (
    MAILTO,
    BadUnsubscribeToken,
    UnknownTenant,
    check,
    unsubscribe,
)

log = structlog.get_logger(__name__)

# The full sync's scan: the INBOX's recent mail, as many messages as a sync reads at most.
FULL_SYNC_QUERY = "in:inbox newer_than:7d"
FULL_SYNC_LIMIT = 200
# A HubSpot follow-up that keeps failing is given up after this many tries.
FOLLOWUP_ATTEMPTS = 5
# Workflows of a mailbox are watched while they are this recent.
WATCH_DAYS = 30
# A Pub/Sub watch is renewed when it ends within this (Gmail's last 7 days).
WATCH_RENEW_BEFORE = timedelta(days=1)

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


def _date(mail: InboundMail) -> datetime | None:
    try:
        parsed = parsedate_to_datetime(mail.header("date"))
    except (TypeError, ValueError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _ids(values: list[uuid.UUID]) -> list[str]:
    return [str(value) for value in values]


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
        self.follow_up()
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
        verdict = classify(mail, mailbox=self._mailbox)
        if verdict.kind is InboundKind.REPLY:
            self._reply(mail, verdict)
        elif verdict.kind is InboundKind.BOUNCE:
            self._bounce(mail, verdict)
        elif verdict.kind is InboundKind.UNSUBSCRIBE:
            self._unsubscribe(mail, verdict)

    # Acting.

    def _base(self, mail: InboundMail, verdict: Verdict) -> dict[str, Any]:
        return {
            "message_id": mail.id,
            "thread_id": mail.thread_id,
            "mailbox": self._mailbox,
            "why": verdict.why,
        }

    def _reply(self, mail: InboundMail, verdict: Verdict) -> None:
        address = verdict.address or ""
        referenced = set(verdict.workflow_ids)
        with self._sessions.begin() as session:
            found = mailboxes.lead_workflows(
                session,
                self._tenant_id,
                address=address,
                workflow_ids=referenced,
                thread_id=mail.thread_id,
            )
            mine = [w for w in found if w.prospect_email == address]
            answered = [
                w for w in mine if w.workflow_id in referenced or w.thread_id == mail.thread_id
            ]
            if not answered:
                return  # not a lead's answer to our mail: someone else's business
            open_ = [w for w in mine if w.stopped_reason is None]
            tasks = [w.hubspot_task_id for w in open_ if w.hubspot_task_id]
            received = _date(mail) or self._now()
            details = {
                **self._base(mail, verdict),
                "workflows": _ids([w.workflow_id for w in open_]),
                "tasks": tasks,
                "received": received.date().isoformat(),
                "hubspot": "pending" if tasks else "none",
            }
            if not mailboxes.claim_message(
                session,
                self._tenant_id,
                self._mailbox,
                mail.id,
                thread_id=mail.thread_id,
                kind=InboundKind.REPLY,
                address=address,
                workflow_id=answered[-1].workflow_id,
                details=details,
            ):
                return
            stopped = _stop_on_reply(session, self._tenant_id, open_, mail)
        self.report.replies += 1
        log.info(
            "mailbox.reply",
            tenant_id=str(self._tenant_id),
            address=masked(address),
            stopped=len(stopped),
        )

    def _bounce(self, mail: InboundMail, verdict: Verdict) -> None:
        referenced = set(verdict.workflow_ids)
        with self._sessions.begin() as session:
            acted: list[dict[str, Any]] = []
            first: uuid.UUID | None = None
            for failure in verdict.failures:
                found = mailboxes.lead_workflows(
                    session, self._tenant_id, address=failure.address, workflow_ids=referenced
                )
                mine = [w for w in found if w.prospect_email == failure.address]
                if not mine:
                    continue  # not a lead of the tenant
                primary = _primary(mine, referenced)
                first = first or primary.workflow_id
                acted.append(
                    {
                        "address": failure.address,
                        "status": failure.status,
                        "diagnostic": (failure.diagnostic or "")[:300] or None,
                        "workflow_id": str(primary.workflow_id),
                        "contact_id": primary.contact_id,
                        "workflows": _ids([w.workflow_id for w in mine]),
                    }
                )
            if not acted:
                return
            details = {**self._base(mail, verdict), "failures": acted, "hubspot": "pending"}
            if not mailboxes.claim_message(
                session,
                self._tenant_id,
                self._mailbox,
                mail.id,
                thread_id=mail.thread_id,
                kind=InboundKind.BOUNCE,
                address=acted[0]["address"],
                workflow_id=first,
                details=details,
            ):
                return
            for item in acted:
                workflow_id = uuid.UUID(item["workflow_id"])
                suppress(
                    session,
                    self._tenant_id,
                    item["address"],
                    SuppressionReason.BOUNCE,
                    source=f"dsn {item['status']}",
                    workflow_id=workflow_id,
                )
                stop_workflows(
                    session,
                    self._tenant_id,
                    [uuid.UUID(w) for w in item["workflows"]],
                    StopReason.BOUNCED,
                    details={"status": item["status"], "message_id": mail.id},
                )
                audit.record_event(
                    session,
                    workflow_id,
                    event_type="bounced",
                    status=StepStatus.SUCCEEDED,
                    details={
                        "status": item["status"],
                        "message_id": mail.id,
                        "thread_id": mail.thread_id,
                        "mailbox": self._mailbox,
                    },
                )
        self.report.bounces += 1
        log.info(
            "mailbox.bounce",
            tenant_id=str(self._tenant_id),
            addresses=[masked(item["address"]) for item in acted],
        )

    def _unsubscribe(self, mail: InboundMail, verdict: Verdict) -> None:
        token = verdict.token or ""
        with self._sessions.begin() as session:
            try:
                claim = check(session, self._settings, token).claim
            except (BadUnsubscribeToken, UnknownTenant) as exc:
                problem = getattr(exc, "problem", "unknown tenant")
                mailboxes.claim_message(
                    session,
                    self._tenant_id,
                    self._mailbox,
                    mail.id,
                    thread_id=mail.thread_id,
                    kind=InboundKind.OTHER,
                    address=verdict.address,
                    workflow_id=None,
                    details={**self._base(mail, verdict), "why": f"unsubscribe token {problem}"},
                )
                log.info("mailbox.unsubscribe_refused", problem=problem)
                return
            workflow = claim.workflow_id if claim.tenant_id == self._tenant_id else None
            if workflow is not None and session.get(Workflow, workflow) is None:
                workflow = None
            if not mailboxes.claim_message(
                session,
                self._tenant_id,
                self._mailbox,
                mail.id,
                thread_id=mail.thread_id,
                kind=InboundKind.UNSUBSCRIBE,
                address=claim.email,
                workflow_id=workflow,
                details={**self._base(mail, verdict), "hubspot": "none"},
            ):
                return
            unsubscribe(session, self._settings, token, source=MAILTO)
        self.report.unsubscribes += 1

    # HubSpot, after the commit.

    def follow_up(self) -> None:
        """Complete the tasks of replies and note bounces on their contacts, for every
        message of this mailbox whose follow-ups are still pending."""
        with self._sessions.begin() as session:
            pending = [
                (row.gmail_message_id, row.kind, dict(row.details))
                for row in mailboxes.pending_followups(session, self._tenant_id, self._mailbox)
            ]
        for message_id, kind, details in pending:
            try:
                if kind == InboundKind.REPLY.value:
                    self._complete_tasks(details)
                elif kind == InboundKind.BOUNCE.value:
                    self._note_bounces(details)
                outcome: dict[str, Any] = {"hubspot": "done"}
            except PipelineError as exc:
                tries = int(details.get("hubspot_attempts", 0)) + 1
                outcome = {
                    "hubspot": "pending" if tries < FOLLOWUP_ATTEMPTS else "failed",
                    "hubspot_attempts": tries,
                    "hubspot_error": str(exc)[:300],
                }
                self.report.errors.append(f"HubSpot follow-up of {message_id}: {exc}")
            with self._sessions.begin() as session:
                mailboxes.set_details(session, self._tenant_id, self._mailbox, message_id, outcome)

    def _complete_tasks(self, details: dict[str, Any]) -> None:
        line = f"Lead replied on {details.get('received')}: stopped by sales-agent"
        crm = self._crm()
        done: list[str] = []
        for task_id in details.get("tasks") or []:
            task = crm.get_task(str(task_id))
            body = task.body or ""
            properties = {"hs_task_status": TaskStatus.COMPLETED.value}
            if line not in body:
                properties["hs_task_body"] = f"{body}\n\n{line}" if body else line
            if task.status != TaskStatus.COMPLETED.value or line not in body:
                crm.update_task(task.id, properties)
            done.append(task.id)
        if done:
            with self._sessions.begin() as session:
                session.execute(
                    update(HubspotTask)
                    .where(HubspotTask.hubspot_task_id.in_(done))
                    .values(status=TaskStatus.COMPLETED.value, updated_at=func.now())
                )

    def _note_bounces(self, details: dict[str, Any]) -> None:
        crm = self._crm()
        noted = set(details.get("noted") or [])
        for item in details.get("failures") or []:
            address = str(item["address"])
            if address in noted:
                continue
            contact_id = item.get("contact_id")
            if not contact_id:
                contact = crm.find_contact_by_email(address)
                contact_id = contact.id if contact is not None else None
            if contact_id:
                reason = " ".join(filter(None, [item.get("status"), _short(item)]))
                crm.create_note(
                    NewNote(
                        body=f"Email to {address} bounced ({reason}): suppressed by sales-agent",
                        timestamp=self._now(),
                        contact_id=str(contact_id),
                    )
                )
            noted.add(address)
            # Remember each note as it is made: a retry never notes the same bounce twice.
            with self._sessions.begin() as session:
                mailboxes.set_details(
                    session,
                    self._tenant_id,
                    self._mailbox,
                    str(details["message_id"]),
                    {"noted": sorted(noted)},
                )


def _short(item: dict[str, Any]) -> str | None:
    """The remote server's words, shortened, without the smtp; prefix."""
    text = str(item.get("diagnostic") or "").removeprefix("smtp;").strip()
    return (text[:120] + "...") if len(text) > 120 else (text or None)


def _primary(workflows: list[LeadWorkflow], referenced: set[uuid.UUID]) -> LeadWorkflow:
    """The workflow a report or reply is about: the one it names, else the newest."""
    named = [w for w in workflows if w.workflow_id in referenced]
    return (named or workflows)[-1]


def _stop_on_reply(
    session: Session, tenant_id: uuid.UUID, workflows: list[LeadWorkflow], mail: InboundMail
) -> list[uuid.UUID]:
    """Stop the lead's open workflows (the first reason stays), cancel their scheduled
    sends, and note it on each one's trail."""
    ids = [w.workflow_id for w in workflows]
    if not ids:
        return []
    stopped = list(
        session.scalars(
            update(Workflow)
            .where(
                Workflow.tenant_id == tenant_id,
                Workflow.id.in_(ids),
                Workflow.stopped_reason.is_(None),
            )
            .values(stopped_reason=StopReason.REPLIED.value, stopped_at=func.now())
            .returning(Workflow.id)
        )
    )
    cancelled = scheduled_sends.cancel(
        session, tenant_id, workflow_ids=stopped, reason=StopReason.REPLIED.value
    )
    for workflow_id in stopped:
        audit.record_event(
            session,
            workflow_id,
            event_type="stopped_on_reply",
            status=StepStatus.SUCCEEDED,
            details={
                "stopped_reason": StopReason.REPLIED.value,
                "message_id": mail.id,
                "thread_id": mail.thread_id,
                "scheduled_send_cancelled": workflow_id in cancelled,
            },
        )
    return stopped


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


def renew_watches(
    sessions: sessionmaker[Session],
    *,
    pairs: list[tuple[uuid.UUID, str]],
    mail_for: Callable[[uuid.UUID, str], Mail],
    topic: str,
    now: datetime,
) -> tuple[list[str], list[str]]:
    """users.watch(topic, INBOX) for each mailbox that has no watch or whose watch ends
    within a day; what was renewed, and what failed (one line each)."""
    ends: dict[tuple[uuid.UUID, str], datetime | None] = {}
    with sessions.begin() as session:
        for tenant_id, mailbox in pairs:
            found = mailboxes.get(session, tenant_id, mailbox)
            ends[(tenant_id, mailbox)] = found.watch_expires_at if found is not None else None
    renewed: list[str] = []
    failed: list[str] = []
    for (tenant_id, mailbox), expires_at in ends.items():
        if expires_at is not None and expires_at - now > WATCH_RENEW_BEFORE:
            continue
        try:
            watch = mail_for(tenant_id, mailbox).watch(topic)
        except PipelineError as exc:
            failed.append(f"{mailbox}: users.watch failed: {exc}")
            continue
        with sessions.begin() as session:
            mailboxes.watched_until(session, tenant_id, mailbox, watch.expires_at)
        renewed.append(f"{mailbox}: watched until {watch.expires_at.isoformat()}")
    return renewed, failed


def watched_mailboxes(
    sessions: sessionmaker[Session], now: datetime
) -> list[tuple[uuid.UUID, str]]:
    """Every mailbox to watch now (each one's cursor made when it is new)."""
    with sessions.begin() as session:
        pairs = mailboxes.watched(session, now, timedelta(days=WATCH_DAYS))
        mailboxes.ensure(session, pairs)
    return pairs


def due_mailboxes(
    sessions: sessionmaker[Session],
    pairs: list[tuple[uuid.UUID, str]],
    now: datetime,
    poll: timedelta,
    limit: int,
) -> list[Cursor]:
    """The watched mailboxes to read now (pushed, never read, or not read for `poll`)."""
    with sessions.begin() as session:
        return mailboxes.due(session, now, poll, pairs, limit)


def push_pending(sessions: sessionmaker[Session]) -> bool:
    """Whether Gmail pushed a change not read yet."""
    with sessions.begin() as session:
        return mailboxes.pushed_pending(session)


def record_push(sessions: sessionmaker[Session], mailbox: str, history_id: int) -> int:
    """A Pub/Sub push for `mailbox`: its cursors are read at the sensor's next tick; how
    many cursors it concerns (0: a mailbox nobody watches)."""
    with sessions.begin() as session:
        return mailboxes.record_push(session, mailbox, history_id)
