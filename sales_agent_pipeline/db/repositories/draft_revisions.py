"""Operators' changes of a draft (edits, regenerations) and the step outputs a regeneration
writes from."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from sales_agent_pipeline.db.models import DraftRevision, WorkflowEvent
from sales_agent_pipeline.domain.enums import StepStatus


@dataclass(frozen=True)
class RevisionText:
    """A draft's subject and body before and after one change."""

    old_subject: str
    old_body: str
    new_subject: str
    new_body: str


def add_revision(
    session: Session,
    draft_id: uuid.UUID,
    *,
    revision: int,
    kind: str,
    actor: str,
    api_key_id: uuid.UUID | None,
    text: RevisionText,
    details: dict[str, Any] | None = None,
) -> None:
    """Append one change; (draft_id, revision) is unique, so two changes racing to the same
    revision cannot both be recorded."""
    session.execute(
        insert(DraftRevision).values(
            draft_id=draft_id,
            revision=revision,
            kind=kind,
            actor=actor,
            api_key_id=api_key_id,
            old_subject=text.old_subject,
            old_body=text.old_body,
            new_subject=text.new_subject,
            new_body=text.new_body,
            details=details or {},
        )
    )


def list_revisions(session: Session, draft_id: uuid.UUID, limit: int = 100) -> list[DraftRevision]:
    """The draft's changes, newest first."""
    return list(
        session.scalars(
            select(DraftRevision)
            .where(DraftRevision.draft_id == draft_id)
            .order_by(DraftRevision.revision.desc())
            .limit(limit)
        )
    )


def latest_step_outputs(
    session: Session, workflow_id: uuid.UUID, last_step: int
) -> list[dict[str, Any]]:
    """The outputs of the workflow's steps 1..last_step, each from its latest succeeded
    event, in step order (what the runner's trail holds as details.output)."""
    rows = session.execute(
        select(WorkflowEvent.step_number, WorkflowEvent.details)
        .where(
            WorkflowEvent.workflow_id == workflow_id,
            WorkflowEvent.status == StepStatus.SUCCEEDED.value,
            WorkflowEvent.step_number.between(1, last_step),
        )
        .order_by(WorkflowEvent.id)
    ).all()
    latest: dict[int, dict[str, Any]] = {}
    for number, details in rows:
        output = (details or {}).get("output")
        if isinstance(output, dict):
            # Ordered by id: a later run's output of the same step replaces an earlier one.
            latest[number] = output
    return [latest[number] for number in sorted(latest)]
