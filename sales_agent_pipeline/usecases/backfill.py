"""Re-runs of past leads: which workflows a window holds, and what a re-run would do upstream.

What a re-run does follows from the exactly-once records: a draft that exists is updated, a
sent email and a created task are left alone, a contact is upserted by email again. Each
lead is judged with its own tenant: one that is disabled or needs HubSpot re-authorisation
waits, one without the credentials it needs fails, naming what is missing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from sales_agent_pipeline.db.models import (
    DraftEmail,
    FormSubmission,
    IdempotencyKey,
    Tenant,
    TenantSecret,
    Workflow,
)
from sales_agent_pipeline.db.repositories.workflows import blocked_tenant_reason
from sales_agent_pipeline.domain.enums import HubSpotAuth, IdempotencyStatus, SecretKind
from sales_agent_pipeline.settings import Settings, google_base_url

TASK_SCOPE = "hubspot.task.create"


@dataclass(frozen=True)
class RerunPlan:
    """What re-running one workflow would do in HubSpot and Gmail."""

    workflow_id: uuid.UUID
    email: str
    status: str
    created_at: datetime
    contact: str
    gmail: str
    task: str
    portal_id: int = 0
    # Why the tenant's re-run would wait or fail instead (None: it can run).
    tenant_note: str | None = None


def workflows_in_window(
    session: Session,
    since: datetime,
    until: datetime,
    portal_id: int | None = None,
    import_id: uuid.UUID | None = None,
) -> list[Workflow]:
    """Workflows created in [since, until), oldest first; one tenant's or one import's."""
    query = select(Workflow).where(Workflow.created_at >= since, Workflow.created_at < until)
    if import_id is not None:
        query = query.join(FormSubmission, FormSubmission.id == Workflow.form_submission_id).where(
            FormSubmission.import_id == import_id
        )
    if portal_id is not None:
        query = query.join(Tenant, Tenant.id == Workflow.tenant_id).where(
            Tenant.portal_id == portal_id
        )
    return list(session.scalars(query.order_by(Workflow.created_at, Workflow.id)))


def tenant_notes(
    session: Session, tenant_ids: set[uuid.UUID], settings: Settings | None
) -> dict[uuid.UUID, tuple[int, str | None]]:
    """Per tenant: its portal, and why its leads would wait or fail now (None: they run).

    Reads which secrets are stored, never their values."""
    tenants = session.scalars(select(Tenant).where(Tenant.id.in_(tenant_ids))).all()
    stored: dict[uuid.UUID, set[str]] = {}
    for tenant_id, kind in session.execute(
        select(TenantSecret.tenant_id, TenantSecret.kind).where(
            TenantSecret.tenant_id.in_(tenant_ids)
        )
    ):
        stored.setdefault(tenant_id, set()).add(kind)
    notes: dict[uuid.UUID, tuple[int, str | None]] = {}
    for tenant in tenants:
        note = blocked_tenant_reason(tenant)
        if note is not None:
            note = f"waits: {note}"
        elif settings is not None:
            note = _missing(tenant, stored.get(tenant.id, set()), settings)
        notes[tenant.id] = (tenant.portal_id, note)
    return notes


def _missing(tenant: Tenant, kinds: set[str], settings: Settings) -> str | None:
    portal = tenant.portal_id
    if tenant.hubspot_auth == HubSpotAuth.OAUTH.value:
        if SecretKind.HUBSPOT_REFRESH_TOKEN.value not in kinds:
            return f"fails: portal {portal} has no OAuth grant stored (install the app)"
    elif SecretKind.HUBSPOT_TOKEN.value not in kinds and not settings.sandbox_mode:
        return f"fails: portal {portal} has no HubSpot token stored"
    if SecretKind.GOOGLE_CREDENTIALS.value not in kinds and google_base_url(settings) is None:
        return f"fails: portal {portal} has no Google credentials stored"
    return None


def plan_reruns(
    session: Session, workflows: list[Workflow], settings: Settings | None = None
) -> list[RerunPlan]:
    """Per workflow: create, update or leave alone, from our records alone (reads only);
    with `settings`, also whether its tenant's credentials would let it run."""
    ids = [workflow.id for workflow in workflows]
    notes = tenant_notes(session, {workflow.tenant_id for workflow in workflows}, settings)
    drafts = {
        draft.workflow_id: draft
        for draft in session.scalars(select(DraftEmail).where(DraftEmail.workflow_id.in_(ids)))
    }
    tasks = {
        record.workflow_id: record
        for record in session.scalars(
            select(IdempotencyKey).where(
                IdempotencyKey.scope == TASK_SCOPE, IdempotencyKey.workflow_id.in_(ids)
            )
        )
    }
    plans = []
    for workflow in workflows:
        draft = drafts.get(workflow.id)
        if draft is not None and draft.sent:
            gmail = (
                f"leave alone (email sent {draft.sent_at:%Y-%m-%d %H:%M})"
                if draft.sent_at
                else ("leave alone (email sent)")
            )
        elif draft is not None and draft.gmail_draft_id:
            gmail = f"update draft {draft.gmail_draft_id}"
        else:
            gmail = "create draft"
        record = tasks.get(workflow.id)
        if record is not None and record.status == IdempotencyStatus.COMPLETED.value:
            task_id = (record.result or {}).get("id", "?")
            task = f"leave alone (task {task_id})"
        elif record is not None and record.status == IdempotencyStatus.PENDING.value:
            task = "find by marker, create only if missing"
        else:
            task = "create task"
        contact = (
            "update contact"
            if record is not None or draft is not None
            else "create or update contact"
        )
        plans.append(
            RerunPlan(
                workflow_id=workflow.id,
                email=workflow.prospect_email,
                status=workflow.status,
                created_at=workflow.created_at,
                contact=contact,
                gmail=gmail,
                task=task,
                portal_id=notes[workflow.tenant_id][0],
                tenant_note=notes[workflow.tenant_id][1],
            )
        )
    return plans
