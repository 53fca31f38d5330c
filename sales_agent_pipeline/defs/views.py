"""What operators see on a lead's materialisation in the Dagster UI."""

from __future__ import annotations

from collections import Counter
from typing import Any

from dagster import MetadataValue
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from sales_agent_pipeline.db.models import WorkflowEvent
from sales_agent_pipeline.defs.batch import LeadBatch, LeadState
from sales_agent_pipeline.domain.enums import StepStatus


def hubspot_task_url(portal_id: int, task_id: str) -> str:
    """The task in HubSpot's UI."""
    return f"https://app.hubspot.com/tasks/{portal_id}/view/all/task/{task_id}"


def draft_markdown(state: LeadState) -> str:
    """The email as an operator reads it."""
    draft = state.draft
    if draft is None:
        return "_no draft_"
    return f"**To:** {draft.to}  \n**Subject:** {draft.subject}\n\n---\n\n{draft.text_body}"


def step_durations(sessions: sessionmaker[Session], state: LeadState) -> dict[str, int]:
    """Milliseconds per step of this lead's latest run."""
    with sessions() as session:
        rows = session.execute(
            select(WorkflowEvent.step_number, WorkflowEvent.step_name, WorkflowEvent.duration_ms)
            .where(
                WorkflowEvent.workflow_id == state.workflow_id,
                WorkflowEvent.status == StepStatus.SUCCEEDED.value,
            )
            .order_by(WorkflowEvent.id)
        ).all()
    return {f"{number:02d} {name}": ms or 0 for number, name, ms in rows}


def batch_metadata(batch: LeadBatch, sessions: sessionmaker[Session]) -> dict[str, Any]:
    """One lead: its draft, links, mode and step durations; many: counts by outcome."""
    outcomes = Counter(state.outcome.value if state.outcome else "active" for state in batch.leads)
    metadata: dict[str, Any] = {
        "leads": MetadataValue.int(len(batch.leads)),
        "outcomes": MetadataValue.json(dict(outcomes)),
    }
    if len(batch.leads) != 1:
        return metadata
    state = batch.leads[0]
    metadata["workflow_id"] = MetadataValue.text(str(state.workflow_id))
    metadata["outcome"] = MetadataValue.text(state.outcome.value if state.outcome else "active")
    if state.reason:
        metadata["reason"] = MetadataValue.text(state.reason)
    if state.draft is not None:
        metadata["draft"] = MetadataValue.md(draft_markdown(state))
        metadata["recipient"] = MetadataValue.text(state.draft.to)
        metadata["subject"] = MetadataValue.text(state.draft.subject)
    if state.mail is not None:
        metadata["mode"] = MetadataValue.text(state.mail.mode.value)
        metadata["sent"] = MetadataValue.bool(state.mail.sent)
        if state.mail.link:
            metadata["gmail"] = MetadataValue.url(state.mail.link)
    if state.task is not None:
        url = hubspot_task_url(state.item.tenant.portal_id, state.task.id)
        metadata["hubspot_task"] = MetadataValue.url(url)
    durations = step_durations(sessions, state)
    metadata["step_durations_ms"] = MetadataValue.json(durations)
    metadata["duration_ms"] = MetadataValue.int(sum(durations.values()))
    return metadata
