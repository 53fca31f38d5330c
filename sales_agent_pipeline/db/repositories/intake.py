"""The tenant a delivery's portal names, with what the webhook checks before storing it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import cast

from sqlalchemy import Table, and_, bindparam, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from sales_agent_pipeline.db.models import Tenant, TenantSecret
from sales_agent_pipeline.domain.enums import SecretKind


@dataclass(frozen=True)
class IntakeTenant:
    """The tenant a delivery's portal names, as the webhook checks it."""

    id: uuid.UUID
    portal_id: int
    # Empty: any form of the portal.
    allowed_form_ids: list[str]
    disabled: bool
    # The ciphertext of the tenant's own webhook secret; None when it has none.
    webhook_secret: bytes | None


_TENANTS = cast(Table, Tenant.__table__)
_SECRETS = cast(Table, TenantSecret.__table__)
# One Core SELECT (no ORM identity map) for the tenant and its webhook secret's ciphertext:
# the secret's row is the tenant's own, found by its id and kind, never by a name.
_TENANT_LOOKUP = (
    select(
        _TENANTS.c.id,
        _TENANTS.c.portal_id,
        _TENANTS.c.allowed_form_ids,
        _TENANTS.c.disabled_at,
        _SECRETS.c.ciphertext,
    )
    .select_from(
        _TENANTS.outerjoin(
            _SECRETS,
            and_(
                _SECRETS.c.tenant_id == _TENANTS.c.id,
                _SECRETS.c.kind == SecretKind.WEBHOOK_SECRET.value,
            ),
        )
    )
    .where(_TENANTS.c.portal_id == bindparam("portal_id"))
)


def intake_tenant(session: Session | Connection, portal_id: int) -> IntakeTenant | None:
    """The portal's tenant with its allowlist, state and webhook secret; None if unknown."""
    row = session.execute(_TENANT_LOOKUP, {"portal_id": portal_id}).first()
    if row is None:
        return None
    tenant_id, portal, allowed, disabled_at, ciphertext = row
    return IntakeTenant(tenant_id, portal, list(allowed or ()), disabled_at is not None, ciphertext)
