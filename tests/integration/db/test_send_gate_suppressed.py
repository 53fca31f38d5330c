"""The send gate refuses a suppressed address or domain and a stopped workflow with the
reason, whatever the modes and approvals say (step 11, approve-and-send and scheduled
sends all reserve through it); a slot held from an earlier attempt is reported held."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime

from sqlalchemy import Engine, update
from sqlalchemy.orm import Session, sessionmaker

from sales_agent_pipeline.db.models import SendReservation, Tenant, Workflow
from sales_agent_pipeline.db.repositories import suppressions
from sales_agent_pipeline.db.repositories.sends import PostgresSendGate
from sales_agent_pipeline.domain.compliance import SuppressionKind, SuppressionReason
from sales_agent_pipeline.domain.enums import ReservationStatus
from sales_agent_pipeline.domain.sending import SendBlock
from sales_agent_pipeline.settings import Settings
from tests.conftest import accept_lead

SETTINGS = Settings(_env_file=None)


def tenant_with(sessions: sessionmaker[Session], *emails: str) -> tuple[uuid.UUID, list[uuid.UUID]]:
    with sessions.begin() as session:
        tenant = Tenant(portal_id=random.randint(10**6, 10**9), name="Lawful Co", mode="SEND")
        session.add(tenant)
        session.flush()
        return tenant.id, [accept_lead(session, tenant, email).workflow_id for email in emails]


def test_a_suppressed_address_or_domain_or_a_stopped_workflow_is_refused_with_why(
    engine: Engine,
) -> None:
    sessions = sessionmaker(engine)
    tag = uuid.uuid4().hex[:6]
    tenant_id, (address, domain, stopped, free) = tenant_with(
        sessions,
        f"ana.{tag}@acme.example",
        f"bob.{tag}@blocked-{tag}.example",
        f"cy.{tag}@acme.example",
        f"dee.{tag}@acme.example",
    )
    with sessions.begin() as session:
        suppressions.add(
            session,
            tenant_id,
            SuppressionKind.ADDRESS,
            f"ana.{tag}@acme.example",
            SuppressionReason.UNSUBSCRIBE,
            source="one-click",
        )
        suppressions.add(
            session,
            tenant_id,
            SuppressionKind.DOMAIN,
            f"blocked-{tag}.example",
            SuppressionReason.MANUAL,
        )
        session.execute(
            update(Workflow).where(Workflow.id == stopped).values(stopped_reason="replied")
        )
    gate = PostgresSendGate(sessions, SETTINGS)

    refused = gate.reserve(tenant_id, address, approved=True)
    assert not refused.granted
    assert refused.block is SendBlock.SUPPRESSED
    assert refused.reason == "not mailed: suppressed (unsubscribe: one-click)"
    assert gate.reserve(tenant_id, domain).reason == "not mailed: suppressed (manual)"
    assert gate.reserve(tenant_id, stopped).reason == "not mailed: stopped (replied)"
    assert gate.reserve(tenant_id, free).granted

    # A slot an earlier attempt holds is reported held: its send is resolved, never made.
    with sessions.begin() as session:
        session.add(
            SendReservation(
                workflow_id=address,
                tenant_id=tenant_id,
                day=datetime.now(UTC).date(),
                status=ReservationStatus.RESERVED.value,
            )
        )
    held = gate.reserve(tenant_id, address)
    assert (held.granted, held.held, held.block) == (False, True, SendBlock.SUPPRESSED)
