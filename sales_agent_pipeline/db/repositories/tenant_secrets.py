"""A tenant's secrets, encrypted with the process's SecretBox: stored, loaded, listed, rotated.

Callers own the transaction. Plaintexts exist only in the returned TenantCredentials (as
SecretStr); listings say which secrets are set and when they changed, never their values.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import SecretStr
from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from sales_agent_pipeline.db.models import Tenant, TenantSecret
from sales_agent_pipeline.domain.credentials import SecretState, TenantCredentials
from sales_agent_pipeline.domain.enums import HubSpotAuth, SecretKind
from sales_agent_pipeline.secretbox import SecretBox


def put_secret(
    session: Session,
    box: SecretBox,
    tenant_id: uuid.UUID,
    kind: SecretKind,
    value: str,
    *,
    expires_at: datetime | None = None,
) -> None:
    """Store (or replace) one secret, encrypted."""
    ciphertext = box.encrypt(value)
    statement = insert(TenantSecret).values(
        tenant_id=tenant_id, kind=kind.value, ciphertext=ciphertext, expires_at=expires_at
    )
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[TenantSecret.tenant_id, TenantSecret.kind],
            set_={"ciphertext": ciphertext, "expires_at": expires_at, "updated_at": func.now()},
        )
    )


def delete_secret(session: Session, tenant_id: uuid.UUID, kind: SecretKind) -> None:
    """Forget one secret."""
    session.execute(
        delete(TenantSecret).where(
            TenantSecret.tenant_id == tenant_id, TenantSecret.kind == kind.value
        )
    )


def get_secret(
    session: Session, box: SecretBox, tenant_id: uuid.UUID, kind: SecretKind
) -> SecretStr | None:
    """One decrypted secret, or None when it is not set."""
    ciphertext = session.scalar(
        select(TenantSecret.ciphertext).where(
            TenantSecret.tenant_id == tenant_id, TenantSecret.kind == kind.value
        )
    )
    return SecretStr(box.decrypt(ciphertext)) if ciphertext is not None else None


def load_credentials(session: Session, box: SecretBox, tenant: Tenant) -> TenantCredentials:
    """Every secret of the tenant, decrypted, with its auth kind and mailbox."""
    rows = session.execute(
        select(TenantSecret.kind, TenantSecret.ciphertext).where(
            TenantSecret.tenant_id == tenant.id
        )
    ).all()
    plain = {kind: SecretStr(box.decrypt(ciphertext)) for kind, ciphertext in rows}
    auth = HubSpotAuth(tenant.hubspot_auth) if tenant.hubspot_auth else None
    hubspot_token = (
        plain.get(SecretKind.HUBSPOT_ACCESS_TOKEN)
        if auth is HubSpotAuth.OAUTH
        else plain.get(SecretKind.HUBSPOT_TOKEN)
    )
    return TenantCredentials(
        portal_id=tenant.portal_id,
        hubspot_auth=auth,
        hubspot_token=hubspot_token,
        hubspot_refresh_token=plain.get(SecretKind.HUBSPOT_REFRESH_TOKEN),
        webhook_secret=plain.get(SecretKind.WEBHOOK_SECRET),
        google_credentials=plain.get(SecretKind.GOOGLE_CREDENTIALS),
        google_subject=tenant.sender_email,
    )


def secret_states(session: Session, tenant_id: uuid.UUID) -> list[SecretState]:
    """Which secrets are set and when each last changed (never a value)."""
    changed = dict(
        session.execute(
            select(TenantSecret.kind, TenantSecret.updated_at).where(
                TenantSecret.tenant_id == tenant_id
            )
        ).all()
    )
    return [
        SecretState(
            kind=kind,
            set=kind.value in changed,
            updated_at=changed[kind.value].isoformat() if kind.value in changed else None,
        )
        for kind in SecretKind
    ]


def rotate_all(session: Session, box: SecretBox) -> tuple[int, int]:
    """Re-encrypt every stored secret under the first key; (rotated, already current)."""
    rotated = current = 0
    rows = session.scalars(select(TenantSecret).with_for_update()).all()
    for row in rows:
        if box.is_current(row.ciphertext):
            current += 1
            continue
        row.ciphertext = box.rotate(row.ciphertext)
        rotated += 1
    session.flush()
    return rotated, current
