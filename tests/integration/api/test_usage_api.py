"""GET /api/usage: a tenant's day-by-day figures, equal to what its rows say, and no one
else's."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from sales_agent_pipeline.db.base import utcnow
from sales_agent_pipeline.db.models import HubspotTask, Tenant
from sales_agent_pipeline.db.repositories.usage import add_usage
from sales_agent_pipeline.secretbox import SecretBox
from tests.integration.api.conftest import make_tenant
from tests.integration.api.operator_support import add_draft, add_workflow, bearer, key_for

DAY = datetime(2026, 11, 9, 15, tzinfo=UTC)


def _task(engine: Engine, workflow_id: object, at: datetime) -> None:
    with Session(engine) as session, session.begin():
        session.add(
            HubspotTask(
                workflow_id=workflow_id,
                hubspot_task_id=str(random.randint(1, 10**9)),
                contact_id="501",
                status="NOT_STARTED",
                due_date=at.date() + timedelta(days=2),
                created_at=at,
            )
        )


def test_a_day_counts_its_leads_outcomes_drafts_sends_tasks_and_vendor_usage(
    client: TestClient, engine: Engine, tenant: Tenant, box: SecretBox
) -> None:
    done = add_workflow(engine, tenant, "a@acme.example", created_at=DAY)
    add_workflow(engine, tenant, "b@acme.example", status="failed", created_at=DAY)
    add_workflow(engine, tenant, "c@acme.example", created_at=DAY + timedelta(days=1))
    add_draft(engine, done, "a@acme.example", gmail_draft_id="r-1", created_at=DAY)
    sent = add_workflow(engine, tenant, "d@acme.example", created_at=DAY)
    add_draft(
        engine, sent, "d@acme.example", gmail_draft_id="r-2", sent=True, sent_at=DAY,
        created_at=DAY,
    )  # fmt: skip
    _task(engine, done, DAY)
    with Session(engine) as session, session.begin():
        add_usage(session, tenant.id, {"vendor_calls.hubspot": 7, "quota_units.gmail": 115},
                  DAY.date())  # fmt: skip
        add_usage(session, tenant.id, {"vendor_calls.hubspot": 3}, DAY.date())
    # Another tenant's day is not this tenant's.
    other = make_tenant(engine, box)
    add_workflow(engine, other, "z@other.example", created_at=DAY)
    with Session(engine) as session, session.begin():
        add_usage(session, other.id, {"vendor_calls.hubspot": 99}, DAY.date())

    key = key_for(engine, tenant)  # a standard key reads usage
    response = client.get(
        "/api/usage", params={"from": "2026-11-08", "to": "2026-11-10"}, headers=bearer(key)
    )
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["portal_id"], report["first_day"], report["last_day"]) == (
        tenant.portal_id, "2026-11-08", "2026-11-10",
    )  # fmt: skip
    days = {day["day"]: day for day in report["days"]}
    assert list(days) == ["2026-11-08", "2026-11-09", "2026-11-10"]
    assert days["2026-11-08"]["leads_received"] == 0
    ninth = days["2026-11-09"]
    assert ninth["workflows"] == {"succeeded": 2, "failed": 1}
    assert (ninth["drafts"], ninth["sends"], ninth["tasks"]) == (2, 1, 1)
    assert ninth["vendor_calls"] == {"hubspot": 10}
    assert ninth["quota_units"] == {"gmail": 115}
    assert days["2026-11-10"]["workflows"] == {"succeeded": 1}
    totals = report["totals"]
    assert totals["workflows"] == {"succeeded": 3, "failed": 1}
    assert totals["vendor_calls"] == {"hubspot": 10}


def test_the_default_range_is_the_last_30_days(
    client: TestClient, engine: Engine, tenant: Tenant
) -> None:
    add_workflow(engine, tenant, "today@acme.example")
    report = client.get("/api/usage", headers=bearer(key_for(engine, tenant))).json()
    today = utcnow().date()
    assert report["last_day"] == today.isoformat()
    assert report["first_day"] == (today - timedelta(days=29)).isoformat()
    assert len(report["days"]) == 30
    assert report["totals"]["leads_received"] == 1


def test_a_bad_range_is_400_naming_it(client: TestClient, engine: Engine, tenant: Tenant) -> None:
    headers = bearer(key_for(engine, tenant))
    for params, field in (
        ({"from": "2026-11-10", "to": "2026-11-01"}, ["from"]),
        ({"from": "2024-01-01", "to": "2026-01-01"}, ["from", "to"]),
        ({"from": "yesterday"}, ["query.from"]),
    ):
        response = client.get("/api/usage", params=params, headers=headers)
        assert response.status_code == 400, params
        assert response.json()["error"]["fields"] == field
    assert client.get("/api/usage").status_code == 401
