"""Suppressing an address or a domain: the entry, then everything still pending for it
(scheduled sends cancelled, their workflows marked stopped), in the caller's transaction."""

from __future__ import annotations

import uuid
from collections.abc import Collection

import structlog
from sqlalchemy import func, update
from sqlalchemy.orm import Session

from sales_agent_pipeline.db.models import Workflow
from sales_agent_pipeline.db.repositories import audit, scheduled_sends, suppressions
from sales_agent_pipeline.domain.compliance import (
    StopReason,
    Suppression,
    SuppressionKind,
    SuppressionReason,
)
from sales_agent_pipeline.domain.enums import StepStatus

log = structlog.get_logger(__name__)

STOP_FOR = {
    SuppressionReason.UNSUBSCRIBE: StopReason.UNSUBSCRIBED,
    SuppressionReason.BOUNCE: StopReason.BOUNCED,
    SuppressionReason.HUBSPOT_OPTOUT: StopReason.SUPPRESSED,
    SuppressionReason.MANUAL: StopReason.SUPPRESSED,
}


def masked(value: str) -> str:
    """An address or domain as logs may show it: `a***@example.com` (a domain is kept)."""
    local, at, domain = value.partition("@")
    if not at:
        return value
    return f"{local[:1]}***@{domain}"


def stop_workflows(
    session: Session,
    tenant_id: uuid.UUID,
    workflow_ids: Collection[uuid.UUID],
    reason: StopReason,
    *,
    details: dict[str, object] | None = None,
) -> list[uuid.UUID]:
    """Mark the tenant's workflows stopped (the first reason is kept) with a trail event;
    the ids it newly stopped."""
    if not workflow_ids:
        return []
    stopped = list(
        session.scalars(
            update(Workflow)
            .where(
                Workflow.tenant_id == tenant_id,
                Workflow.id.in_(list(workflow_ids)),
                Workflow.stopped_reason.is_(None),
            )
            .values(stopped_reason=reason.value, stopped_at=func.now())
            .returning(Workflow.id)
        )
    )
    for workflow_id in stopped:
        audit.record_event(
            session,
            workflow_id,
            event_type="stopped",
            status=StepStatus.SUCCEEDED,
            details={"stopped_reason": reason.value, **(details or {})},
        )
    return stopped


def suppress(
    session: Session,
    tenant_id: uuid.UUID,
    value: str,
    reason: SuppressionReason,
    *,
    kind: SuppressionKind | None = None,
    source: str | None = None,
    created_by: str | None = None,
    workflow_id: uuid.UUID | None = None,
) -> bool:
    """Never mail the address or domain again: the entry (False when it already was, a
    no-op for the list), then the tenant's pending scheduled sends to it cancelled and
    their workflows stopped. BadSuppression (nothing written) on a value that is neither.
    The caller commits."""
    reason = SuppressionReason(reason)
    kind, clean = suppressions.normalise(value, kind)
    added = suppressions.add(
        session,
        tenant_id,
        kind,
        clean,
        reason,
        source=source,
        created_by=created_by,
        workflow_id=workflow_id,
    )
    label = Suppression(kind=kind, value=clean, reason=reason, source=source).label
    # Even when the entry was there already: a send scheduled since (it should not have
    # been) is cancelled all the same.
    cancelled = scheduled_sends.cancel(
        session,
        tenant_id,
        address=clean if kind is SuppressionKind.ADDRESS else None,
        domain=clean if kind is SuppressionKind.DOMAIN else None,
        reason=label,
    )
    stopped = stop_workflows(
        session, tenant_id, cancelled, STOP_FOR[reason], details={"suppression": label}
    )
    log.info(
        "suppression.added" if added else "suppression.already_there",
        tenant_id=str(tenant_id),
        kind=kind.value,
        value=masked(clean),
        reason=reason.value,
        source=source,
        cancelled_sends=len(cancelled),
        stopped_workflows=len(stopped),
    )
    return added


def unsuppress(
    session: Session, tenant_id: uuid.UUID, value: str, *, kind: SuppressionKind | None = None
) -> bool:
    """Mail the address or domain again (stopped workflows stay stopped); False when the
    tenant had no such entry. BadSuppression on a value that is neither."""
    kind, clean = suppressions.normalise(value, kind)
    removed = suppressions.remove(session, tenant_id, kind, clean)
    log.info(
        "suppression.removed" if removed else "suppression.not_found",
        tenant_id=str(tenant_id),
        kind=kind.value,
        value=masked(clean),
    )
    return removed
