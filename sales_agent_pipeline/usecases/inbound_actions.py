"""What a message found in a watched mailbox makes us do, in one transaction with the
inbound_messages row that records it (its primary key: once per message).

- a reply from a lead, in a thread of its mail or answering it: every open-ended workflow
  of the tenant for that address is stopped ("replied"), its scheduled send cancelled, a
  "stopped_on_reply" event recorded (the HubSpot task is completed after the commit);
- a hard bounce of a lead's address: suppressed (reason bounce), its workflows stopped, a
  "bounced" event (the contact's note comes after the commit);
- an unsubscribe mail: the token's address unsubscribed (usecases/unsubscribe.py).

Rows and events keep ids, addresses and statuses, never a body or a subject.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import structlog
from sqlalchemy import func, update
from sqlalchemy.orm import Session, sessionmaker

from sales_agent_pipeline.db.models import Workflow
from sales_agent_pipeline.db.repositories import audit, mailboxes, scheduled_sends
from sales_agent_pipeline.db.repositories.mailboxes import LeadWorkflow
from sales_agent_pipeline.domain.compliance import InboundKind, StopReason, SuppressionReason
from sales_agent_pipeline.domain.enums import StepStatus
from sales_agent_pipeline.domain.mailbox import InboundMail
from sales_agent_pipeline.settings import Settings
from sales_agent_pipeline.steps.inbound_mail import Verdict
from sales_agent_pipeline.usecases.suppression import masked, stop_workflows, suppress
from sales_agent_pipeline.usecases.unsubscribe import (
    MAILTO,
    BadUnsubscribeToken,
    UnknownTenant,
    check,
    unsubscribe,
)

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Inbox:
    """One tenant's watched mailbox, and what acting on its mail needs."""

    sessions: sessionmaker[Session]
    settings: Settings
    tenant_id: uuid.UUID
    mailbox: str
    now: Callable[[], datetime]


def _date(mail: InboundMail) -> datetime | None:
    try:
        parsed = parsedate_to_datetime(mail.header("date"))
    except (TypeError, ValueError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _ids(values: list[uuid.UUID]) -> list[str]:
    return [str(value) for value in values]


def act(inbox: Inbox, mail: InboundMail, verdict: Verdict) -> bool:
    """Act on a classified message once; whether this call acted (False: nothing to do,
    or it was acted on already)."""
    if verdict.kind is InboundKind.REPLY:
        return reply(inbox, mail, verdict)
    if verdict.kind is InboundKind.BOUNCE:
        return bounce(inbox, mail, verdict)
    if verdict.kind is InboundKind.UNSUBSCRIBE:
        return unsubscribe_mail(inbox, mail, verdict)
    return False


def _base(inbox: Inbox, mail: InboundMail, verdict: Verdict) -> dict[str, Any]:
    return {
        "message_id": mail.id,
        "thread_id": mail.thread_id,
        "mailbox": inbox.mailbox,
        "why": verdict.why,
    }


def reply(inbox: Inbox, mail: InboundMail, verdict: Verdict) -> bool:
    """A lead's answer to its mail: stop its open workflows (once per message)."""
    address = verdict.address or ""
    referenced = set(verdict.workflow_ids)
    with inbox.sessions.begin() as session:
        found = mailboxes.lead_workflows(
            session,
            inbox.tenant_id,
            address=address,
            workflow_ids=referenced,
            thread_id=mail.thread_id,
        )
        mine = [w for w in found if w.prospect_email == address]
        answered = [w for w in mine if w.workflow_id in referenced or w.thread_id == mail.thread_id]
        if not answered:
            return False  # not a lead's answer to our mail: someone else's business
        open_ = [w for w in mine if w.stopped_reason is None]
        tasks = [w.hubspot_task_id for w in open_ if w.hubspot_task_id]
        received = _date(mail) or inbox.now()
        details = {
            **_base(inbox, mail, verdict),
            "workflows": _ids([w.workflow_id for w in open_]),
            "tasks": tasks,
            "received": received.date().isoformat(),
            "hubspot": "pending" if tasks else "none",
        }
        if not mailboxes.claim_message(
            session,
            inbox.tenant_id,
            inbox.mailbox,
            mail.id,
            thread_id=mail.thread_id,
            kind=InboundKind.REPLY,
            address=address,
            workflow_id=answered[-1].workflow_id,
            details=details,
        ):
            return False
        stopped = _stop_on_reply(session, inbox.tenant_id, open_, mail)
    log.info(
        "mailbox.reply",
        tenant_id=str(inbox.tenant_id),
        address=masked(address),
        stopped=len(stopped),
    )
    return True


def bounce(inbox: Inbox, mail: InboundMail, verdict: Verdict) -> bool:
    """A hard bounce of a lead's address: suppress it, stop its workflows (once)."""
    referenced = set(verdict.workflow_ids)
    with inbox.sessions.begin() as session:
        acted: list[dict[str, Any]] = []
        first: uuid.UUID | None = None
        for failure in verdict.failures:
            found = mailboxes.lead_workflows(
                session, inbox.tenant_id, address=failure.address, workflow_ids=referenced
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
            return False
        details = {**_base(inbox, mail, verdict), "failures": acted, "hubspot": "pending"}
        if not mailboxes.claim_message(
            session,
            inbox.tenant_id,
            inbox.mailbox,
            mail.id,
            thread_id=mail.thread_id,
            kind=InboundKind.BOUNCE,
            address=acted[0]["address"],
            workflow_id=first,
            details=details,
        ):
            return False
        for item in acted:
            workflow_id = uuid.UUID(item["workflow_id"])
            suppress(
                session,
                inbox.tenant_id,
                item["address"],
                SuppressionReason.BOUNCE,
                source=f"dsn {item['status']}",
                workflow_id=workflow_id,
            )
            stop_workflows(
                session,
                inbox.tenant_id,
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
                    "mailbox": inbox.mailbox,
                },
            )
    log.info(
        "mailbox.bounce",
        tenant_id=str(inbox.tenant_id),
        addresses=[masked(item["address"]) for item in acted],
    )
    return True


def unsubscribe_mail(inbox: Inbox, mail: InboundMail, verdict: Verdict) -> bool:
    """An unsubscribe mail: unsubscribe its token's address (once)."""
    token = verdict.token or ""
    with inbox.sessions.begin() as session:
        try:
            claim = check(session, inbox.settings, token).claim
        except (BadUnsubscribeToken, UnknownTenant) as exc:
            problem = getattr(exc, "problem", "unknown tenant")
            mailboxes.claim_message(
                session,
                inbox.tenant_id,
                inbox.mailbox,
                mail.id,
                thread_id=mail.thread_id,
                kind=InboundKind.OTHER,
                address=verdict.address,
                workflow_id=None,
                details={**_base(inbox, mail, verdict), "why": f"unsubscribe token {problem}"},
            )
            log.info("mailbox.unsubscribe_refused", problem=problem)
            return False
        workflow = claim.workflow_id if claim.tenant_id == inbox.tenant_id else None
        if workflow is not None and session.get(Workflow, workflow) is None:
            workflow = None
        if not mailboxes.claim_message(
            session,
            inbox.tenant_id,
            inbox.mailbox,
            mail.id,
            thread_id=mail.thread_id,
            kind=InboundKind.UNSUBSCRIBE,
            address=claim.email,
            workflow_id=workflow,
            details={**_base(inbox, mail, verdict), "hubspot": "none"},
        ):
            return False
        unsubscribe(session, inbox.settings, token, source=MAILTO)
    return True


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
