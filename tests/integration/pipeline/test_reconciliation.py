"""Reconciliation, in process on real PostgreSQL and the sandbox over HTTP: recovered
submissions, the cursor and overlap across pages, stuck work, and drift.

Each test has its own tenant on its own sandbox portal (and HubSpot token), so the job,
run for that portal only, sees nothing of the other tests' rows."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from dagster import DagsterInstance, ExecuteInProcessResult
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from sales_agent_pipeline.cli.demo import DEMO_SENDER
from sales_agent_pipeline.db.models import (
    FormCursor,
    FormSubmission,
    ReconciliationReport,
    Tenant,
    Workflow,
    WorkflowEvent,
)
from sales_agent_pipeline.db.repositories.outbox import accept_submission
from sales_agent_pipeline.domain.enums import SubmissionSource
from tests.integration.pipeline.conftest import Lead
from tests.integration.pipeline.tenancy import store_secrets
from tests.sandbox.conftest import Admin

FORM = "contact-us-form"
OWNER = "90000001"  # the demo owner's id, seeded into each test's portal


@dataclass
class Portal:
    """A test's tenant, its sandbox portal and the token that reaches it."""

    tenant: Tenant
    token: str
    sandbox_url: str

    @property
    def portal_id(self) -> int:
        return self.tenant.portal_id

    def outside(self) -> httpx.Client:
        """HubSpot's API as the owner uses it, outside the product (the portal's token)."""
        return httpx.Client(
            base_url=self.sandbox_url, headers={"Authorization": f"Bearer {self.token}"}
        )

    def gmail(self) -> httpx.Client:
        """The owner's Gmail, outside the product (the sandbox's default mailbox: this
        tenant stores no Google credentials and acts anonymously there)."""
        return httpx.Client(base_url=self.sandbox_url)


@pytest.fixture
def portal(sandbox: Admin, engine: Engine, sandbox_url: str) -> Portal:
    portal_id = random.randint(10_000_000, 99_999_999)
    token = f"token-{portal_id}"
    sandbox.seed(
        portalId=portal_id,
        tokens={token: portal_id},
        owners=[{"id": OWNER, "email": DEMO_SENDER, "firstName": "Alex", "lastName": "Morgan"}],
        forms=[FORM],
    )
    with Session(engine, expire_on_commit=False) as session, session.begin():
        tenant = Tenant(
            portal_id=portal_id,
            name=f"Reconciled {portal_id}",
            allowed_form_ids=[FORM],
            drive_folder_ids=["folder-case-studies"],
            timezone="America/New_York",
            sender_email=DEMO_SENDER,
            default_owner_id=OWNER,
            throttle_window_seconds=0,
            voice_profile={"sender_name": "Alex Morgan", "company_name": "Demo Co"},
        )
        session.add(tenant)
    # The tenant's own token, stored encrypted (the environment's applies to no tenant).
    store_secrets(engine, tenant, hubspot_token=token)
    return Portal(tenant, token, sandbox_url)


def upstream(count: int, *, newest: datetime, step: timedelta, prefix: str) -> list[dict[str, Any]]:
    """Seed `count` submissions of FORM, `step` apart going back from `newest`."""
    items = [
        {
            "formGuid": FORM,
            "conversionId": f"{prefix}-{n}-{uuid.uuid4().hex[:8]}",
            "submittedAt": (newest - n * step).isoformat(),
            "values": [
                {"name": "email", "value": f"{prefix}{n}@acme-robotics.example"},
                {"name": "firstname", "value": f"Robin{n}"},
                {"name": "company", "value": "Acme Robotics"},
            ],
        }
        for n in range(count)
    ]
    return items


def seed(sandbox: Admin, portal: Portal, items: list[dict[str, Any]]) -> None:
    sandbox.seed(portalId=portal.portal_id, formSubmissions=items)


def deliver(engine: Engine, portal: Portal, item: dict[str, Any]) -> uuid.UUID:
    """What the webhook stores for one submission: its formSubmissionId is the conversionId."""
    payload = {
        "portalId": portal.portal_id,
        "formId": FORM,
        "formSubmissionId": item["conversionId"],
        "fieldValues": item["values"],
    }
    with Session(engine) as session, session.begin():
        accepted = accept_submission(
            session,
            portal.tenant,
            form_id=FORM,
            hubspot_submission_id=item["conversionId"],
            payload=payload,
            email=item["values"][0]["value"],
        )
    return accepted.workflow_id


def reconcile(
    instance: DagsterInstance, portal: Portal, portal_id: int | None = None
) -> ExecuteInProcessResult:
    from sales_agent_pipeline.definitions import defs

    job = defs.resolve_job_def("reconcile_submissions")
    config = {"portal_ids": [portal_id or portal.portal_id]}
    result = job.execute_in_process(
        instance=instance, run_config={"ops": {"submission_coverage": {"config": config}}}
    )
    assert result.success
    return result


