"""alert_states, one row per condition key, and the reads the alert conditions are made of
(dead letters, reconciliation's latest reports, the oldest waiting lead, the canary).

A row is `firing` from the tick its condition was first seen until every channel that was
told of it has been told it cleared; its details keep, per channel, what was delivered.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import distinct_on, insert
from sqlalchemy.orm import Session

from sales_agent_pipeline.db.models import AlertState, ReconciliationReport, Tenant, Workflow
from sales_agent_pipeline.db.repositories.outbox import AWAITING
from sales_agent_pipeline.domain.alerts import Alert
from sales_agent_pipeline.domain.enums import WorkflowStatus

FIRING = "firing"
RESOLVED = "resolved"


def _facts(alert: Alert) -> dict[str, Any]:
    return {"facts": dict(alert.details), "component": alert.component}


def fire(session: Session, alert: Alert) -> tuple[AlertState, bool]:
    """The alert's row, locked for this transaction: inserted, or opened again when it had
    cleared (True), or the firing one brought up to date (False). Idempotent: a condition
    seen on every tick keeps one row and its deliveries."""
    inserted = session.execute(
        insert(AlertState)
        .values(
            key=alert.key,
            source=alert.source,
            severity=alert.severity,
            status=FIRING,
            summary=alert.summary,
            link=alert.link,
            details={**_facts(alert), "channels": {}},
        )
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(AlertState.key)
    ).scalar_one_or_none()
    row = session.scalars(
        select(AlertState)
        .where(AlertState.key == alert.key)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    if inserted is not None:
        return row, True
    opened = row.status != FIRING
    row.severity = alert.severity
    row.summary = alert.summary
    row.link = alert.link
    channels = {} if opened else dict(row.details.get("channels") or {})
    row.details = {**_facts(alert), "channels": channels}
    row.updated_at = func.now()
    if opened:
        row.status = FIRING
        row.opened_at = func.now()
        row.notified_at = None
        row.resolved_at = None
    session.flush()
    return row, opened


def locked(session: Session, key: str) -> AlertState | None:
    """The row of this key locked for this transaction, or None."""
    return session.scalars(
        select(AlertState)
        .where(AlertState.key == key)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one_or_none()


def channels(row: AlertState) -> dict[str, dict[str, Any]]:
    """What each channel was told of this alert: {"trigger": ref or "", "resolved": bool}."""
    return {name: dict(state) for name, state in (row.details.get("channels") or {}).items()}


def record_channel(row: AlertState, channel: str, **state: Any) -> None:
    """Note what `channel` was told (the trigger's reference, or that it was resolved)."""
    known = channels(row)
    known[channel] = {**known.get(channel, {}), **state}
    row.details = {**row.details, "channels": known}
    row.notified_at = func.now()
    row.updated_at = func.now()


def resolve(session: Session, row: AlertState) -> None:
    """The condition cleared and every channel told of it knows: resolved."""
    row.status = RESOLVED
    row.resolved_at = func.now()
    row.updated_at = func.now()
    session.flush()


def firing(session: Session, sources: tuple[str, ...] | None = None) -> list[AlertState]:
    """The firing alerts (of these sources), by key."""
    statement = select(AlertState).where(AlertState.status == FIRING).order_by(AlertState.key)
    if sources is not None:
        statement = statement.where(AlertState.source.in_(sources))
    return list(session.scalars(statement))


def get(session: Session, key: str) -> AlertState | None:
    """One alert's row, or None."""
    return session.get(AlertState, key)


def dead_letters_by_portal(session: Session) -> dict[int, int]:
    """Dead letters per tenant (portal id); a tenant without any is absent."""
    rows = session.execute(
        select(Tenant.portal_id, func.count())
        .join(Workflow, Workflow.tenant_id == Tenant.id)
        .where(Workflow.status == WorkflowStatus.DEAD_LETTER.value)
        .group_by(Tenant.portal_id)
    ).all()
    return {int(portal): int(count) for portal, count in rows}


@dataclass(frozen=True)
class Missing:
    """A tenant's submissions its latest reconciliation reports found missing."""

    portal_id: int
    missing: int
    forms: tuple[str, ...]
    run_id: str | None
    checked_at: datetime


# Reports older than this are not read (a form no longer reconciled has no current verdict;
# the index keeps the read short however long the history grows).
REPORTS_LOOKBACK = timedelta(days=7)


def reconciliation_missing(session: Session) -> list[Missing]:
    """Per tenant, the missing submissions of each form's latest report, where any."""
    latest = (
        select(
            ReconciliationReport.tenant_id,
            ReconciliationReport.form_id,
            ReconciliationReport.missing,
            ReconciliationReport.dagster_run_id,
            ReconciliationReport.created_at,
        )
        .where(ReconciliationReport.created_at > func.now() - REPORTS_LOOKBACK)
        .ext(distinct_on(ReconciliationReport.tenant_id, ReconciliationReport.form_id))
        .order_by(
            ReconciliationReport.tenant_id,
            ReconciliationReport.form_id,
            ReconciliationReport.created_at.desc(),
            ReconciliationReport.id.desc(),
        )
        .subquery()
    )
    rows = session.execute(
        select(Tenant.portal_id, latest)
        .join(latest, latest.c.tenant_id == Tenant.id)
        .where(latest.c.missing > 0)
        .order_by(Tenant.portal_id, latest.c.created_at.desc())
    ).all()
    found: dict[int, Missing] = {}
    for row in rows:
        before = found.get(row.portal_id)
        if before is None:
            found[row.portal_id] = Missing(
                row.portal_id, row.missing, (row.form_id,), row.dagster_run_id, row.created_at
            )
        else:
            found[row.portal_id] = Missing(
                row.portal_id,
                before.missing + row.missing,
                (*before.forms, row.form_id),
                before.run_id,
                before.checked_at,
            )
    return list(found.values())


@dataclass(frozen=True)
class Pending:
    """The lead that has waited longest for a run."""

    workflow_id: uuid.UUID
    portal_id: int
    created_at: datetime


def oldest_pending(session: Session) -> Pending | None:
    """The oldest workflow still waiting (received or queued) for a run, if any."""
    row = session.execute(
        select(Workflow.id, Tenant.portal_id, Workflow.created_at)
        .join(Tenant, Tenant.id == Workflow.tenant_id)
        .where(Workflow.status.in_(AWAITING))
        .order_by(Workflow.created_at)
        .limit(1)
    ).first()
    return None if row is None else Pending(row.id, row.portal_id, row.created_at)


@dataclass(frozen=True)
class Canary:
    """A synthetic lead's workflow, as the canary alert judges it."""

    workflow_id: uuid.UUID
    portal_id: int
    status: str
    created_at: datetime
    completed_at: datetime | None
    run_id: str | None


def _canaries() -> Any:
    return (
        select(
            Workflow.id,
            Tenant.portal_id,
            Workflow.status,
            Workflow.created_at,
            Workflow.completed_at,
            Workflow.dagster_run_id,
        )
        .join(Tenant, Tenant.id == Workflow.tenant_id)
        .where(Workflow.synthetic)
        .order_by(Workflow.created_at.desc())
        .limit(1)
    )


def _canary(row: Any) -> Canary | None:
    if row is None:
        return None
    return Canary(
        row.id, row.portal_id, row.status, row.created_at, row.completed_at, row.dagster_run_id
    )


def newest_canary(session: Session) -> Canary | None:
    """The newest synthetic workflow, finished or not."""
    return _canary(session.execute(_canaries()).first())


def newest_decided_canary(session: Session, started_before: datetime) -> Canary | None:
    """The newest synthetic workflow whose verdict is in: finished, or started before
    `started_before` (its latency goal is past, finished or not)."""
    statement = _canaries().where(
        (Workflow.completed_at.is_not(None)) | (Workflow.created_at < started_before)
    )
    return _canary(session.execute(statement).first())
