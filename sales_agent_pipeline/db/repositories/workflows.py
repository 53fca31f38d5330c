"""The workflow lifecycle: claim by a run, load for the steps, finish with an outcome."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import case, func, null, or_, select, update
from sqlalchemy.orm import Session

from sales_agent_pipeline.db.base import utcnow
from sales_agent_pipeline.db.models import FormSubmission, Tenant, Workflow
from sales_agent_pipeline.domain.drafting import WriterSettings
from sales_agent_pipeline.domain.enums import (
    ErrorClass,
    SubmissionSource,
    WorkflowMode,
    WorkflowStatus,
)
from sales_agent_pipeline.domain.workflow import OwnerHours, TenantSettings, VoiceProfile, WorkItem

CLAIMABLE = (WorkflowStatus.RECEIVED.value, WorkflowStatus.QUEUED.value)
# A re-run (re-materialisation, retry, backfill) may take over finished work too, and a
# dead letter (an operator's re-execution of its run takes it out of the queue).
RECLAIMABLE = (
    *CLAIMABLE,
    WorkflowStatus.SUCCEEDED.value,
    WorkflowStatus.FAILED.value,
    WorkflowStatus.SKIPPED.value,
    WorkflowStatus.DEAD_LETTER.value,
)


def exists(session: Session, workflow_id: uuid.UUID) -> bool:
    """Whether the workflow exists."""
    return session.get(Workflow, workflow_id) is not None


def claim(
    session: Session, workflow_ids: Sequence[uuid.UUID], run_id: str, *, rerun: bool = False
) -> list[uuid.UUID]:
    """Atomically mark the workflows running under this run; returns the ones it got.

    A workflow already running under another run is never taken; one running under this
    run (a step retry) stays ours. Concurrent claims serialise on the row lock.
    """
    statuses = RECLAIMABLE if rerun else CLAIMABLE
    claimable = or_(
        Workflow.status.in_(statuses),
        (Workflow.status == WorkflowStatus.RUNNING.value) & (Workflow.dagster_run_id == run_id),
    )
    rows = session.execute(
        update(Workflow)
        .where(Workflow.id.in_(workflow_ids), claimable)
        .values(
            status=WorkflowStatus.RUNNING.value,
            dagster_run_id=run_id,
            # A step retry of the same run keeps its start; a new run starts the clock again.
            started_at=case(
                (
                    Workflow.dagster_run_id == run_id,
                    func.coalesce(Workflow.started_at, func.now()),
                ),
                else_=func.now(),
            ),
            attempts=Workflow.attempts + 1,
            completed_at=None,
            failure_reason=None,
            next_redrive_at=None,
        )
        .returning(Workflow.id)
    ).scalars()
    return list(rows)


def blocked_tenant_reason(tenant: Tenant) -> str | None:
    """Why a tenant's work may not run now (disabled, or its HubSpot grant revoked)."""
    if tenant.disabled_at is not None:
        return f"tenant of portal {tenant.portal_id} is disabled; its leads wait until enabled"
    if tenant.auth_error:
        return tenant.auth_error
    return None


