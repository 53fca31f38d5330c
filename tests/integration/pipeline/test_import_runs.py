"""Imported leads through the real job in one batched run: HubSpot's batch endpoints, each
lead's exactly-once records, and a re-run that changes nothing upstream."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from sales_agent_pipeline.db.models import IdempotencyKey, Tenant, Workflow
from tests.integration.pipeline.conftest import Lead, import_rows
from tests.sandbox.conftest import Admin


def _import(engine: Engine, tenant: Tenant, rows: list[str]) -> list[Lead]:
    csv = "email,first name,last name,company\n" + "\n".join(rows) + "\n"
    result = import_rows(engine, tenant, csv, filename="t.csv", max_rows=1000)
    return [
        Lead(row.workflow_id, row.email)
        for row in result.rows
        if row.status == "accepted" and row.workflow_id is not None
    ]


def _count(calls: dict[str, Any], fragment: str) -> int:
    return sum(e["count"] for e in calls["endpoints"] if fragment in e["endpoint"])


def test_an_import_batch_uses_batch_calls_and_creates_one_task_each(
    sandbox: Admin, engine: Engine, tenant: Tenant, run: Any
) -> None:
    tag = uuid.uuid4().hex[:8]
    leads = _import(
        engine,
        tenant,
        [
            f"lead{i}.{tag}@company{i % 3}-{tag}.example,Sam{i},Lee,Company {i % 3}"
            for i in range(12)
        ],
    )
    assert len(leads) == 12

    result = run(*leads, trigger="import")

    assert result.success
    ids = [lead.workflow_id for lead in leads]
    with Session(engine) as session:
        statuses = session.scalars(select(Workflow.status).where(Workflow.id.in_(ids))).all()
        records = session.scalar(
            select(func.count())
            .select_from(IdempotencyKey)
            .where(
                IdempotencyKey.scope == "hubspot.task.create", IdempotencyKey.workflow_id.in_(ids)
            )
        )
    assert statuses == ["succeeded"] * 12
    assert records == 12
    calls = sandbox.calls()
    # One batch upsert for the 12 contacts and one batch create for the 12 tasks.
    assert _count(calls, "batch/upsert") == 1
    assert _count(calls, "batch/create") == 1
    assert _count(calls, "POST /crm/v3/objects/tasks") == _count(calls, "batch/create")
    # Three new companies: one search by domain and one by name for the batch, not 24.
    assert _count(calls, "companies/search") == 2
    exact = {e["endpoint"]: e["count"] for e in calls["endpoints"]}
    assert exact["POST /crm/v3/objects/companies"] == 3
    mine = [t for t in sandbox.tasks() if tag in t["properties"].get("hs_task_body", "")]
    assert len(mine) == 12
    contacts = {c["properties"]["email"] for c in sandbox.contacts()}
    assert {lead.email for lead in leads} <= contacts

    # A re-run (a UI re-materialisation) creates no second task and no second draft.
    drafts_before = len(sandbox.drafts())
    again = run(*leads, trigger="ui")
    assert again.success
    assert len([t for t in sandbox.tasks() if tag in t["properties"].get("hs_task_body", "")]) == 12
    assert len(sandbox.drafts()) == drafts_before
