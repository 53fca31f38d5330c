"""The draft and the task of a workflow, as our own record of what was written where."""

from __future__ import annotations

import uuid
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from sales_agent_pipeline.db.base import utcnow
from sales_agent_pipeline.db.models import DraftEmail, HubspotTask
from sales_agent_pipeline.domain.models import DriveFile, Task
from sales_agent_pipeline.domain.workflow import DraftContent, MailOutcome


def get_draft(session: Session, workflow_id: uuid.UUID) -> DraftEmail | None:
    """The workflow's draft row, if any."""
    return session.scalar(select(DraftEmail).where(DraftEmail.workflow_id == workflow_id))


def _provenance(content: DraftContent) -> dict[str, object]:
    """Who wrote the draft, with what, at what cost (the draft_emails columns)."""
    made = content.provenance
    if made is None:
        return {}
    return {
        "writer": made.writer.value,
        "model": made.model,
        "prompt_version": made.prompt_version,
        "language": made.language,
        "input_tokens": made.input_tokens,
        "output_tokens": made.output_tokens,
        "cached_input_tokens": made.cached_input_tokens,
        "latency_ms": made.latency_ms,
        "fallback_reason": made.fallback_reason,
    }


def save_draft_content(
    session: Session, workflow_id: uuid.UUID, content: DraftContent, assets: list[DriveFile]
) -> None:
    """Store (or replace) what the draft says; a sent draft's content is never changed."""
    values = {
        "to_email": content.to,
        "subject": content.subject,
        "body": content.text_body,
        "body_html": content.html_body,
        "assets": [asset.model_dump(mode="json") for asset in assets],
        "assets_included": len(assets),
        **_provenance(content),
    }
    statement = insert(DraftEmail).values(workflow_id=workflow_id, **values)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["workflow_id"],
            set_={**values, "updated_at": func.now()},
            where=DraftEmail.sent.is_(False),
        )
    )


def record_mail(session: Session, workflow_id: uuid.UUID, outcome: MailOutcome) -> None:
    """Where Gmail put the draft or the sent message, and whether it was sent."""
    draft = get_draft(session, workflow_id)
    if draft is None:
        return
    draft.mode = outcome.mode.value
    draft.gmail_draft_id = outcome.draft_id or draft.gmail_draft_id
    draft.gmail_message_id = outcome.message_id or draft.gmail_message_id
    draft.gmail_thread_id = outcome.thread_id or draft.gmail_thread_id
    if outcome.sent and not draft.sent:
        draft.sent = True
        draft.sent_at = utcnow()


def save_task(
    session: Session,
    workflow_id: uuid.UUID,
    task: Task,
    *,
    contact_id: str,
    company_id: str | None,
    owner_id: str | None,
    due_date: date,
) -> None:
    """Our record of the HubSpot task (one per workflow)."""
    values = {
        "hubspot_task_id": task.id,
        "contact_id": contact_id,
        "company_id": company_id,
        "owner_id": owner_id,
        "subject": task.subject,
        "status": task.status or "NOT_STARTED",
        "due_date": due_date,
    }
    session.execute(
        insert(HubspotTask)
        .values(workflow_id=workflow_id, **values)
        .on_conflict_do_update(
            index_elements=["workflow_id"], set_={**values, "updated_at": func.now()}
        )
    )
