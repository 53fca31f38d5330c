"""Reconciliation's sweep of stuck work and its drift check, in process on real PostgreSQL
and the sandbox over HTTP, each test on a portal of its own."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from dagster import DagsterInstance
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from sales_agent_pipeline.db.models import Workflow, WorkflowEvent
from tests.integration.pipeline.conftest import set_workflow
from tests.integration.pipeline.reconciling import (
    Portal,
    portal_fixture,  # noqa: F401
    reconcile,
    report_of,
    submit,
)
from tests.sandbox.conftest import Admin


def test_a_stuck_workflow_is_requeued_and_finishes_once(
    sandbox: Admin, portal: Portal, engine: Engine, instance: DagsterInstance, run: Any
) -> None:
    lead = submit(engine, portal, "stuck.lead@acme-robotics.example")
    # Its run died two hours ago: a run id the instance does not know.
    set_workflow(
        engine,
        lead.workflow_id,
        status="running",
        dagster_run_id=str(uuid.uuid4()),
        run_requested_at=func.now() - timedelta(hours=2),
        attempts=1,
        created_at=func.now() - timedelta(hours=2),
        updated_at=func.now() - timedelta(hours=2),
    )

    result = reconcile(instance, portal)

    materialization = result.asset_materializations_for_node("submission_coverage")[0]
    assert materialization.metadata["stuck_requeued"].value == 1
    with Session(engine) as session:
        workflow = session.get_one(Workflow, lead.workflow_id)
        assert (workflow.status, workflow.run_requested_at) == ("queued", None)
        assert "re-queued" in (workflow.failure_reason or "")
    assert report_of(engine, result).backlog == 1  # waiting again, for longer than 30 min

    assert run(lead).success
    with Session(engine) as session:
        assert session.get_one(Workflow, lead.workflow_id).status == "succeeded"
    tasks = [t for t in sandbox.tasks() if t["portalId"] == portal.portal_id]
    drafts = [d for d in sandbox.drafts() if d["to"] == lead.email]
    assert (len(tasks), len(drafts)) == (1, 1)


def test_drift_is_recorded_once_and_nothing_is_recreated(
    sandbox: Admin, portal: Portal, engine: Engine, instance: DagsterInstance, run: Any
) -> None:
    done = submit(engine, portal, "owner.done@acme-robotics.example")
    sent_by_hand = submit(engine, portal, "sent.by.hand@acme-robotics.example")
    assert run(done, sent_by_hand).success
    tasks = [t["id"] for t in sandbox.tasks() if t["portalId"] == portal.portal_id]
    drafts = {
        lead.email: d["draftId"]
        for d in sandbox.drafts()
        for lead in (done, sent_by_hand)
        if lead.email in d["to"]
    }
    assert (len(tasks), len(drafts)) == (2, 2)
    # Outside the product: the owner completes one task and deletes the other, deletes a
    # draft, and sends the other draft by hand from Gmail.
    with portal.outside() as owner, portal.gmail() as mailbox:
        task_id = tasks[0]
        owner.patch(
            f"/crm/v3/objects/tasks/{task_id}",
            json={"properties": {"hs_task_status": "COMPLETED"}},
        ).raise_for_status()
        owner.delete(f"/crm/v3/objects/tasks/{tasks[1]}").raise_for_status()
        mailbox.delete(f"/gmail/v1/users/me/drafts/{drafts[done.email]}").raise_for_status()
        mailbox.post(
            "/gmail/v1/users/me/drafts/send", json={"id": drafts[sent_by_hand.email]}
        ).raise_for_status()

    for _ in range(2):
        result = reconcile(instance, portal)

    with Session(engine) as session:
        events = session.execute(
            select(WorkflowEvent.workflow_id, WorkflowEvent.event_type, WorkflowEvent.details)
            .where(
                WorkflowEvent.workflow_id.in_([done.workflow_id, sent_by_hand.workflow_id]),
                WorkflowEvent.event_type.like("drift.%"),
            )
            .order_by(WorkflowEvent.id)
        ).all()
    kinds = sorted((workflow_id, kind) for workflow_id, kind, _ in events)
    ours = [done.workflow_id, sent_by_hand.workflow_id]
    assert kinds == sorted(
        [
            (_task_workflow(engine, tasks[0], ours), "drift.task_completed"),
            (_task_workflow(engine, tasks[1], ours), "drift.task_deleted"),
            (done.workflow_id, "drift.draft_deleted"),
            (sent_by_hand.workflow_id, "drift.draft_sent"),
        ]
    )
    assert all(details["note"].endswith("not re-created") for _, _, details in events)
    # The second run found the same drift and recorded nothing more, and re-created nothing.
    metadata = result.asset_materializations_for_node("submission_coverage")[0].metadata
    assert metadata["drift_found"].value == {}
    assert metadata["drift_checked"].value == 2
    live = [t for t in sandbox.tasks() if t["portalId"] == portal.portal_id and not t["archived"]]
    assert [t["id"] for t in live] == [tasks[0]]
    assert [d for d in sandbox.drafts() if d["draftId"] in drafts.values()] == []
    assert len([m for m in sandbox.sent() if sent_by_hand.email in m["to"]]) == 1


def _task_workflow(engine: Engine, task_id: str, among: list[uuid.UUID]) -> uuid.UUID:
    from sales_agent_pipeline.db.models import HubspotTask

    # Among this test's workflows: a sandbox numbers tasks from 1, so an earlier module's
    # sandbox on the same worker's database may have left a task with the same id.
    with Session(engine) as session:
        return session.scalars(
            select(HubspotTask.workflow_id).where(
                HubspotTask.hubspot_task_id == task_id, HubspotTask.workflow_id.in_(among)
            )
        ).one()
