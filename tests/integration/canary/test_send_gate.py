"""A synthetic workflow is drafted, never sent: the send gate refuses it whatever the modes
and an approval say, and grants the same send to an ordinary workflow."""

from __future__ import annotations

import random

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from sales_agent_pipeline.db.models import SendReservation, Tenant
from sales_agent_pipeline.db.repositories.sends import SYNTHETIC_REASON, PostgresSendGate
from sales_agent_pipeline.db.repositories.synthetic import mark_synthetic
from sales_agent_pipeline.db.session import make_session_factory
from sales_agent_pipeline.domain.enums import WorkflowMode
from sales_agent_pipeline.domain.sending import SendBlock
from sales_agent_pipeline.settings import Settings
from tests.conftest import accept_lead


def test_the_gate_never_grants_a_synthetic_workflow_a_send(engine: Engine) -> None:
    with Session(engine, expire_on_commit=False) as session, session.begin():
        tenant = Tenant(portal_id=random.randint(10**6, 10**9), name="Canary Co", mode="SEND")
        session.add(tenant)
        session.flush()
        canary = accept_lead(session, tenant, "canary+canary-1@canary.example.com").workflow_id
        ordinary = accept_lead(session, tenant, "robin@acme-robotics.example").workflow_id
        mark_synthetic(session, [canary])
    gate = PostgresSendGate(
        make_session_factory(engine),
        Settings(_env_file=None, workflow_mode=WorkflowMode.SEND),
    )

    for approved in (False, True):
        grant = gate.reserve(tenant.id, canary, approved=approved)
        assert (grant.granted, grant.block, grant.reason) == (
            False,
            SendBlock.MODE,
            SYNTHETIC_REASON,
        )
    assert gate.reserve(tenant.id, ordinary).granted
    with Session(engine) as session:
        reserved = session.query(SendReservation).filter(SendReservation.tenant_id == tenant.id)
        assert [r.workflow_id for r in reserved] == [ordinary]
