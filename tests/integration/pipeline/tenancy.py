"""Tenants with their own credentials for the pipeline tests, stored the way the CLI stores
them (encrypted with the test process's key), and the sandbox's view of whose call was whose."""

from __future__ import annotations

import hashlib
import json
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from sales_agent_pipeline.db.models import Tenant
from sales_agent_pipeline.db.repositories.tenant_secrets import put_secret
from sales_agent_pipeline.domain.enums import HubSpotAuth, SecretKind
from sales_agent_pipeline.secretbox import secret_box
from sales_agent_pipeline.settings import get_settings
from tests.integration.pipeline.conftest import Lead, lead_fields, store_delivery
from tests.sandbox.conftest import Admin

OWNER_ID = "90000001"


def fingerprint(token: str) -> str:
    """The sandbox's name for a HubSpot token in its request log."""
    return hashlib.sha256(token.encode()).hexdigest()[:12]


@dataclass
class Company:
    """A customer of the product: its tenant, HubSpot portal, token and Google identity."""

    tenant: Tenant
    token: str | None
    mailbox: str
    form: str
    folder: str
    key: dict[str, Any] | None = None
    leads: list[Lead] = field(default_factory=list)

    @property
    def portal_id(self) -> int:
        return self.tenant.portal_id


def new_portal_id() -> int:
    """A portal id no other test uses."""
    return random.randint(10_000_000, 99_999_999)


def store_secrets(engine: Engine, tenant: Tenant, **secrets: str | None) -> None:
    """Store (encrypted) the given secrets of a tenant; None leaves one unset."""
    box = secret_box(get_settings())
    with Session(engine) as session, session.begin():
        for name, value in secrets.items():
            if value is not None:
                put_secret(session, box, tenant.id, SecretKind(name), value)


def add_company(
    engine: Engine,
    sandbox: Admin,
    name: str,
    *,
    portal_id: int | None = None,
    token: bool = True,
    google: bool = True,
    auth: HubSpotAuth | None = HubSpotAuth.PRIVATE_APP,
    extra_forms: Sequence[str] = (),
) -> Company:
    """A tenant on a portal of its own: a private-app token bound to that portal, an owner,
    a form, a Drive folder and a calendar of its mailbox, and a service-account key
    delegated for its domain only (each tenant's key is its own)."""
    portal = portal_id or new_portal_id()
    domain = f"{name}-{portal}.example"
    mailbox = f"sales@{domain}"
    form = f"form-{name}-{portal}"
    folder = f"folder-{name}-{portal}"
    secret = sandbox.register_token(portal_id=portal) if token else None
    sandbox.seed(
        portalId=portal,
        owners=[{"id": OWNER_ID, "email": mailbox, "firstName": name.title(), "lastName": "Lead"}],
        forms=[form, *extra_forms],
        calendars=[{"id": mailbox, "timeZone": "UTC", "busy": []}],
        driveFiles=[
            {
                "id": folder,
                "name": f"{name} assets",
                "mimeType": "application/vnd.google-apps.folder",
                "owner": mailbox,
            },
            {
                "name": f"{name} robotics case study.pdf",
                "parents": [folder],
                "owner": mailbox,
                "content": "robotics warehouse automation",
            },
        ],
    )
    key = sandbox.service_account([domain], name=f"sa-{name}-{portal}") if google else None
    with Session(engine, expire_on_commit=False) as session, session.begin():
        tenant = Tenant(
            portal_id=portal,
            name=f"{name.title()} {portal}",
            allowed_form_ids=[form],
            drive_folder_ids=[folder],
            timezone="UTC",
            sender_email=mailbox,
            default_owner_id=OWNER_ID,
            throttle_window_seconds=0,
            hubspot_auth=auth.value if auth else None,
            voice_profile={"sender_name": name.title(), "company_name": name.title()},
        )
        session.add(tenant)
    store_secrets(
        engine,
        tenant,
        hubspot_token=secret,
        google_credentials=json.dumps(key) if key else None,
    )
    return Company(tenant, secret, mailbox, form, folder, key)


def submit(engine: Engine, company: Company, email: str, **fields: str) -> Lead:
    """A lead of the company's form, stored the way the webhook stores it (committed)."""
    values = lead_fields(email, **fields)
    workflow_id = store_delivery(engine, company.tenant, company.form, str(uuid.uuid4()), values)
    lead = Lead(workflow_id, email)
    company.leads.append(lead)
    return lead


def by_identity(requests: list[dict[str, Any]]) -> dict[str, dict[str, set[Any]]]:
    """What each caller touched: HubSpot tokens by fingerprint, Google callers by subject."""
    seen: dict[str, dict[str, set[Any]]] = {}
    for entry in requests:
        who = entry["identity"]
        name = (
            f"hubspot:{who.get('token')}"
            if entry["vendor"] == "hubspot"
            else f"google:{who.get('subject')}"
        )
        touched = seen.setdefault(name, {})
        for kind, values in (entry.get("touched") or {}).items():
            touched.setdefault(kind, set()).update(
                str(v).lower() if isinstance(v, str) else v for v in values
            )
    return seen


def secrets_of(company: Company) -> list[str]:
    """Every secret the company's tenant stores (or the sandbox gave it) that must never
    show: its HubSpot token, its service-account private key (a distinctive line of it)."""
    found = [company.token] if company.token else []
    if company.key:
        lines = [line for line in company.key["private_key"].splitlines() if len(line) > 40]
        found.append(lines[1])
    return found


def assert_nowhere(texts: Sequence[str], secrets: Sequence[str]) -> None:
    """No secret appears in any of the texts (logs, event records, tags, metadata)."""
    for secret in secrets:
        assert all(secret not in text for text in texts), "a secret leaked"
