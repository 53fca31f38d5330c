"""The vendors' circuit breakers in PostgreSQL: one row per (vendor, tenant), each change a
single statement that applies only over the version it was computed from."""

from __future__ import annotations

import uuid
from typing import Any, cast

from sqlalchemy import Select, Table, and_, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session, sessionmaker

from sales_agent_pipeline.db.models import CircuitBreaker, Tenant
from sales_agent_pipeline.domain.breaker import Breaker
from sales_agent_pipeline.domain.enums import BreakerState

_TABLE = cast(Table, CircuitBreaker.__table__)
# What a change writes; the version (updated_at) is the server's clock at the change.
_FIELDS = (
    "state",
    "consecutive_failures",
    "trips",
    "opened_at",
    "open_until",
    "probe_owner",
    "probe_until",
    "last_error",
)
# A vendor's message can be long (an HTML error page): the start says what happened.
LAST_ERROR_CHARS = 500


def _breaker(row: Any) -> Breaker:
    return Breaker(
        vendor=row.vendor,
        tenant_id=row.tenant_id,
        state=BreakerState(row.state),
        consecutive_failures=row.consecutive_failures,
        trips=row.trips,
        opened_at=row.opened_at,
        open_until=row.open_until,
        probe_owner=row.probe_owner,
        probe_until=row.probe_until,
        last_error=row.last_error,
        updated_at=row.updated_at,
    )


def _values(new: Breaker) -> dict[str, Any]:
    values = {name: getattr(new, name) for name in _FIELDS}
    values["state"] = new.state.value
    if new.last_error is not None:
        values["last_error"] = new.last_error[:LAST_ERROR_CHARS]
    # clock_timestamp, not now(): two changes in one transaction still get two versions.
    values["updated_at"] = func.clock_timestamp()
    return values


class PostgresBreakerStore:
    """The BreakerStore port on PostgreSQL; each call is one short transaction."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def get(self, vendor: str, tenant_id: uuid.UUID) -> Breaker | None:
        """The stored breaker, or None when it never failed."""
        with self._sessions() as session:
            row = session.execute(
                select(_TABLE).where(_TABLE.c.vendor == vendor, _TABLE.c.tenant_id == tenant_id)
            ).first()
        return None if row is None else _breaker(row)

    def replace(self, old: Breaker | None, new: Breaker) -> Breaker | None:
        """Insert (when `old` is None) or update over `old`'s version; None when another
        process got there first. The row lock lasts for this one statement only."""
        values = _values(new)
        if old is None:
            statement: Any = (
                insert(_TABLE)
                .values(vendor=new.vendor, tenant_id=new.tenant_id, **values)
                .on_conflict_do_nothing(index_elements=["vendor", "tenant_id"])
            )
        else:
            statement = (
                update(_TABLE)
                .where(
                    _TABLE.c.vendor == old.vendor,
                    _TABLE.c.tenant_id == old.tenant_id,
                    _TABLE.c.updated_at == old.updated_at,
                )
                .values(**values)
            )
        with self._sessions.begin() as session:
            row = session.execute(statement.returning(*_TABLE.c)).first()
        return None if row is None else _breaker(row)

    def of_tenant(self, tenant_id: uuid.UUID) -> list[Breaker]:
        """Every stored breaker of the tenant, by vendor."""
        with self._sessions() as session:
            return tenant_breakers(session, tenant_id)


def tenant_breakers(session: Session, tenant_id: uuid.UUID) -> list[Breaker]:
    """The tenant's breakers, by vendor (the API's and the CLI's view)."""
    rows = session.execute(
        select(_TABLE).where(_TABLE.c.tenant_id == tenant_id).order_by(_TABLE.c.vendor)
    )
    return [_breaker(row) for row in rows]


def every_tenants_breakers(session: Session) -> list[tuple[int, Breaker]]:
    """Every stored breaker with its tenant's portal id, by portal and vendor (the CLI's
    overview; a vendor that never failed has no row)."""
    rows = session.execute(
        select(Tenant.portal_id, _TABLE)
        .join(_TABLE, _TABLE.c.tenant_id == Tenant.id)
        .order_by(Tenant.portal_id, _TABLE.c.vendor)
    )
    return [(row.portal_id, _breaker(row)) for row in rows]


def stopping() -> Any:
    """The condition of a breaker that lets no call through now: open until a time still
    ahead, or half-open with a live probe (the probe's lead runs; the others would wait)."""
    return or_(
        and_(
            _TABLE.c.state == BreakerState.OPEN.value,
            _TABLE.c.open_until > func.now(),
        ),
        and_(
            _TABLE.c.state == BreakerState.HALF_OPEN.value,
            _TABLE.c.probe_until > func.now(),
        ),
    )


def stopped_tenants() -> Select[tuple[uuid.UUID]]:
    """The ids of tenants with a breaker that lets no call through now: their queued leads
    are not launched until it may probe."""
    return select(_TABLE.c.tenant_id).where(stopping())
