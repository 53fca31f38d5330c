"""The demo `sales-agent up` runs without credentials: a tenant on the sandbox's portal,
three leads posted through the real webhook with valid v3 signatures, the first draft."""

from __future__ import annotations

import json
import secrets
import time
import uuid
from pathlib import Path

import httpx
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from sales_agent_pipeline.connectors.hubspot_signature import sign_v3
from sales_agent_pipeline.db.models import DraftEmail, Tenant, Workflow
from sales_agent_pipeline.db.repositories.tenant_secrets import get_secret, put_secret
from sales_agent_pipeline.domain.enums import SecretKind
from sales_agent_pipeline.secretbox import SecretDecryptError, secret_box, write_private_once
from sales_agent_pipeline.settings import Settings, get_settings

DEMO_PORTAL = 1000  # the sandbox's default portal
DEMO_FORM = "demo-contact-form"
DEMO_SENDER = "alex.morgan@sandbox.example.com"
DEMO_LEADS = (
    ("jordan.lee@acme-robotics.example", "Jordan", "Lee", "Acme Robotics", "Robotics",
     "Fleet automation for our three warehouses"),
    ("maria.garcia@ledgerline.example", "Maria", "Garcia", "Ledgerline", "Fintech",
     "Reconciliation at month end"),
    ("dana.white@northwind.example", "Dana", "White", "Northwind Clinics", "Healthcare",
     "Patient intake forms"),
)  # fmt: skip


def demo_secret(data_dir: Path) -> str:
    """The demo's webhook signing secret, made once per data dir (never a real secret)."""
    path = data_dir / "demo-webhook-secret"
    write_private_once(path, secrets.token_urlsafe(32))
    return path.read_text().strip()


def _store_demo_secret(session: Session, settings: Settings, tenant: Tenant) -> None:
    """The tenant's webhook secret is the data dir's demo secret (encrypted like any other)."""
    box = secret_box(settings)
    wanted = demo_secret(Path(settings.data_dir).resolve())
    try:
        stored = get_secret(session, box, tenant.id, SecretKind.WEBHOOK_SECRET)
    except SecretDecryptError:
        # Encrypted under a development key since deleted: the demo's own secret replaces it.
        stored = None
    if stored is None or stored.get_secret_value() != wanted:
        put_secret(session, box, tenant.id, SecretKind.WEBHOOK_SECRET, wanted)


def ensure_demo_tenant(sessions: sessionmaker[Session], settings: Settings | None = None) -> Tenant:
    """The demo tenant, created on first run, its webhook secret the data dir's demo secret."""
    with sessions.begin() as session:
        tenant = session.scalar(select(Tenant).where(Tenant.portal_id == DEMO_PORTAL))
        if tenant is None:
            tenant = Tenant(
                portal_id=DEMO_PORTAL,
                name="Demo Co (sandbox)",
                allowed_form_ids=[DEMO_FORM],
                drive_folder_ids=["folder-case-studies", "folder-one-pagers"],
                timezone="America/New_York",
                sender_email=DEMO_SENDER,
                default_owner_id="90000001",
                holiday_country="US",
                throttle_window_seconds=0,
                voice_profile={
                    "sender_name": "Alex Morgan",
                    "sender_title": "Account Executive",
                    "company_name": "Demo Co",
                },
            )
            session.add(tenant)
            session.flush()
        _store_demo_secret(session, settings or get_settings(), tenant)
        session.expunge(tenant)
    return tenant


def _demo_fields(n: int) -> list[dict[str, str]]:
    email, first, last, company, industry, message = DEMO_LEADS[n]
    return [
        {"name": "email", "value": email},
        {"name": "firstname", "value": first},
        {"name": "lastname", "value": last},
        {"name": "company", "value": company},
        {"name": "industry", "value": industry},
        {"name": "message", "value": message},
    ]


def post_demo_leads(api_url: str, secret: str, sandbox_url: str | None = None) -> list[str]:
    """Post the demo leads to the webhook, signed; returns their workflow ids.

    With the sandbox's URL, each submission is first recorded in the sandbox's form
    listing under the same id (HubSpot's conversionId is the webhook's formSubmissionId),
    as HubSpot records a submission before its workflow posts it: reconciliation then
    finds all three delivered by webhook.
    """
    url = f"{api_url}/webhook/formlead"
    ids: list[str] = []
    run = uuid.uuid4().hex[:8]
    with httpx.Client(timeout=10) as client:
        if sandbox_url:
            seed = {
                "portalId": DEMO_PORTAL,
                "formSubmissions": [
                    {
                        "formGuid": DEMO_FORM,
                        "conversionId": f"demo-{run}-{n}",
                        "values": _demo_fields(n),
                    }
                    for n in range(len(DEMO_LEADS))
                ],
            }
            client.post(f"{sandbox_url}/_sandbox/seed", json=seed).raise_for_status()
        for n in range(len(DEMO_LEADS)):
            body = json.dumps(
                {
                    "portalId": DEMO_PORTAL,
                    "formId": DEMO_FORM,
                    "formSubmissionId": f"demo-{run}-{n}",
                    "fieldValues": _demo_fields(n),
                }
            ).encode()
            headers = sign_v3(secret, "POST", url, body, int(time.time() * 1000))
            response = client.post(
                url, content=body, headers={**headers, "Content-Type": "application/json"}
            )
            response.raise_for_status()
            ids.append(response.json()["workflow_id"])
    return ids


def first_draft(sessions: sessionmaker[Session], workflow_id: str, timeout: float) -> str | None:
    """The first demo lead's draft once its workflow finished, as text."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            found = _draft_text(sessions, uuid.UUID(workflow_id))
        except OperationalError:
            found = None  # the database restarting: look again, the stack stays up
        if found is not None:
            return found
        time.sleep(0.5)
    return None


def _draft_text(sessions: sessionmaker[Session], workflow_id: uuid.UUID) -> str | None:
    with sessions() as session:
        workflow = session.get(Workflow, workflow_id)
        if workflow is None or workflow.status in ("received", "queued", "running"):
            return None
        draft = session.scalar(select(DraftEmail).where(DraftEmail.workflow_id == workflow.id))
        if draft is None:
            return f"(workflow ended {workflow.status}: {workflow.failure_reason})"
        return f"To: {draft.to_email}\nSubject: {draft.subject}\n\n{draft.body}"
