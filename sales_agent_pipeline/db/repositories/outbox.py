"""The outbox: a submission and its workflow, inserted together, once per HubSpot id."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from sales_agent_pipeline.db.models import FormSubmission, Tenant, Workflow
from sales_agent_pipeline.domain.enums import SubmissionSource


@dataclass(frozen=True)
class Accepted:
    """Where a submission landed; `duplicate` when HubSpot sent it before."""

    submission_id: uuid.UUID
    workflow_id: uuid.UUID
    duplicate: bool


def accept_submission(
    session: Session,
    tenant: Tenant,
    *,
    form_id: str,
    hubspot_submission_id: str,
    payload: dict[str, Any],
    email: str,
    first_name: str | None = None,
    last_name: str | None = None,
    company: str | None = None,
    submitted_at: datetime | None = None,
    source: SubmissionSource = SubmissionSource.WEBHOOK,
) -> Accepted:
    """Insert the submission and its workflow (status received) unless it already exists.

    The unique constraint decides, not a prior SELECT, so concurrent deliveries are safe.
    """
    submission_id = session.execute(
        insert(FormSubmission)
        .values(
            tenant_id=tenant.id,
            portal_id=tenant.portal_id,
            form_id=form_id,
            hubspot_submission_id=hubspot_submission_id,
            source=source.value,
            email=email,
            first_name=first_name,
            last_name=last_name,
            company=company,
            raw_payload=payload,
            submitted_at=submitted_at,
        )
        .on_conflict_do_nothing(index_elements=["portal_id", "hubspot_submission_id"])
        .returning(FormSubmission.id)
    ).scalar()
    if submission_id is None:
        existing_submission, existing_workflow = session.execute(
            select(FormSubmission.id, Workflow.id)
            .join(Workflow, Workflow.form_submission_id == FormSubmission.id)
            .where(
                FormSubmission.portal_id == tenant.portal_id,
                FormSubmission.hubspot_submission_id == hubspot_submission_id,
            )
        ).one()
        return Accepted(existing_submission, existing_workflow, duplicate=True)
    workflow_id = session.execute(
        insert(Workflow)
        .values(
            tenant_id=tenant.id,
            form_submission_id=submission_id,
            prospect_email=email,
            prospect_company=company,
            email_domain=email.rsplit("@", 1)[-1].lower(),
        )
        .returning(Workflow.id)
    ).scalar_one()
    return Accepted(submission_id, workflow_id, duplicate=False)
