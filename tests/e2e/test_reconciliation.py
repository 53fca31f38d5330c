"""Reconciliation in the real stack: the schedule is on in the daemon, the job launches
from the webserver as the UI launches it, and a lead whose webhook never came is recovered
and processed by the running sensor."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from sales_agent_pipeline.cli.demo import DEMO_FORM, DEMO_PORTAL
from sales_agent_pipeline.connectors.dagster_launcher import LOCATION, REPOSITORY
from sales_agent_pipeline.db.models import FormSubmission, ReconciliationReport, Workflow
from tests.e2e.conftest import RunningStack

pytestmark = pytest.mark.e2e

SCHEDULE = """
query Schedule($selector: ScheduleSelector!) {
  scheduleOrError(scheduleSelector: $selector) {
    __typename
    ... on Schedule { cronSchedule scheduleState { status } }
  }
}
"""
LAUNCH = """
mutation Launch($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on Error { message }
  }
}
"""


def graphql(stack: RunningStack, query: str, **variables: Any) -> dict[str, Any]:
    response = httpx.post(
        f"{stack.ui}/graphql", json={"query": query, "variables": variables}, timeout=30
    )
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    assert not body.get("errors"), body
    data: dict[str, Any] = body["data"]
    return data


def poll(what: Any, timeout: float = 120) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = what()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"nothing after {timeout}s")


def demo_submissions(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(
            conn.scalars(
                select(FormSubmission.hubspot_submission_id).where(
                    FormSubmission.portal_id == DEMO_PORTAL, FormSubmission.form_id == DEMO_FORM
                )
            )
        )


def test_the_scheduled_job_recovers_a_missed_lead_which_then_runs(
    stack: RunningStack, engine: Engine
) -> None:
    selector = {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY}
    schedule = graphql(
        stack,
        SCHEDULE,
        selector={**selector, "scheduleName": "reconcile_submissions_schedule"},
    )["scheduleOrError"]
    assert schedule["__typename"] == "Schedule"
    assert (schedule["cronSchedule"], schedule["scheduleState"]["status"]) == (
        "0 * * * *",
        "RUNNING",
    )
    # The demo's three leads came by webhook; HubSpot lists them under the same ids.
    delivered = poll(lambda: len(demo_submissions(engine)) >= 3 and demo_submissions(engine))
    # A fourth submission whose webhook never came.
    missed = f"missed-{uuid.uuid4().hex[:8]}"
    httpx.post(
        f"{stack.sandbox}/_sandbox/seed",
        json={
            "portalId": DEMO_PORTAL,
            "formSubmissions": [
                {
                    "formGuid": DEMO_FORM,
                    "conversionId": missed,
                    "values": [
                        {"name": "email", "value": "casey.missed@northwind.example"},
                        {"name": "firstname", "value": "Casey"},
                        {"name": "company", "value": "Northwind Clinics"},
                    ],
                }
            ],
        },
        timeout=10,
    ).raise_for_status()

    launched = graphql(
        stack, LAUNCH, params={"selector": {**selector, "jobName": "reconcile_submissions"}}
    )["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    run_id = launched["run"]["runId"]

    def report() -> ReconciliationReport | None:
        with engine.connect() as conn:
            row = conn.execute(
                select(ReconciliationReport).where(
                    ReconciliationReport.dagster_run_id == run_id,
                    ReconciliationReport.form_id == DEMO_FORM,
                )
            ).one_or_none()
        return ReconciliationReport(**row._mapping) if row else None

    found = poll(report)
    assert (found.upstream_seen, found.via_webhook, found.recovered, found.missing) == (
        len(delivered) + 1,
        len(delivered),
        1,
        0,
    )

    def recovered_status() -> str | None:
        with engine.connect() as conn:
            status = conn.execute(
                select(Workflow.status)
                .join(FormSubmission, Workflow.form_submission_id == FormSubmission.id)
                .where(FormSubmission.hubspot_submission_id == missed)
            ).scalar_one()
        return None if status in ("received", "queued", "running") else str(status)

    assert poll(recovered_status) == "succeeded"