def blocked(session: Session, workflow_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The workflows whose tenant is disabled or needs HubSpot re-authorisation, and why."""
    rows = session.execute(
        select(Workflow.id, Tenant)
        .join(Tenant, Workflow.tenant_id == Tenant.id)
        .where(
            Workflow.id.in_(workflow_ids),
            or_(Tenant.disabled_at.is_not(None), Tenant.auth_error.is_not(None)),
        )
    ).all()
    found: dict[uuid.UUID, str] = {}
    for workflow_id, tenant in rows:
        reason = blocked_tenant_reason(tenant)
        if reason is not None:
            found[workflow_id] = reason
    return found


def due() -> Any:
    """The condition of a workflow that may be launched now: not held back until a later
    time (a lead waiting for an earlier write of its own to show, say). The sensors and the
    webhook's launch take only these."""
    return or_(Workflow.next_redrive_at.is_(None), Workflow.next_redrive_at <= func.now())


def hold(
    session: Session,
    workflow_id: uuid.UUID,
    reason: str,
    *,
    run_id: str,
    not_before_seconds: float | None = None,
) -> bool:
    """Put a workflow back to wait (queued, no run asked for) until its tenant can run.

    Not a failure and not an attempt: a workflow this run had claimed gives its attempt
    back. The sensors skip the tenant until it is enabled or re-authorised, then launch it;
    with `not_before_seconds`, not before that long from now (`next_redrive_at`).
    Returns False when the workflow is neither waiting for a run nor held by this run.
    """
    not_before = (
        null()
        if not_before_seconds is None
        else func.now() + func.make_interval(0, 0, 0, 0, 0, 0, not_before_seconds)
    )
    ours = (Workflow.status == WorkflowStatus.RUNNING.value) & (Workflow.dagster_run_id == run_id)
    held = session.execute(
        update(Workflow)
        .where(Workflow.id == workflow_id, or_(Workflow.status.in_(CLAIMABLE), ours))
        .values(
            status=WorkflowStatus.QUEUED.value,
            run_requested_at=None,
            attempts=case((ours, func.greatest(Workflow.attempts - 1, 0)), else_=Workflow.attempts),
            failure_reason=reason,
            started_at=None,
            next_redrive_at=not_before,
        )
        .returning(Workflow.id)
    ).first()
    return held is not None


def _tenant_settings(tenant: Tenant) -> TenantSettings:
    return TenantSettings(
        tenant_id=tenant.id,
        portal_id=tenant.portal_id,
        name=tenant.name,
        mode=WorkflowMode(tenant.mode) if tenant.mode else None,
        send_kill_switch=tenant.send_kill_switch,
        allowed_form_ids=tuple(tenant.allowed_form_ids),
        drive_folder_ids=tuple(tenant.drive_folder_ids),
        daily_send_cap=tenant.daily_send_cap,
        throttle_window_seconds=tenant.throttle_window_seconds,
        timezone=tenant.timezone,
        voice=VoiceProfile.model_validate(tenant.voice_profile or {}),
        writer=WriterSettings.model_validate(tenant.writer_settings or {}),
        sender_email=tenant.sender_email,
        default_owner_id=tenant.default_owner_id,
        holiday_country=tenant.holiday_country,
        extra_holidays=tuple(tenant.extra_holidays),
        route_by_owner=tenant.route_by_owner,
        owner_hours=owner_hours(tenant.owner_hours),
    )


def owner_hours(stored: dict[str, Any] | None) -> dict[str, OwnerHours]:
    """The tenant's owners' hours by lower-case email; an entry that does not read as hours
    (an unknown zone, an end before the start) is left out: that owner gets the defaults."""
    found: dict[str, OwnerHours] = {}
    for email, hours in (stored or {}).items():
        try:
            found[str(email).strip().lower()] = OwnerHours.model_validate(hours)
        except ValidationError:
            continue
    return found


def load_work_items(session: Session, workflow_ids: Sequence[uuid.UUID]) -> list[WorkItem]:
    """Everything the steps need about each workflow, in one query."""
    rows = session.execute(
        select(Workflow, FormSubmission, Tenant)
        .join(FormSubmission, Workflow.form_submission_id == FormSubmission.id)
        .join(Tenant, Workflow.tenant_id == Tenant.id)
        .where(Workflow.id.in_(workflow_ids))
        .order_by(Workflow.created_at)
    ).all()
    items = []
    for workflow, submission, tenant in rows:
        items.append(
            WorkItem(
                workflow_id=workflow.id,
                tenant=_tenant_settings(tenant),
                payload=submission.raw_payload,
                form_id=submission.form_id,
                hubspot_submission_id=submission.hubspot_submission_id,
                submitted_at=submission.submitted_at,
                received_at=submission.received_at,
                mode_override=WorkflowMode(workflow.mode_override)
                if workflow.mode_override
                else None,
                previous_submission_at=previous_submission_at(session, workflow),
                source=SubmissionSource(submission.source),
            )
        )
    return items


def previous_submission_at(session: Session, workflow: Workflow) -> datetime | None:
    """When the same address last submitted to this tenant before this workflow (throttle)."""
    return session.scalar(
        select(func.max(Workflow.created_at)).where(
            Workflow.tenant_id == workflow.tenant_id,
            Workflow.prospect_email == workflow.prospect_email,
            Workflow.created_at < workflow.created_at,
            Workflow.status.not_in([WorkflowStatus.REJECTED.value, WorkflowStatus.SKIPPED.value]),
        )
    )


def _next_redrive_at(delays: Sequence[timedelta]) -> Any:
    """When a dead letter is re-driven next: its `redrives`-th delay from now, or never (NULL)
    once the delays are used up. One expression, so the row's own count decides."""
    if not delays:
        return null()
    return case(
        *((Workflow.redrives == index, func.now() + delay) for index, delay in enumerate(delays)),
        else_=null(),
    )


def finish(
    session: Session,
    workflow_id: uuid.UUID,
    status: WorkflowStatus,
    *,
    reason: str | None = None,
    mode: WorkflowMode | None = None,
    error_class: ErrorClass | None = None,
    redrive_delays: Sequence[timedelta] = (),
) -> None:
    """Close a workflow with its outcome and duration.

    A dead letter (transient retries exhausted) gets its next automatic re-drive from
    `redrive_delays` by how often it was re-driven already; every other outcome clears it.
    """
    values: dict[str, object] = {
        "status": status.value,
        "failure_reason": reason,
        "error_class": error_class.value if error_class else None,
        "next_redrive_at": _next_redrive_at(redrive_delays)
        if status is WorkflowStatus.DEAD_LETTER
        else None,
        "completed_at": utcnow(),
        "duration_ms": func.greatest(
            0,
            func.floor(
                func.extract("epoch", func.now() - func.coalesce(Workflow.started_at, func.now()))
                * 1000
            ),
        ),
    }
    if mode is not None:
        values["mode"] = mode.value
    session.execute(update(Workflow).where(Workflow.id == workflow_id).values(**values))
