"""The HubSpot side of what a watched mailbox told us, after the database's commit: a
reply's tasks completed and annotated, a bounce noted on the contact. A failure leaves the
message's follow-ups pending (inbound_messages.details.hubspot), tried again at the
mailbox's next sync, a few times at most."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import func, update

from sales_agent_pipeline.db.models import HubspotTask
from sales_agent_pipeline.db.repositories import mailboxes
from sales_agent_pipeline.domain.compliance import InboundKind
from sales_agent_pipeline.domain.enums import TaskStatus
from sales_agent_pipeline.domain.errors import PipelineError
from sales_agent_pipeline.domain.models import NewNote
from sales_agent_pipeline.ports.vendors import CRM
from sales_agent_pipeline.usecases.inbound_actions import Inbox

# A HubSpot follow-up that keeps failing is given up after this many tries.
FOLLOWUP_ATTEMPTS = 5


def follow_up(inbox: Inbox, crm: Callable[[], CRM]) -> list[str]:
    """Complete the tasks of replies and note bounces on their contacts, for every
    message of this mailbox whose follow-ups are still pending; what failed."""
    errors: list[str] = []
    with inbox.sessions.begin() as session:
        pending = [
            (row.gmail_message_id, row.kind, dict(row.details))
            for row in mailboxes.pending_followups(session, inbox.tenant_id, inbox.mailbox)
        ]
    for message_id, kind, details in pending:
        try:
            if kind == InboundKind.REPLY.value:
                _complete_tasks(inbox, crm(), details)
            elif kind == InboundKind.BOUNCE.value:
                _note_bounces(inbox, crm(), details)
            outcome: dict[str, Any] = {"hubspot": "done"}
        except PipelineError as exc:
            tries = int(details.get("hubspot_attempts", 0)) + 1
            outcome = {
                "hubspot": "pending" if tries < FOLLOWUP_ATTEMPTS else "failed",
                "hubspot_attempts": tries,
                "hubspot_error": str(exc)[:300],
            }
            errors.append(f"HubSpot follow-up of {message_id}: {exc}")
        with inbox.sessions.begin() as session:
            mailboxes.set_details(session, inbox.tenant_id, inbox.mailbox, message_id, outcome)
    return errors


def _complete_tasks(inbox: Inbox, crm: CRM, details: dict[str, Any]) -> None:
    line = f"Lead replied on {details.get('received')}: stopped by sales-agent"
    done: list[str] = []
    for task_id in details.get("tasks") or []:
        try:
            task = crm.get_task(str(task_id))
        except PipelineError as exc:
            # The owner deleted the task: nothing left to complete.
            if exc.http_status == 404:
                continue
            raise
        body = task.body or ""
        properties = {"hs_task_status": TaskStatus.COMPLETED.value}
        if line not in body:
            properties["hs_task_body"] = f"{body}\n\n{line}" if body else line
        if task.status != TaskStatus.COMPLETED.value or line not in body:
            crm.update_task(task.id, properties)
        done.append(task.id)
    if done:
        with inbox.sessions.begin() as session:
            session.execute(
                update(HubspotTask)
                .where(HubspotTask.hubspot_task_id.in_(done))
                .values(status=TaskStatus.COMPLETED.value, updated_at=func.now())
            )


def _note_bounces(inbox: Inbox, crm: CRM, details: dict[str, Any]) -> None:
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
                    timestamp=inbox.now(),
                    contact_id=str(contact_id),
                )
            )
        noted.add(address)
        # Remember each note as it is made: a retry never notes the same bounce twice.
        with inbox.sessions.begin() as session:
            mailboxes.set_details(
                session,
                inbox.tenant_id,
                inbox.mailbox,
                str(details["message_id"]),
                {"noted": sorted(noted)},
            )


def _short(item: dict[str, Any]) -> str | None:
    """The remote server's words, shortened, without the smtp; prefix."""
    text = str(item.get("diagnostic") or "").removeprefix("smtp;").strip()
    return (text[:120] + "...") if len(text) > 120 else (text or None)
