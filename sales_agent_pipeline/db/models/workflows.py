"""The outbox: form submissions and the workflow each one starts."""

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from sales_agent_pipeline.db.base import Base, Timestamps, UUIDPrimaryKey, check_in
from sales_agent_pipeline.domain.enums import (
    SubmissionSource,
    WorkflowMode,
    WorkflowStatus,
    values,
)
from sales_agent_pipeline.domain.submission import MAX_ID_LENGTH


class FormSubmission(UUIDPrimaryKey, Base):
    """One HubSpot form submission as received, raw payload kept."""

    __tablename__ = "form_submissions"
    __table_args__ = (
        # HubSpot retries deliveries: the database, not a prior SELECT, keeps them single.
        UniqueConstraint("portal_id", "hubspot_submission_id"),
        CheckConstraint(check_in("source", values(SubmissionSource)), name="source"),
        Index(None, "tenant_id", "received_at"),
        Index(None, "email"),
        Index(None, "import_id", postgresql_where=text("import_id IS NOT NULL")),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="RESTRICT"))
    portal_id: Mapped[int] = mapped_column(BigInteger)
    form_id: Mapped[str] = mapped_column(String(MAX_ID_LENGTH))
    # HubSpot's formSubmissionId (webhook) or conversionId (submissions listing).
    hubspot_submission_id: Mapped[str] = mapped_column(String(255))
    source: Mapped[str] = mapped_column(String(20), server_default=SubmissionSource.WEBHOOK.value)
    email: Mapped[str] = mapped_column(String(320))
    company: Mapped[str | None] = mapped_column(String(255))
    first_name: Mapped[str | None] = mapped_column(String(255))
    last_name: Mapped[str | None] = mapped_column(String(255))
    # Filled once step 1 has normalised the fields; step 6 compares leads by them.
    job_title: Mapped[str | None] = mapped_column(String(255))
    industry: Mapped[str | None] = mapped_column(String(255))
    raw_payload: Mapped[dict[str, Any]]
    submitted_at: Mapped[datetime | None]
    received_at: Mapped[datetime] = mapped_column(server_default=text("now()"))
    # Set for rows of a bulk import (source "import").
    import_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("lead_imports.id", ondelete="RESTRICT")
    )


class Workflow(UUIDPrimaryKey, Timestamps, Base):
    """One lead's run through the 13 steps; `received` rows are the outbox."""

    __tablename__ = "workflows"
    __table_args__ = (
        CheckConstraint(check_in("status", values(WorkflowStatus)), name="status"),
        CheckConstraint(check_in("mode", values(WorkflowMode)), name="mode"),
        CheckConstraint(
            f"mode_override IS NULL OR {check_in('mode_override', values(WorkflowMode))}",
            name="mode_override",
        ),
        CheckConstraint("duration_ms IS NULL OR duration_ms >= 0", name="duration_non_negative"),
        Index(None, "status", "created_at"),
        Index(None, "tenant_id", "created_at"),
        Index(None, "email_domain", "created_at"),
        # A reply or a bounce finds the tenant's workflows of the address it concerns.
        Index("ix_workflows_tenant_prospect", "tenant_id", "prospect_email"),
        # The sensor's query: work nobody asked Dagster to run yet, oldest first.
        Index(
            "ix_workflows_awaiting_run",
            "created_at",
            postgresql_where=text("status IN ('received', 'queued') AND run_requested_at IS NULL"),
        ),
        # Dead letters due for their next automatic re-drive.
        Index(
            "ix_workflows_redrive_due",
            "next_redrive_at",
            postgresql_where=text("status = 'dead_letter' AND next_redrive_at IS NOT NULL"),
        ),
        Index("ix_workflows_synthetic", "created_at", postgresql_where=text("synthetic")),
        # Stuck work: running (or requested) for too long.
        Index(
            "ix_workflows_in_flight",
            "updated_at",
            postgresql_where=text("status IN ('received', 'queued', 'running')"),
        ),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="RESTRICT"))
    # One workflow per submission, ever.
    form_submission_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("form_submissions.id", ondelete="RESTRICT"), unique=True
    )
    status: Mapped[str] = mapped_column(String(20), server_default=WorkflowStatus.RECEIVED.value)
    # The mode the run used; mode_override (set by an operator) beats the tenant's.
    mode: Mapped[str] = mapped_column(String(20), server_default=WorkflowMode.DRAFT_ONLY.value)
    mode_override: Mapped[str | None] = mapped_column(String(20))
    prospect_email: Mapped[str] = mapped_column(String(320))
    prospect_company: Mapped[str | None] = mapped_column(String(255))
    email_domain: Mapped[str] = mapped_column(String(255))
    dagster_run_id: Mapped[str | None] = mapped_column(String(64))
    run_requested_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(server_default=text("0"))
    failure_reason: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    duration_ms: Mapped[int | None]
    # The dead-letter queue: how a lead whose transient retries ran out came there, how
    # often it was re-driven, and when the next automatic re-drive is due (None: a person's).
    error_class: Mapped[str | None] = mapped_column(String(20))
    redrives: Mapped[int] = mapped_column(server_default=text("0"))
    next_redrive_at: Mapped[datetime | None]
    # A synthetic canary lead (defs/canary.py): run like any other, counted apart (left out
    # of usage, reconciliation and the business metrics).
    synthetic: Mapped[bool] = mapped_column(server_default=text("false"))
    # Lawful sending: the mailbox the lead's mail is written in (the owner's under
    # delegation, else the tenant's sender); why it was not mailed (a suppression, an
    # opt-out); why its pending work was cancelled after it ran (a reply, say), and when.
    mailbox: Mapped[str | None] = mapped_column(String(320))
    suppressed_reason: Mapped[str | None] = mapped_column(Text)
    stopped_reason: Mapped[str | None] = mapped_column(Text)
    stopped_at: Mapped[datetime | None]

    submission: Mapped[FormSubmission] = relationship(lazy="raise")
