"""Step 6's look-up of past leads on real PostgreSQL: same domain at any age, same industry
or job title among the tenant's newest workflows, newest first, never the lead itself."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import update
from sqlalchemy.orm import Session

from sales_agent_pipeline.db.models import FormSubmission, Tenant, Workflow
from sales_agent_pipeline.db.repositories.history import similar_leads
from sales_agent_pipeline.domain.lead import Lead
from tests.conftest import accept_lead

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def _past(
    session: Session, tenant: Tenant, email: str, minutes: int, industry: str | None = None
) -> uuid.UUID:
    accepted = accept_lead(session, tenant, email)
    at = START + timedelta(minutes=minutes)
    session.execute(
        update(Workflow).where(Workflow.id == accepted.workflow_id).values(created_at=at)
    )
    session.execute(
        update(FormSubmission)
        .where(FormSubmission.id == accepted.submission_id)
        .values(industry=industry, job_title="Buyer")
    )
    return accepted.workflow_id


def test_similar_leads_are_the_domain_at_any_age_and_peers_among_the_newest(
    db_session: Session,
) -> None:
    tenant = Tenant(portal_id=random.randint(10**6, 10**9), name="Acme")
    db_session.add(tenant)
    db_session.flush()
    # The account's first lead, long before everything else.
    oldest = _past(db_session, tenant, "first@northwind.example", 0, industry="Retail")
    # 30 leads of the same industry from other companies, a minute apart.
    peers = [
        _past(db_session, tenant, f"p{i}@peer{i}.example", 100 + i, industry="robotics")
        for i in range(30)
    ]
    unrelated = _past(db_session, tenant, "x@elsewhere.example", 200, industry="Banking")
    me = _past(db_session, tenant, "new@northwind.example", 300, industry="Robotics")
    lead = Lead(
        email="new@northwind.example",
        email_domain="northwind.example",
        industry="Robotics",
        portal_id=tenant.portal_id,
    )

    found = similar_leads(db_session, tenant.id, me, lead, limit=50, recent=20)

    # Newest first: of the 20 newest workflows (after the lead's own) the 19 peers among
    # them (the unrelated one is the 20th), then the account's first lead, however old.
    times = [past.created_at for past in found]
    assert times == sorted(times, reverse=True)
    assert [p.email_domain for p in found] == [f"peer{i}.example" for i in range(29, 10, -1)] + [
        "northwind.example"
    ]
    assert found[-1].industry == "Retail"
    assert all(p.email_domain != "elsewhere.example" for p in found)
    assert len({oldest, unrelated, *peers}) == 32  # all distinct workflows

    # The limit keeps the newest.
    first_five = similar_leads(db_session, tenant.id, me, lead, limit=5, recent=20)
    assert [p.email_domain for p in first_five] == [f"peer{i}.example" for i in range(29, 24, -1)]
