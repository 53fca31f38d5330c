"""What operators see on a lead's materialisation in the Dagster UI."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Collection
from typing import Any

from dagster import AssetExecutionContext, MetadataValue
from sqlalchemy.orm import Session, sessionmaker

from sales_agent_pipeline.db.repositories import audit
from sales_agent_pipeline.defs.dagster_internals import accumulate_partition_metadata
from sales_agent_pipeline.workflow.state import LeadBatch, LeadState


def hubspot_task_url(portal_id: int, task_id: str) -> str:
    """The task in HubSpot's UI."""
    return f"https://app.hubspot.com/tasks/{portal_id}/view/all/task/{task_id}"


def markdown_lines(text: str) -> str:
    """Plain text as Markdown that renders with the same line breaks."""
    # A plain-text email read as Markdown loses its line breaks (the signature and the
    # line after a list run together): keep each line with a hard break, and end a list
    # with a blank line so the next line is not folded into its last item.
    lines = text.splitlines()
    out: list[str] = []
    for index, line in enumerate(lines):
        follows_list = index > 0 and lines[index - 1].startswith("- ")
        if line and follows_list and not line.startswith("- "):
            out.append("")
        following = lines[index + 1] if index + 1 < len(lines) else ""
        breaks = line and following and not line.startswith("- ") and not following.startswith("- ")
        out.append(f"{line}  " if breaks else line)
    return "\n".join(out)


def draft_markdown(state: LeadState) -> str:
    """The email as an operator reads it."""
    draft = state.draft
    if draft is None:
        return "_no draft_"
    body = markdown_lines(draft.text_body)
    return f"**To:** {draft.to}  \n**Subject:** {draft.subject}\n\n---\n\n{body}"


def step_durations(
    sessions: sessionmaker[Session], workflow_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, dict[str, int]]:
    """Milliseconds per step of each lead's latest run, in one query for a whole batch."""
    if not workflow_ids:
        return {}
    with sessions() as session:
        return audit.latest_step_durations(session, workflow_ids)


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
    durations = step_durations(sessions, [state.workflow_id])[state.workflow_id]
    return {**metadata, **lead_metadata(state, durations)}


def lead_metadata(state: LeadState, durations: dict[str, int]) -> dict[str, Any]:
    """What one lead's partition shows: its draft, links, mode and step durations."""
    metadata: dict[str, Any] = {
        "workflow_id": MetadataValue.text(str(state.workflow_id)),
        "outcome": MetadataValue.text(state.outcome.value if state.outcome else "active"),
    }
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
        if state.mail.mailbox:
            metadata["mailbox"] = MetadataValue.text(state.mail.mailbox)
        if state.mail.suppressed_reason:
            metadata["suppressed_reason"] = MetadataValue.text(state.mail.suppressed_reason)
        if state.mail.scheduled_for:
            metadata["scheduled_for"] = MetadataValue.text(state.mail.scheduled_for.isoformat())
    if state.task is not None:
        url = hubspot_task_url(state.item.tenant.portal_id, state.task.id)
        metadata["hubspot_task"] = MetadataValue.url(url)
    metadata["step_durations_ms"] = MetadataValue.json(durations)
    metadata["duration_ms"] = MetadataValue.int(sum(durations.values()))
    return metadata


def add_partition_metadata(
    context: AssetExecutionContext, by_partition: dict[str, dict[str, Any]]
) -> None:
    """Give each partition of a range run its own materialisation metadata.

    The public `add_asset_metadata(partition_key=...)` checks every key against the run's
    range by loading all the dynamic partitions of `leads` from Dagster's database, on a new
    connection, per call: quadratic over a bulk import. The keys here are the run's own
    partitions, so they skip that check (dagster_internals); without it, the public call.
    """
    if accumulate_partition_metadata(context, by_partition):
        return
    for key, metadata in by_partition.items():
        context.add_asset_metadata(metadata, partition_key=key)
