"""The canary on the real stack (`sales-agent up`): the daemon ticks its schedule, the job
posts through the API under uvicorn, the lead's run (tagged synthetic) drafts into the
sandbox's mailbox, and neither the usage report nor reconciliation counts it."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from sales_agent_pipeline import run_tags
from sales_agent_pipeline.cli.demo import DEMO_FORM, DEMO_PORTAL
from sales_agent_pipeline.connectors.dagster_launcher import LOCATION, REPOSITORY
from sales_agent_pipeline.db.base import utcnow
from sales_agent_pipeline.db.models import (
    FormSubmission,
    ReconciliationReport,
    Tenant,
    Workflow,
)
from sales_agent_pipeline.db.urls import app_url
from sales_agent_pipeline.usecases.usage import usage_summary
from tests.conftest import free_port
from tests.e2e.conftest import RunningStack, finished, start_up, stop_up, wait_for

pytestmark = pytest.mark.e2e

RUNS = """
query Runs($filter: RunsFilter) {
  runsOrError(filter: $filter) {
    __typename
    ... on Runs { results { runId jobName status tags { key value } } }
  }
}
"""
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
SELECTOR = {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningStack]:
    """`sales-agent up` in sandbox mode, the canary's schedule every minute."""
    data_dir = tmp_path_factory.mktemp("canary-stack")
    api_port, ui_port, sandbox_port, pg_port = free_port(), free_port(), free_port(), free_port()
    skip = {
        "DATABASE_URL",
        "DAGSTER_HOME",
        "DAGSTER_DATABASE_URL",
        "HUBSPOT_ACCESS_TOKEN",
        "GOOGLE_SERVICE_ACCOUNT_FILE",
        "GOOGLE_OAUTH_TOKEN_FILE",
    }
    env = {key: value for key, value in os.environ.items() if key not in skip}
    env.update(
        DATA_DIR=str(data_dir),
        API_PORT=str(api_port),
        DAGSTER_UI_PORT=str(ui_port),
        DAGSTER_CODE_SERVER_PORT=str(free_port()),
        EMBEDDED_PG_PORT=str(pg_port),
        SANDBOX_PORT=str(sandbox_port),
        CANARY_CRON="* * * * *",
    )
    output = data_dir / "up.out"
    process = start_up(env, output)
    try:
        yield RunningStack(
            process,
            f"http://127.0.0.1:{api_port}",
            f"http://127.0.0.1:{ui_port}",
            f"http://127.0.0.1:{sandbox_port}",
            data_dir,
            output,
            f"postgresql://postgres@127.0.0.1:{pg_port}/sales_agent",
        )
    finally:
        stop_up(process)


@pytest.fixture(scope="module")
def engine(stack: RunningStack) -> Iterator[Engine]:
    wait_for(f"{stack.api}/healthz", stack.process)
    wait_for(f"{stack.ui}/server_info", stack.process)
    engine = create_engine(app_url(stack.database))
    yield engine
    engine.dispose()


def graphql(stack: RunningStack, query: str, **variables: Any) -> dict[str, Any]:
    response = httpx.post(
        f"{stack.ui}/graphql", json={"query": query, "variables": variables}, timeout=30
    )
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    assert not body.get("errors"), body
    data: dict[str, Any] = body["data"]
    return data


