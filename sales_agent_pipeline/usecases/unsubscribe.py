"""One-click unsubscribe (RFC 8058): a token from a sent mail's link or its mailto
subject suppresses the address for the tenant that sent it, once."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from sales_agent_pipeline.db.models import Tenant, Workflow
from sales_agent_pipeline.db.repositories import audit, suppressions
from sales_agent_pipeline.domain.compliance import (
    StopReason,
    Suppression,
    SuppressionKind,
    SuppressionReason,
)
from sales_agent_pipeline.domain.enums import StepStatus
from sales_agent_pipeline.secretbox import BadUnsubscribeToken, UnsubscribeClaim, unsubscribe_tokens
from sales_agent_pipeline.settings import Settings
from sales_agent_pipeline.usecases.suppression import masked, stop_workflows, suppress

log = structlog.get_logger(__name__)

ONE_CLICK = "one-click"
MAILTO = "mailto"

__all__ = ["BadUnsubscribeToken", "UnknownTenant", "Unsubscribed", "check", "unsubscribe"]


class UnknownTenant(LookupError):
    """The token is ours but its tenant no longer exists: nothing to suppress."""


@dataclass(frozen=True)
class Unsubscribed:
    """What a token asked and what came of it."""

    claim: UnsubscribeClaim
    # True when this request suppressed the address; False: it already was.
    added: bool
    # The address as a page may show it (`a***@example.com`).
    shown: str
    # Why the address was already suppressed, when it was (None: it was not).
    already: Suppression | None = None


def _read(session: Session, settings: Settings, token: str) -> UnsubscribeClaim:
    claim = unsubscribe_tokens(settings).read(token)
    if session.get(Tenant, claim.tenant_id) is None:
        raise UnknownTenant("the sender of this mail no longer exists")
    return claim


def _tenant_workflow(session: Session, claim: UnsubscribeClaim) -> uuid.UUID | None:
    if claim.workflow_id is None:
        return None
    # A workflow deleted since, or (never, the token is authenticated) another tenant's: none.
    return session.scalar(
        select(Workflow.id).where(
            Workflow.id == claim.workflow_id, Workflow.tenant_id == claim.tenant_id
        )
    )


def check(session: Session, settings: Settings, token: str) -> Unsubscribed:
    """What a POST of the token would do, writing nothing (the GET page): BadUnsubscribeToken
    or UnknownTenant as `unsubscribe` would raise them."""
    claim = _read(session, settings, token)
    already = suppressions.find(session, claim.tenant_id, claim.email)
    return Unsubscribed(claim=claim, added=False, shown=masked(claim.email), already=already)


def unsubscribe(
    session: Session, settings: Settings, token: str, *, source: str = ONE_CLICK
) -> Unsubscribed:
    """Suppress the token's address for its tenant (reason unsubscribe), cancel what is
    pending for it and stop its workflows; a second time changes nothing (added False).
    BadUnsubscribeToken or UnknownTenant with nothing written. The caller commits."""
    claim = _read(session, settings, token)
    already = suppressions.find(session, claim.tenant_id, claim.email)
    workflow_id = _tenant_workflow(session, claim)
    added = suppress(
        session,
        claim.tenant_id,
        claim.email,
        SuppressionReason.UNSUBSCRIBE,
        kind=SuppressionKind.ADDRESS,
        source=source,
        workflow_id=workflow_id,
    )
    if workflow_id is not None:
        # The mail the link came from: its workflow is stopped too, even with nothing pending.
        stop_workflows(session, claim.tenant_id, [workflow_id], StopReason.UNSUBSCRIBED)
        if added:
            audit.record_event(
                session,
                workflow_id,
                event_type="unsubscribed",
                status=StepStatus.SUCCEEDED,
                details={"source": source, "reason": SuppressionReason.UNSUBSCRIBE.value},
            )
    log.info(
        "unsubscribe.done" if added else "unsubscribe.already",
        tenant_id=str(claim.tenant_id),
        workflow_id=str(workflow_id) if workflow_id else None,
        address=masked(claim.email),
        source=source,
    )
    return Unsubscribed(claim=claim, added=added, shown=masked(claim.email), already=already)
