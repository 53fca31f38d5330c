"""A tenant's suppression list: addresses and whole domains it never mails, and why.

Values are checked and lower-cased here (`normalise`), so every writer (the API, the CLI,
an unsubscribe, a bounce, a HubSpot opt-out) keys them the same way; the unique index on
(tenant_id, kind, value) makes a second add of the same entry a no-op, even when two
arrive at once.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Collection

from sqlalchemy import Select, delete, or_, select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from sales_agent_pipeline.db.models import Suppression as SuppressionRow
from sales_agent_pipeline.db.repositories.browse import Position
from sales_agent_pipeline.domain.compliance import (
    Suppression,
    SuppressionKind,
    SuppressionReason,
    domain_of,
    normalise_address,
)

# RFC 5321's limits: a path of 254 characters, a local part of 64, a domain of 253 with
# labels of 63. The local part: RFC 5322's dot-atom (no quoted strings, no spaces).
MAX_ADDRESS = 254
MAX_LOCAL = 64
MAX_DOMAIN = 253
MAX_SOURCE = 500
MAX_CREATED_BY = 255
_LOCAL = re.compile(r"^[a-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


class BadSuppression(ValueError):
    """Not an email address or a domain (or too long); nothing was written."""


def _domain(value: str, original: str) -> str:
    try:
        # An internationalised domain is kept in its ASCII (punycode) form, as mail has it.
        ascii_domain = value.encode("idna").decode("ascii") if not value.isascii() else value
    except UnicodeError:
        raise BadSuppression(f"{original!r}: not a valid domain") from None
    ascii_domain = ascii_domain.lower().rstrip(".")
    if len(ascii_domain) > MAX_DOMAIN:
        raise BadSuppression(f"{original!r}: a domain is at most {MAX_DOMAIN} characters")
    labels = ascii_domain.split(".")
    if len(labels) < 2:
        raise BadSuppression(f"{original!r}: a domain has at least one dot (e.g. example.com)")
    if not all(_LABEL.match(label) for label in labels) or labels[-1].isdigit():
        raise BadSuppression(f"{original!r}: not a valid domain (e.g. example.com)")
    return ascii_domain


def normalise(value: str, kind: SuppressionKind | None = None) -> tuple[SuppressionKind, str]:
    """The entry as stored: its kind (an address when it holds an @, else a domain; an
    `@example.com` is the domain) and its checked, lower-case value; BadSuppression."""
    if not isinstance(value, str):
        raise BadSuppression("an address or a domain is a string")
    clean = value.strip()
    shown = clean if len(clean) <= 80 else clean[:77] + "..."
    if not clean:
        raise BadSuppression("an address or a domain is required")
    if len(clean) > MAX_ADDRESS:
        raise BadSuppression(f"{shown!r}: longer than {MAX_ADDRESS} characters")
    if kind is None:
        kind = (
            SuppressionKind.ADDRESS
            if "@" in clean and not clean.startswith("@")
            else SuppressionKind.DOMAIN
        )
    if kind is SuppressionKind.DOMAIN:
        return kind, _domain(clean.removeprefix("@"), shown)
    local, at, domain = clean.rpartition("@")
    if not at or not local:
        raise BadSuppression(f"{shown!r}: not an email address (e.g. ana@example.com)")
    local = normalise_address(local)
    if len(local) > MAX_LOCAL or not _LOCAL.match(local):
        raise BadSuppression(f"{shown!r}: not an email address (e.g. ana@example.com)")
    address = f"{local}@{_domain(domain, shown)}"
    if len(address) > MAX_ADDRESS:
        raise BadSuppression(f"{shown!r}: longer than {MAX_ADDRESS} characters")
    return kind, address


def to_domain(row: SuppressionRow) -> Suppression:
    """The domain model of a row."""
    return Suppression(
        kind=SuppressionKind(row.kind),
        value=row.value,
        reason=SuppressionReason(row.reason),
        source=row.source,
        created_by=row.created_by,
        created_at=row.created_at,
    )


def add(
    session: Session,
    tenant_id: uuid.UUID,
    kind: SuppressionKind,
    value: str,
    reason: SuppressionReason,
    *,
    source: str | None = None,
    created_by: str | None = None,
    workflow_id: uuid.UUID | None = None,
) -> bool:
    """Suppress the address or domain for the tenant; False when it already was (a no-op:
    the first entry's reason is kept). BadSuppression on a value that is neither."""
    kind, clean = normalise(value, kind)
    inserted = session.execute(
        insert(SuppressionRow)
        .values(
            id=uuid.uuid4(),
            tenant_id=tenant_id,
            kind=kind.value,
            value=clean,
            reason=SuppressionReason(reason).value,
            source=source[:MAX_SOURCE] if source else None,
            created_by=created_by[:MAX_CREATED_BY] if created_by else None,
            workflow_id=workflow_id,
        )
        .on_conflict_do_nothing(index_elements=["tenant_id", "kind", "value"])
        .returning(SuppressionRow.id)
    ).first()
    return inserted is not None


def get(
    session: Session, tenant_id: uuid.UUID, kind: SuppressionKind, value: str
) -> SuppressionRow | None:
    """The tenant's entry for exactly this address or domain."""
    kind, clean = normalise(value, kind)
    return session.scalars(
        select(SuppressionRow).where(
            SuppressionRow.tenant_id == tenant_id,
            SuppressionRow.kind == kind.value,
            SuppressionRow.value == clean,
        )
    ).first()


def remove(session: Session, tenant_id: uuid.UUID, kind: SuppressionKind, value: str) -> bool:
    """Mail the address or domain again; False when the tenant had no such entry."""
    kind, clean = normalise(value, kind)
    result = session.execute(
        delete(SuppressionRow).where(
            SuppressionRow.tenant_id == tenant_id,
            SuppressionRow.kind == kind.value,
            SuppressionRow.value == clean,
        )
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def _matching(tenant_id: uuid.UUID, address: str) -> Select[SuppressionRow]:
    clean = normalise_address(address)
    conditions = [
        (SuppressionRow.kind == SuppressionKind.ADDRESS.value) & (SuppressionRow.value == clean)
    ]
    domain = domain_of(clean)
    if domain:
        conditions.append(
            (SuppressionRow.kind == SuppressionKind.DOMAIN.value) & (SuppressionRow.value == domain)
        )
    return (
        select(SuppressionRow)
        .where(SuppressionRow.tenant_id == tenant_id, or_(*conditions))
        # The address's own entry before its domain's.
        .order_by(SuppressionRow.kind)
    )


def find_row(session: Session, tenant_id: uuid.UUID, address: str) -> SuppressionRow | None:
    """The entry that suppresses the address (its own, else its domain's), or None."""
    return session.scalars(_matching(tenant_id, address).limit(1)).first()


def find(session: Session, tenant_id: uuid.UUID, address: str) -> Suppression | None:
    """Why the tenant never mails this address (its own entry, else its domain's), or None.
    Never raises on odd input: an address that cannot be suppressed is not."""
    if not isinstance(address, str) or not address.strip():
        return None
    row = find_row(session, tenant_id, address)
    return to_domain(row) if row is not None else None


def find_many(
    session: Session, tenant_id: uuid.UUID, addresses: Collection[str]
) -> dict[str, Suppression]:
    """For each of the addresses the tenant suppresses (by itself or its domain), why;
    keyed by the normalised address."""
    wanted = {normalise_address(a) for a in addresses if isinstance(a, str) and a.strip()}
    if not wanted:
        return {}
    domains = {domain_of(a) for a in wanted} - {""}
    rows = session.scalars(
        select(SuppressionRow).where(
            SuppressionRow.tenant_id == tenant_id,
            or_(
                (SuppressionRow.kind == SuppressionKind.ADDRESS.value)
                & SuppressionRow.value.in_(wanted),
                (SuppressionRow.kind == SuppressionKind.DOMAIN.value)
                & SuppressionRow.value.in_(domains),
            ),
        )
    ).all()
    by_address = {row.value: row for row in rows if row.kind == SuppressionKind.ADDRESS.value}
    by_domain = {row.value: row for row in rows if row.kind == SuppressionKind.DOMAIN.value}
    found: dict[str, Suppression] = {}
    for address in wanted:
        row = by_address.get(address) or by_domain.get(domain_of(address))
        if row is not None:
            found[address] = to_domain(row)
    return found


def list_(
    session: Session,
    tenant_id: uuid.UUID,
    *,
    reason: SuppressionReason | None = None,
    kind: SuppressionKind | None = None,
    address: str | None = None,
    after: Position | None = None,
    limit: int = 50,
) -> tuple[list[SuppressionRow], bool]:
    """One page of the tenant's entries, newest first, and whether more follow; `address`:
    only the entries that suppress it (its own and its domain's)."""
    statement = (
        select(SuppressionRow).where(SuppressionRow.tenant_id == tenant_id)
        if address is None
        else _matching(tenant_id, address).order_by(None)
    )
    if reason is not None:
        statement = statement.where(SuppressionRow.reason == SuppressionReason(reason).value)
    if kind is not None:
        statement = statement.where(SuppressionRow.kind == SuppressionKind(kind).value)
    if after is not None:
        statement = statement.where(
            tuple_(SuppressionRow.created_at, SuppressionRow.id) < tuple_(*after)
        )
    statement = statement.order_by(SuppressionRow.created_at.desc(), SuppressionRow.id.desc())
    rows = list(session.scalars(statement.limit(limit + 1)))
    return rows[:limit], len(rows) > limit
