"""Helpers of the operator API tests: keys, what is stored (secrets, audited changes), and
workflows and drafts stored as the pipeline stores them (committed: the app under test opens
its own connections)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from sales_agent_pipeline.db.models import (
    DraftEmail,
    SettingsChange,
    Tenant,
    TenantSecret,
    Workflow,
)
from sales_agent_pipeline.db.repositories.api_keys import issue_key
from sales_agent_pipeline.db.repositories.outbox import accept_submission


def key_for(engine: Engine, tenant: Tenant, *, admin: bool = False, name: str = "ops") -> str:
    """A new plaintext key of the tenant."""
    with Session(engine) as session, session.begin():
        return issue_key(session, tenant.id, name=name, admin=admin).key


def bearer(key: str) -> dict[str, str]:
    """The Authorization header of a key."""
    return {"Authorization": f"Bearer {key}"}


def audit_rows(engine: Engine, tenant: Tenant) -> int:
    """How many settings changes are audited for the tenant."""
    with Session(engine) as session:
        count = session.scalar(
            select(func.count())
            .select_from(SettingsChange)
            .where(SettingsChange.tenant_id == tenant.id)
        )
    return int(count or 0)


def secrets_of(engine: Engine, portal_id: int) -> dict[str, bytes]:
    """The secret rows of the portal's tenant (none before it exists): kind -> ciphertext."""
    with Session(engine) as session:
        rows = session.execute(
            select(TenantSecret.kind, TenantSecret.ciphertext)
            .join(Tenant, Tenant.id == TenantSecret.tenant_id)
            .where(Tenant.portal_id == portal_id)
        ).all()
    return {kind: bytes(ciphertext) for kind, ciphertext in rows}


def add_workflow(
    engine: Engine,
    tenant: Tenant,
    email: str,
    *,
    status: str = "succeeded",
    created_at: datetime | None = None,
    **values: Any,
) -> uuid.UUID:
    """A submission and its workflow, then moved to `status` (and `created_at`)."""
    with Session(engine) as session, session.begin():
        accepted = accept_submission(
            session,
            tenant,
            form_id="form-guid-1",
            hubspot_submission_id=str(uuid.uuid4()),
            payload={"email": email},
            email=email,
            company="Acme Robotics",
        )
        changes: dict[str, Any] = {"status": status, **values}
        if created_at is not None:
            changes["created_at"] = created_at
        session.execute(
            update(Workflow).where(Workflow.id == accepted.workflow_id).values(**changes)
        )
    return accepted.workflow_id


def add_draft(engine: Engine, workflow_id: uuid.UUID, to: str, **values: Any) -> uuid.UUID:
    """The workflow's draft row as step 10/11 leave it."""
    with Session(engine) as session, session.begin():
        draft = DraftEmail(
            workflow_id=workflow_id,
            to_email=to,
            subject=f"Following up, {to}",
            body="Hi there,\n\nShall we talk on Tuesday?\n\nBest,\nAlex",
            body_html="<p>Hi there,</p>",
            assets=[{"id": "file-1", "name": "Case study.pdf", "mime_type": "application/pdf"}],
            assets_included=1,
            **values,
        )
        session.add(draft)
        session.flush()
        return draft.id


def at(day: int, hour: int = 12) -> datetime:
    """A fixed UTC instant in November 2026."""
    return datetime(2026, 11, day, hour, tzinfo=UTC)
