"""Each tenant's Gmail connector for the API's approvals, built once per credentials change.

An approval sends from the draft's tenant's own mailbox with its own Google credentials and
counts in that mailbox's quota, shared with the pipeline's runs (`vendors.tenant_mail`, the
builder the runs use too, in the live lane). Building one decrypts a key and discovers the
API, so it is kept per tenant and rebuilt only when the tenant's Google credentials or
sender change (their stored row's timestamp is the version: one small query per approval).
The vendor calls an approval makes are added to the tenant's usage.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass
from datetime import datetime

import structlog
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from sales_agent_pipeline.connectors.factory import mailbox_credentials
from sales_agent_pipeline.connectors.metering import UsageMeter
from sales_agent_pipeline.db.models import Tenant, TenantSecret
from sales_agent_pipeline.db.repositories.tenant_secrets import load_credentials
from sales_agent_pipeline.domain.enums import SecretKind
from sales_agent_pipeline.ports.vendors import Mail
from sales_agent_pipeline.secretbox import secret_box
from sales_agent_pipeline.settings import Settings
from sales_agent_pipeline.usecases.usage import record_usage
from sales_agent_pipeline.usecases.vendors import tenant_mail

log = structlog.get_logger(__name__)

Version = tuple[str | None, datetime | None]


@dataclass
class _Mailbox:
    version: Version
    mail: Mail
    meter: UsageMeter


class TenantMailboxes:
    """`approve_draft`'s MailFor: the tenant's cached Gmail connector, current credentials."""

    def __init__(self, engine: Engine, sessions: sessionmaker[Session], settings: Settings) -> None:
        self._engine = engine
        self._sessions = sessions
        self._settings = settings
        self._built: dict[tuple[uuid.UUID, str | None], _Mailbox] = {}
        self._lock = threading.Lock()

    def _version(self, tenant: Tenant) -> Version:
        with self._sessions() as session:
            changed = session.scalar(
                select(TenantSecret.updated_at).where(
                    TenantSecret.tenant_id == tenant.id,
                    TenantSecret.kind == SecretKind.GOOGLE_CREDENTIALS.value,
                )
            )
        return tenant.sender_email, changed

    def __call__(self, tenant: Tenant, mailbox: str | None = None) -> Mail:
        """The tenant's Gmail connector acting for `mailbox` (a contact owner's, under
        domain-wide delegation; None: the tenant's sender). ConfigurationError naming the
        portal when it has no usable Google credentials."""
        version = self._version(tenant)
        key = (tenant.id, mailbox.strip().lower() if mailbox else None)
        with self._lock:
            found = self._built.get(key)
            if found is not None and found.version == version:
                return found.mail
            # One meter per tenant, whichever of its mailboxes called.
            meter = next(
                (m.meter for (t, _), m in self._built.items() if t == tenant.id), UsageMeter()
            )
            with self._sessions() as session:
                credentials = load_credentials(session, secret_box(self._settings), tenant)
            acting = mailbox_credentials(credentials, mailbox)
            mail = tenant_mail(self._engine, self._settings, acting, meter=meter)
            self._built[key] = _Mailbox(version, mail, meter)
            return mail

    def record_usage(self, tenant_id: uuid.UUID) -> None:
        """Add what the tenant's approvals called since the last time to its daily usage."""
        with self._lock:
            found = next((m for (t, _), m in self._built.items() if t == tenant_id), None)
        if found is None:
            return
        try:
            record_usage(self._sessions.begin, {tenant_id: found.meter})
        except Exception:
            # The counts went back to the meter for the next approval's write: usage is
            # counted late, never lost, and an approval never fails on it.
            log.warning("usage.write_failed", tenant_id=str(tenant_id), exc_info=True)
