"""Reconciliation, in process on real PostgreSQL and the sandbox over HTTP: recovered
submissions, the cursor and overlap across pages, an unlisted form, a growing backlog, a
lost launch (stuck work and drift: test_reconciliation_drift.py).

Each test has its own tenant on its own sandbox portal (and HubSpot token), so the job,
run for that portal only, sees nothing of the other tests' rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dagster import DagsterInstance
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from sales_agent_pipeline.db.models import (
    FormCursor,
    FormSubmission,
    ReconciliationReport,
    Tenant,
    Workflow,
)
from sales_agent_pipeline.domain.enums import SubmissionSource
from tests.integration.pipeline.conftest import set_workflow
from tests.integration.pipeline.reconciling import (
    FORM,
    Portal,
    checks,
    deliver,
    portal_fixture,  # noqa: F401
    reconcile,
    report_of,
    seed,
    submit,
    upstream,
    workflows_per_submission,
)
from tests.sandbox.conftest import Admin


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
    set_workflow(engine, lead.workflow_id, created_at=func.now() - timedelta(hours=1))
    second = reconcile(instance, portal)
    assert checks(second)["backlog_not_growing"] is False


def test_a_launch_that_never_started_is_bounded(
    sandbox: Admin, portal: Portal, engine: Engine, instance: DagsterInstance
) -> None:
    lead = submit(engine, portal, "lost.launch@acme-robotics.example")
    # Asked for two hours ago, no run ever claimed it, on its last attempt.
    set_workflow(
        engine,
        lead.workflow_id,
        run_requested_at=func.now() - timedelta(hours=2),
        attempts=2,
        updated_at=func.now() - timedelta(hours=2),
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


def test_a_tenant_without_an_allowlist_reconciles_the_forms_its_deliveries_came_with(
    sandbox: Admin, portal: Portal, engine: Engine, instance: DagsterInstance
) -> None:
    # No allowlist: its webhook takes any form of its portal.
    with Session(engine) as session, session.begin():
        session.execute(
            update(Tenant).where(Tenant.id == portal.tenant.id).values(allowed_form_ids=[])
        )
    now = datetime.now(UTC).replace(microsecond=0)
    items = upstream(3, newest=now, step=timedelta(minutes=2), prefix="open")
    seed(sandbox, portal, items)

    nothing = reconcile(instance, portal)
    # Before any delivery there is no form to prove (and nothing to invent).
    with Session(engine) as session:
        reports = session.scalar(
            select(func.count())
            .select_from(ReconciliationReport)
            .where(ReconciliationReport.dagster_run_id == nothing.run_id)
        )
    assert reports == 0

    deliver(engine, portal, items[0])
    result = reconcile(instance, portal)
    report = report_of(engine, result)
    assert (report.form_id, report.upstream_seen, report.via_webhook, report.recovered) == (
        FORM,
        3,
        1,
        2,
    )
    held = workflows_per_submission(engine, portal)
    assert {sid: count for sid, (_, count) in held.items()} == {
        item["conversionId"]: 1 for item in items
    }


def test_a_dead_letter_is_not_stuck_work_and_is_reported_apart(
    sandbox: Admin, portal: Portal, engine: Engine, instance: DagsterInstance
) -> None:
    lead = submit(engine, portal, "dead.letter@acme-robotics.example")
    # Its run ended long ago, its transient retries exhausted, no automatic re-drive left.
    set_workflow(
        engine,
        lead.workflow_id,
        status="dead_letter",
        error_class="transient",
        run_requested_at=func.now() - timedelta(hours=2),
        dagster_run_id="a-run-long-gone",
        attempts=3,
        updated_at=func.now() - timedelta(hours=2),
    )

    result = reconcile(instance, portal)

    metadata = result.asset_materializations_for_node("submission_coverage")[0].metadata
    assert metadata["stuck_failed"].value == 0
    assert metadata["stuck_requeued"].value == 0
    assert metadata["dead_letters_for_a_person"].value == 1
    with Session(engine) as session:
        assert session.get_one(Workflow, lead.workflow_id).status == "dead_letter"
