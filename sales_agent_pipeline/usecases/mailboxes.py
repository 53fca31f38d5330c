"""Which mailboxes are watched, which are due for a read, Gmail's pushes and watches."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from sales_agent_pipeline.db.repositories import mailboxes
from sales_agent_pipeline.db.repositories.mailboxes import Cursor, StoppedLead
from sales_agent_pipeline.domain.errors import PipelineError
from sales_agent_pipeline.ports.vendors import Mail

# Workflows of a mailbox are watched while they are this recent.
WATCH_DAYS = 30
# A Pub/Sub watch is renewed when it ends within this (Gmail's last 7 days).
WATCH_RENEW_BEFORE = timedelta(days=1)


def sync_watches(
    sessions: sessionmaker[Session],
    *,
    pairs: list[tuple[uuid.UUID, str]],
    mail_for: Callable[[uuid.UUID, str], Mail],
    topic: str | None,
    now: datetime,
) -> tuple[list[str], list[str]]:
    """With a topic: users.watch(topic, INBOX) for each mailbox that has no watch or whose
    watch ends within a day. Without one (GMAIL_PUBSUB_TOPIC unset since): users.stop for
    each watch still running. What was done, and what failed (one line each)."""
    ends: dict[tuple[uuid.UUID, str], datetime | None] = {}
    with sessions.begin() as session:
        for tenant_id, mailbox in pairs:
            found = mailboxes.get(session, tenant_id, mailbox)
            ends[(tenant_id, mailbox)] = found.watch_expires_at if found is not None else None
    done: list[str] = []
    failed: list[str] = []
    for (tenant_id, mailbox), expires_at in ends.items():
        if topic is None:
            if expires_at is None:
                continue
            if expires_at > now:
                try:
                    mail_for(tenant_id, mailbox).stop_watch()
                except PipelineError as exc:
                    failed.append(f"{mailbox}: users.stop failed: {exc}")
                    continue
                done.append(f"{mailbox}: no longer watched")
            with sessions.begin() as session:
                mailboxes.watched_until(session, tenant_id, mailbox, None)
            continue
        if expires_at is not None and expires_at - now > WATCH_RENEW_BEFORE:
            continue
        try:
            watch = mail_for(tenant_id, mailbox).watch(topic)
        except PipelineError as exc:
            failed.append(f"{mailbox}: users.watch failed: {exc}")
            continue
        with sessions.begin() as session:
            mailboxes.watched_until(session, tenant_id, mailbox, watch.expires_at)
        done.append(f"{mailbox}: watched until {watch.expires_at.isoformat()}")
    return done, failed


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


def stopped_since(sessions: sessionmaker[Session], since: datetime) -> list[StoppedLead]:
    """Workflows stopped at or after `since` (what a sync just stopped)."""
    with sessions.begin() as session:
        return mailboxes.stopped_since(session, since)