def report_of(engine: Engine, result: ExecuteInProcessResult) -> ReconciliationReport:
    with Session(engine) as session:
        return session.scalars(
            select(ReconciliationReport).where(ReconciliationReport.dagster_run_id == result.run_id)
        ).one()


def checks(result: ExecuteInProcessResult) -> dict[str, bool]:
    return {e.check_name: e.passed for e in result.get_asset_check_evaluations()}


def workflows_per_submission(engine: Engine, portal: Portal) -> dict[str, tuple[str, int]]:
    with Session(engine) as session:
        rows = session.execute(
            select(
                FormSubmission.hubspot_submission_id,
                FormSubmission.source,
                func.count(Workflow.id),
            )
            .outerjoin(Workflow, Workflow.form_submission_id == FormSubmission.id)
            .where(FormSubmission.portal_id == portal.portal_id)
            .group_by(FormSubmission.hubspot_submission_id, FormSubmission.source)
        ).all()
    return {sid: (source, count) for sid, source, count in rows}


def test_missed_submissions_are_recovered_once_and_reported(
    sandbox: Admin, portal: Portal, engine: Engine, instance: DagsterInstance
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)  # HubSpot keeps milliseconds
    items = upstream(10, newest=now, step=timedelta(minutes=3), prefix="lead")
    seed(sandbox, portal, items)
    delivered = items[:7]
    for item in delivered:
        deliver(engine, portal, item)
    deliver(engine, portal, delivered[0])  # HubSpot retried one delivery

    result = reconcile(instance, portal)

    held = workflows_per_submission(engine, portal)
    assert set(held) == {item["conversionId"] for item in items}
    assert all(count == 1 for _, count in held.values())
    recovered = {sid for sid, (source, _) in held.items() if source == "reconciliation"}
    assert recovered == {item["conversionId"] for item in items[7:]}
    report = report_of(engine, result)
    assert (report.upstream_seen, report.via_webhook, report.recovered, report.missing) == (
        10,
        7,
        3,
        0,
    )
    assert checks(result) == {"no_missing_submissions": True, "backlog_not_growing": True}
    materialization = result.asset_materializations_for_node("submission_coverage")[0]
    assert materialization.metadata["recovered"].value == 3
    assert materialization.metadata["missing"].value == 0
    # A recovered lead waits for the sensor like a webhook one, with the fields mapped alike.
    with Session(engine) as session:
        lead = session.execute(
            select(FormSubmission, Workflow)
            .join(Workflow, Workflow.form_submission_id == FormSubmission.id)
            .where(FormSubmission.hubspot_submission_id == items[9]["conversionId"])
        ).one()
        assert (lead[0].email, lead[0].first_name, lead[0].company) == (
            "lead9@acme-robotics.example",
            "Robin9",
            "Acme Robotics",
        )
        assert lead[0].source == SubmissionSource.RECONCILIATION.value
        assert (lead[1].status, lead[1].run_requested_at) == ("received", None)
        cursor = session.get_one(FormCursor, (portal.tenant.id, FORM)).last_submitted_at
    assert cursor == datetime.fromisoformat(items[0]["submittedAt"])

    again = reconcile(instance, portal)

    assert workflows_per_submission(engine, portal) == held
    second = report_of(engine, again)
    assert (second.upstream_seen, second.via_webhook, second.recovered, second.missing) == (
        10,
        7,
        0,
        0,
    )
    assert checks(again) == {"no_missing_submissions": True, "backlog_not_growing": True}


