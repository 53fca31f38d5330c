"""A re-run's dry run judges each lead with its own tenant: disabled or needing HubSpot
re-authorisation waits, without the credentials it needs fails (naming the portal)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from sales_agent_pipeline.db.models import Tenant, Workflow
from sales_agent_pipeline.db.repositories.tenant_secrets import put_secret
from sales_agent_pipeline.domain.enums import SecretKind
from sales_agent_pipeline.secretbox import SecretBox, generate_key
from sales_agent_pipeline.settings import Settings
from sales_agent_pipeline.usecases.backfill import plan_reruns
from tests.conftest import accept_lead
from tests.integration.pipeline.tenancy import new_portal_id


def _tenant(session: Session, name: str, **values: object) -> Tenant:
    tenant = Tenant(portal_id=new_portal_id(), name=name, **values)
    session.add(tenant)
    session.flush()
    return tenant


def _lead(session: Session, tenant: Tenant) -> Workflow:
    accepted = accept_lead(session, tenant, f"{uuid.uuid4().hex[:8]}@plan.example")
    return session.get_one(Workflow, accepted.workflow_id)


def test_the_plan_says_which_tenants_would_wait_or_fail(db_session: Session) -> None:
    box = SecretBox([generate_key()])
    ready = _tenant(db_session, "ready", hubspot_auth="private_app")
    put_secret(db_session, box, ready.id, SecretKind.HUBSPOT_TOKEN, "pat-ready")
    put_secret(db_session, box, ready.id, SecretKind.GOOGLE_CREDENTIALS, "{}")
    bare = _tenant(db_session, "bare")
    off = _tenant(db_session, "off", disabled_at=datetime.now(UTC))
    revoked = _tenant(
        db_session,
        "revoked",
        hubspot_auth="oauth",
        auth_error="portal needs HubSpot re-authorisation",
        auth_error_at=datetime.now(UTC),
    )
    workflows = [_lead(db_session, t) for t in (ready, bare, off, revoked)]
    # Real HubSpot and Google: nothing stands in for a missing credential.
    live = Settings(_env_file=None, sandbox=False, google_api_base_url=None)

    plans = plan_reruns(db_session, workflows, live)

    notes = {plan.portal_id: plan.tenant_note for plan in plans}
    assert notes[ready.portal_id] is None
    assert notes[bare.portal_id] == f"fails: portal {bare.portal_id} has no HubSpot token stored"
    off_note = notes[off.portal_id] or ""
    assert off_note.startswith("waits: ")
    assert "disabled" in off_note
    assert notes[revoked.portal_id] == "waits: portal needs HubSpot re-authorisation"
    # In sandbox mode a tenant with nothing stored runs on the sandbox (the demo's case).
    sandboxed = plan_reruns(db_session, workflows, Settings(_env_file=None, sandbox=True))
    assert {p.portal_id: p.tenant_note for p in sandboxed}[bare.portal_id] is None
