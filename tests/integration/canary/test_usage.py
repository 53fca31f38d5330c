"""The tenant's usage report leaves the canary out: its lead, workflow, draft and the model
tokens and writer counted when its draft was written."""

from __future__ import annotations

import random

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from sales_agent_pipeline.db.base import utcnow
from sales_agent_pipeline.db.models import DraftEmail, Tenant
from sales_agent_pipeline.db.repositories.synthetic import mark_synthetic
from sales_agent_pipeline.db.repositories.usage import add_usage
from sales_agent_pipeline.usecases.usage import usage_summary
from tests.conftest import accept_lead


def test_the_report_counts_the_ordinary_lead_and_leaves_the_canarys_out(engine: Engine) -> None:
    with Session(engine, expire_on_commit=False) as session, session.begin():
        tenant = Tenant(portal_id=random.randint(10**6, 10**9), name="Usage Co")
        session.add(tenant)
        session.flush()
        drafted = [
            (accept_lead(session, tenant, "canary+canary-1@canary.example.com"), 500, 90, True),
            (accept_lead(session, tenant, "robin@acme-robotics.example"), 300, 60, False),
        ]
        for accepted, used_in, used_out, synthetic in drafted:
            session.add(
                DraftEmail(
                    workflow_id=accepted.workflow_id,
                    to_email="x@example.com",
                    subject="Hello",
                    body="Hi",
                    gmail_draft_id=f"d-{accepted.workflow_id}",
                    writer="openai",
                    input_tokens=used_in,
                    output_tokens=used_out,
                )
            )
            # What step 10 counts when the draft is written (no workflow known there).
            add_usage(
                session,
                tenant.id,
                {
                    "llm_tokens.input": used_in,
                    "llm_tokens.output": used_out,
                    "drafts_written.openai": 1,
                    "vendor_calls.hubspot": 7,
                },
            )
            if synthetic:
                mark_synthetic(session, [accepted.workflow_id])
    today = utcnow().date()
    with Session(engine) as session:
        total = usage_summary(session, tenant.id, today, today).totals
    assert (total.leads_received, total.workflows, total.drafts) == (1, {"received": 1}, 1)
    assert total.llm_tokens == {"input": 300, "output": 60}
    assert total.drafts_written == {"openai": 1}