def poll(what: Any, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = what()
        if value:
            return value
        time.sleep(1)
    raise AssertionError(f"nothing after {timeout}s")


def runs_tagged(stack: RunningStack, key: str, value: str) -> list[dict[str, Any]]:
    found = graphql(stack, RUNS, filter={"tags": [{"key": key, "value": value}]})["runsOrError"]
    assert found["__typename"] == "Runs", found
    runs: list[dict[str, Any]] = found["results"]
    return runs


def canary_workflow(engine: Engine) -> uuid.UUID | None:
    with Session(engine) as session:
        return session.scalar(select(Workflow.id).where(Workflow.synthetic).limit(1))


def test_the_scheduled_canary_runs_through_the_stack_and_counts_nowhere(
    stack: RunningStack, engine: Engine
) -> None:
    schedule = graphql(stack, SCHEDULE, selector={**SELECTOR, "scheduleName": "canary_schedule"})[
        "scheduleOrError"
    ]
    assert (schedule["cronSchedule"], schedule["scheduleState"]["status"]) == (
        "* * * * *",
        "RUNNING",
    )
    # The daemon's tick within the next minute (and its run's start) posts the lead.
    workflow_id = str(poll(lambda: canary_workflow(engine), timeout=180))
    workflow = finished(engine, workflow_id, timeout=150)
    assert (workflow.status, workflow.mode, workflow.synthetic) == ("succeeded", "DRAFT_ONLY", True)

    # The canary's run names its workflow; the lead's own run is tagged synthetic.
    tagged = runs_tagged(stack, run_tags.WORKFLOW_ID, workflow_id)
    jobs = {run["jobName"]: {t["key"]: t["value"] for t in run["tags"]} for run in tagged}
    assert jobs["canary"][run_tags.SYNTHETIC] == "true"
    assert jobs["canary"]["dagster/schedule_name"] == "canary_schedule"
    assert jobs["process_formlead"][run_tags.SYNTHETIC] == "true"
    # Ordinary leads' runs (the demo's) are not.
    with Session(engine) as session:
        canaries = {str(w) for w in session.scalars(select(Workflow.id).where(Workflow.synthetic))}
    demo_runs = [
        run
        for run in runs_tagged(stack, run_tags.TENANT, str(DEMO_PORTAL))
        if run["jobName"] == "process_formlead"
        and {t["key"]: t["value"] for t in run["tags"]}.get(run_tags.WORKFLOW_ID) not in canaries
    ]
    assert demo_runs
    assert all(run_tags.SYNTHETIC not in {t["key"] for t in run["tags"]} for run in demo_runs)

    # Its draft is in the sandbox's mailbox, to the canary's own address; nothing was sent.
    drafts = httpx.get(f"{stack.sandbox}/_sandbox/drafts", timeout=5).json()
    assert [d["to"] for d in drafts if workflow.prospect_email in d["to"]] == [
        workflow.prospect_email
    ]
    sent = httpx.get(f"{stack.sandbox}/_sandbox/sent", timeout=5).json()
    assert not [m for m in sent if workflow.prospect_email in m["to"]]

    # The usage report counts the demo's leads, not the canary's.
    today = utcnow().date()
    with Session(engine) as session:
        tenant = session.scalars(select(Tenant).where(Tenant.portal_id == DEMO_PORTAL)).one()
        ordinary = session.scalar(
            select(func.count())
            .select_from(Workflow)
            .where(Workflow.tenant_id == tenant.id, Workflow.synthetic.is_(False))
        )
        report = usage_summary(session, tenant.id, today, today).totals
    assert ordinary
    assert report.leads_received == ordinary
    assert sum(report.workflows.values()) == ordinary

    # Reconciliation: the demo's three are webhook deliveries HubSpot lists; the canary's is
    # neither counted nor missing.
    launched = graphql(
        stack, LAUNCH, params={"selector": {**SELECTOR, "jobName": "reconcile_submissions"}}
    )["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    run_id = launched["run"]["runId"]

    def reports() -> list[ReconciliationReport]:
        with Session(engine) as session:
            return list(
                session.scalars(
                    select(ReconciliationReport).where(
                        ReconciliationReport.dagster_run_id == run_id
                    )
                )
            )

    (report_row,) = poll(reports, timeout=120)
    assert report_row.form_id == DEMO_FORM
    with Session(engine) as session:
        webhook_delivered = session.scalar(
            select(func.count())
            .select_from(FormSubmission)
            .join(Workflow, Workflow.form_submission_id == FormSubmission.id)
            .where(FormSubmission.portal_id == DEMO_PORTAL, Workflow.synthetic.is_(False))
        )
    assert (report_row.via_webhook, report_row.missing) == (webhook_delivered, 0)