def test_the_cursor_and_overlap_hold_across_pages(
    sandbox: Admin, portal: Portal, engine: Engine, instance: DagsterInstance
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    first = upstream(75, newest=now - timedelta(hours=2), step=timedelta(minutes=1), prefix="a")
    seed(sandbox, portal, first)

    one = report_of(engine, reconcile(instance, portal))

    assert (one.upstream_seen, one.recovered, one.missing) == (75, 75, 0)
    assert one.details["pages"] == 2  # 50 + 25: the page size HubSpot allows
    # HubSpot lists a submission late (inside the overlap), one far older (outside it),
    # and 55 new ones arrive.
    late = upstream(
        1, newest=now - timedelta(hours=2, minutes=30), step=timedelta(0), prefix="late"
    )
    ancient = upstream(1, newest=now - timedelta(hours=5), step=timedelta(0), prefix="old")
    fresh = upstream(55, newest=now, step=timedelta(seconds=30), prefix="b")
    seed(sandbox, portal, late + ancient + fresh)

    two = report_of(engine, reconcile(instance, portal))

    # The window reaches back to the cursor (now - 2 h) minus the hour of overlap.
    window_start = now - timedelta(hours=3)
    in_window = [
        item
        for item in first + late + fresh
        if datetime.fromisoformat(item["submittedAt"]) >= window_start
    ]
    assert two.window_start == window_start
    assert (two.upstream_seen, two.recovered, two.missing) == (len(in_window), 56, 0)
    assert two.details["pages"] == 3
    held = workflows_per_submission(engine, portal)
    assert len(held) == 75 + 56
    assert ancient[0]["conversionId"] not in held  # older than the window: not listed
    with Session(engine) as session:
        cursor = session.get_one(FormCursor, (portal.tenant.id, FORM)).last_submitted_at
    assert cursor == now


def submit(engine: Engine, portal: Portal, email: str) -> Lead:
    item = {
        "conversionId": str(uuid.uuid4()),
        "values": [
            {"name": "email", "value": email},
            {"name": "firstname", "value": "Jordan"},
            {"name": "company", "value": "Acme Robotics"},
        ],
    }
    return Lead(deliver(engine, portal, item), email)


def test_a_stuck_workflow_is_requeued_and_finishes_once(
    sandbox: Admin, portal: Portal, engine: Engine, instance: DagsterInstance, run: Any
) -> None:
    lead = submit(engine, portal, "stuck.lead@acme-robotics.example")
    # Its run died two hours ago: a run id the instance does not know.
    with Session(engine) as session, session.begin():
        session.execute(
            update(Workflow)
            .where(Workflow.id == lead.workflow_id)
            .values(
                status="running",
                dagster_run_id=str(uuid.uuid4()),
                run_requested_at=func.now() - timedelta(hours=2),
                attempts=1,
                created_at=func.now() - timedelta(hours=2),
                updated_at=func.now() - timedelta(hours=2),
            )
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


def test_an_unlisted_form_and_a_growing_backlog_fail_the_checks(
    sandbox: Admin, portal: Portal, engine: Engine, instance: DagsterInstance
) -> None:
    with Session(engine) as session, session.begin():
        session.execute(
            update(Tenant)
            .where(Tenant.id == portal.tenant.id)
            .values(allowed_form_ids=[FORM, "form-hubspot-does-not-know"])
        )
    # A submission without an email (the webhook answers it 400): nothing to process.
    [no_email] = upstream(1, newest=datetime.now(UTC), step=timedelta(0), prefix="none")
    no_email["values"] = [{"name": "firstname", "value": "Anon"}]
    seed(sandbox, portal, [no_email])
    first = reconcile(instance, portal)
    assert checks(first) == {"no_missing_submissions": False, "backlog_not_growing": True}
    evaluation = next(
        e for e in first.get_asset_check_evaluations() if e.check_name == "no_missing_submissions"
    )
    assert evaluation.severity.value == "ERROR"
    with Session(engine) as session:
        unknown = session.scalars(
            select(ReconciliationReport).where(
                ReconciliationReport.dagster_run_id == first.run_id,
                ReconciliationReport.form_id == "form-hubspot-does-not-know",
            )
        ).one()
        assert "404" in unknown.details["error"] or "not found" in unknown.details["error"]
        listed = session.scalars(
            select(ReconciliationReport).where(
                ReconciliationReport.dagster_run_id == first.run_id,
                ReconciliationReport.form_id == FORM,
            )
        ).one()
        assert (listed.upstream_seen, listed.recovered, listed.missing) == (1, 0, 0)
        assert list(listed.details["unusable"]) == [no_email["conversionId"]]
        # Not listed, so not proven: its cursor stays where it was (nowhere).
        assert session.get(FormCursor, (portal.tenant.id, "form-hubspot-does-not-know")) is None

    # A lead nobody launched for an hour: the backlog grows from 0 to 1.
    lead = submit(engine, portal, "waiting.lead@acme-robotics.example")
    with Session(engine) as session, session.begin():
        session.execute(
            update(Workflow)
            .where(Workflow.id == lead.workflow_id)
            .values(created_at=func.now() - timedelta(hours=1))
        )
    second = reconcile(instance, portal)
    assert checks(second)["backlog_not_growing"] is False


def test_a_launch_that_never_started_is_bounded(
    sandbox: Admin, portal: Portal, engine: Engine, instance: DagsterInstance
) -> None:
    lead = submit(engine, portal, "lost.launch@acme-robotics.example")
    # Asked for two hours ago, no run ever claimed it, on its last attempt.
    with Session(engine) as session, session.begin():
        session.execute(
            update(Workflow)
            .where(Workflow.id == lead.workflow_id)
            .values(
                run_requested_at=func.now() - timedelta(hours=2),
                attempts=2,
                updated_at=func.now() - timedelta(hours=2),
            )
        )
    # A run for a portal no tenant has sweeps nothing (not every tenant).
    elsewhere = reconcile(instance, portal, portal_id=1)
    metadata = elsewhere.asset_materializations_for_node("submission_coverage")[0].metadata
    assert (metadata["forms"].value, metadata["stuck_failed"].value) == (0, 0)
    with Session(engine) as session:
        assert session.get_one(Workflow, lead.workflow_id).status == "received"

    result = reconcile(instance, portal)
    metadata = result.asset_materializations_for_node("submission_coverage")[0].metadata
    assert metadata["stuck_failed"].value == 1
    with Session(engine) as session:
        workflow = session.get_one(Workflow, lead.workflow_id)
    assert workflow.status == "failed"
    assert workflow.failure_reason == "no run started after 3 launch(es)"
