"""Reconciliation leaves the canary's submissions out: never a delivery counted as webhook,
never missing, never a form to list, never backlog."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from dagster import DagsterInstance
from sqlalchemy import Engine, update
from sqlalchemy.orm import Session

from sales_agent_pipeline.db.base import utcnow
from sales_agent_pipeline.db.models import ReconciliationReport, Tenant, Workflow
from sales_agent_pipeline.db.repositories.synthetic import mark_synthetic
from sales_agent_pipeline.usecases.canary import CANARY_FORM
from tests.integration.pipeline.conftest import lead_fields, store_delivery
from tests.integration.pipeline.reconciling import (
    FORM,
    Portal,
    deliver,
    portal_fixture,  # noqa: F401
    reconcile,
    report_of,
    seed,
    upstream,
)
from tests.sandbox.conftest import Admin


def canary_delivery(engine: Engine, tenant: Tenant, form: str, item: dict[str, Any]) -> uuid.UUID:
    """What the webhook stores for the canary's marked delivery (the marker's own tests are
    test_marker.py): the submission, its workflow, synthetic."""
    workflow_id = store_delivery(engine, tenant, form, item["conversionId"], item["values"])
    with Session(engine) as session, session.begin():
        mark_synthetic(session, [workflow_id])
    return workflow_id


def test_a_listed_canary_submission_is_neither_via_webhook_nor_missing_nor_backlog(
    sandbox: Admin, portal: Portal, engine: Engine, instance: DagsterInstance
) -> None:
    ordinary, canary, missed = upstream(3, newest=utcnow(), step=timedelta(minutes=5), prefix="c")
    # Even were HubSpot to list the canary's id, it is the canary's, not the form's.
    seed(sandbox, portal, [ordinary, canary, missed])
    deliver(engine, portal, ordinary)
    canary_id = canary_delivery(engine, portal.tenant, FORM, canary)
    # Long waiting: were it counted, it would be backlog.
    with Session(engine) as session, session.begin():
        session.execute(
            update(Workflow)
            .where(Workflow.id == canary_id)
            .values(created_at=Workflow.created_at - timedelta(hours=3))
        )

    found = report_of(engine, reconcile(instance, portal))
    assert (found.upstream_seen, found.via_webhook, found.recovered, found.missing) == (3, 1, 1, 0)
    assert found.backlog == 0


def test_the_canarys_form_is_no_form_to_reconcile_for_a_tenant_without_an_allowlist(
    sandbox: Admin, portal: Portal, engine: Engine, instance: DagsterInstance
) -> None:
    with Session(engine) as session, session.begin():
        session.execute(
            update(Tenant).where(Tenant.id == portal.tenant.id).values(allowed_form_ids=[])
        )
    store_delivery(
        engine, portal.tenant, FORM, str(uuid.uuid4()), lead_fields("ivy@acme-robotics.example")
    )
    # HubSpot has no such form: were it reconciled, its listing would fail the check.
    canary_delivery(
        engine,
        portal.tenant,
        CANARY_FORM,
        {
            "conversionId": f"canary-{uuid.uuid4().hex[:8]}",
            "values": lead_fields("c@canary.example.com"),
        },
    )

    result = reconcile(instance, portal)
    with Session(engine) as session:
        forms = [
            report.form_id
            for report in session.query(ReconciliationReport).filter(
                ReconciliationReport.dagster_run_id == result.run_id
            )
        ]
    assert forms == [FORM]
