"""Operator grants: which signed-in Dagster UI users may act for which tenants."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from sales_agent_pipeline.db.models import OperatorGrant, Tenant

# An email (local@domain) or `@domain`: what a sign-in proxy passes, lower-cased. Not a full
# RFC 5322 parser: the proxy has checked the address; this only keeps typos out of grants.
_SUBJECT = re.compile(r"^([^@\s]+)?@[a-z0-9-]+(\.[a-z0-9-]+)+$")


class BadSubject(ValueError):
    """Not an email address or an `@domain`."""


def normalise_subject(subject: str) -> str:
    """The grant's subject as stored: stripped, lower-cased, checked."""
    clean = subject.strip().lower()
    if len(clean) > 254 or not _SUBJECT.match(clean):
        raise BadSubject(
            f"{subject!r} is neither an email address nor @domain (e.g. ana@example.com or "
            "@example.com)"
        )
    return clean


@dataclass(frozen=True)
class GrantRow:
    """A grant as `sales-agent operator list` shows it."""

    subject: str
    portal_id: int | None
    granted_by: str
    created_at: datetime


def grant(session: Session, subject: str, tenant_id: uuid.UUID | None, granted_by: str) -> bool:
    """Allow `subject` to act for the tenant (every tenant: None); False when it already was."""
    inserted = session.execute(
        insert(OperatorGrant)
        .values(
            id=uuid.uuid4(),
            subject=normalise_subject(subject),
            tenant_id=tenant_id,
            granted_by=granted_by,
        )
        .on_conflict_do_nothing()
        .returning(OperatorGrant.id)
    ).first()
    return inserted is not None


def revoke(session: Session, subject: str, tenant_id: uuid.UUID | None) -> int:
    """Withdraw the grant of `subject` for the tenant (the every-tenant one: None)."""
    condition = (
        OperatorGrant.tenant_id.is_(None)
        if tenant_id is None
        else OperatorGrant.tenant_id == tenant_id
    )
    result = session.execute(
        delete(OperatorGrant).where(OperatorGrant.subject == normalise_subject(subject), condition)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def list_grants(session: Session) -> list[GrantRow]:
    """Every grant, by subject, the every-tenant ones first."""
    rows = session.execute(
        select(OperatorGrant, Tenant.portal_id)
        .outerjoin(Tenant, OperatorGrant.tenant_id == Tenant.id)
        .order_by(OperatorGrant.subject, Tenant.portal_id.nulls_first())
    ).all()
    return [
        GrantRow(row.subject, portal_id, row.granted_by, row.created_at) for row, portal_id in rows
    ]


def tenants_for(session: Session, operator: str) -> frozenset[uuid.UUID] | None:
    """The tenants `operator` may act for (through its own grants and its domain's); None
    means every tenant, an empty set none."""
    identity = operator.strip().lower()
    domain = "@" + identity.rpartition("@")[2] if "@" in identity else None
    subjects = [identity, *([domain] if domain else [])]
    rows = session.scalars(
        select(OperatorGrant.tenant_id).where(
            or_(*(OperatorGrant.subject == subject for subject in subjects))
        )
    ).all()
    if any(tenant_id is None for tenant_id in rows):
        return None
    return frozenset(tenant_id for tenant_id in rows if tenant_id is not None)
