"""Signed deliveries through the real processes: API under uvicorn, Dagster webserver and
daemon, the sandbox. Nothing accepted is lost, whichever process is down."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.engine import Engine

from sales_agent_api.signature import sign_v3
from sales_agent_pipeline.cli.demo import DEMO_FORM, DEMO_PORTAL
from sales_agent_pipeline.db.models import Workflow, WorkflowEvent
from sales_agent_pipeline.db.urls import app_url
from tests.conftest import free_port
from tests.e2e.conftest import RunningStack, wait_for

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def engine(stack: RunningStack) -> Any:
    wait_for(f"{stack.api}/healthz", stack.process)
    wait_for(f"{stack.ui}/server_info", stack.process)
    engine = create_engine(app_url(stack.database))
    yield engine
    engine.dispose()


def secret(stack: RunningStack) -> str:
    return (stack.data_dir / "demo-webhook-secret").read_text().strip()


def deliver(stack: RunningStack, api: str, email: str) -> httpx.Response:
    body = json.dumps(
        {
            "portalId": DEMO_PORTAL,
            "formId": DEMO_FORM,
            "formSubmissionId": str(uuid.uuid4()),
            "fieldValues": [
                {"name": "email", "value": email},
                {"name": "firstname", "value": "Robin"},
                {"name": "industry", "value": "Robotics"},
            ],
        }
    ).encode()
    url = f"{api}/webhook/formlead"
    headers = sign_v3(secret(stack), "POST", url, body, int(time.time() * 1000))
    return httpx.post(
        url, content=body, headers={**headers, "Content-Type": "application/json"}, timeout=10
    )


def finished(engine: Engine, workflow_id: str, timeout: float = 90) -> Workflow:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            status = conn.execute(
                select(Workflow.status).where(Workflow.id == uuid.UUID(workflow_id))
            ).scalar_one()
        if status not in ("received", "queued", "running"):
            break
        time.sleep(0.5)
    with engine.connect() as conn:
        row = conn.execute(select(Workflow).where(Workflow.id == uuid.UUID(workflow_id))).one()
    return Workflow(**row._mapping)


def step_events(engine: Engine, workflow_id: str) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(
                select(func.count())
                .select_from(WorkflowEvent)
                .where(
                    WorkflowEvent.workflow_id == uuid.UUID(workflow_id),
                    WorkflowEvent.status == "succeeded",
                )
            ).scalar_one()
        )


def sandbox_count(stack: RunningStack, what: str, email: str) -> int:
    items = httpx.get(f"{stack.sandbox}/_sandbox/{what}", timeout=5).json()
    if what == "tasks":
        return sum(email in (t["properties"].get("hs_task_body") or "") for t in items)
    return sum(email in item["to"] for item in items)


def test_a_signed_post_ends_in_a_succeeded_workflow_with_one_draft_and_task(
    stack: RunningStack, engine: Engine
) -> None:
    email = "e2e.one@acme-robotics.example"
    response = deliver(stack, stack.api, email)
    assert response.status_code == 202
    workflow_id = response.json()["workflow_id"]
    workflow = finished(engine, workflow_id)
    assert workflow.status == "succeeded"
    assert step_events(engine, workflow_id) == 13
    assert sandbox_count(stack, "drafts", email) == 1
    assert sandbox_count(stack, "tasks", email) == 1
    # The webhook's own launch ran it; a second delivery of the same id changes nothing.
    assert workflow.dagster_run_id is not None


def test_with_the_dagster_webserver_stopped_the_sensor_processes_the_lead(
    stack: RunningStack, engine: Engine
) -> None:
    webserver = next(
        child
        for child in psutil.Process(stack.process.pid).children(recursive=True)
        if "dagster-webserver" in " ".join(child.cmdline())
    )
    webserver.suspend()  # GraphQL does not answer: the API's launch times out
    try:
        email = "e2e.webserver.down@acme-robotics.example"
        response = deliver(stack, stack.api, email)
        assert response.status_code == 202
        workflow = finished(engine, response.json()["workflow_id"], timeout=120)
    finally:
        webserver.resume()
    assert workflow.status == "succeeded"
    assert sandbox_count(stack, "drafts", email) == 1


def test_with_the_api_killed_right_after_its_202_the_lead_is_processed(
    stack: RunningStack, engine: Engine
) -> None:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": stack.database,
        "HUBSPOT_CLIENT_SECRET": secret(stack),
        "DAGSTER_WEBSERVER_URL": stack.ui,
    }
    env.pop("HUBSPOT_ACCESS_TOKEN", None)
    api = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "uvicorn"),
            "sales_agent_api.app:create_app",
            "--factory",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env=env,
    )
    try:
        wait_for(f"http://127.0.0.1:{port}/healthz", api, timeout=60)
        email = "e2e.api.killed@acme-robotics.example"
        response = deliver(stack, f"http://127.0.0.1:{port}", email)
        api.send_signal(signal.SIGKILL)
        assert response.status_code == 202
    finally:
        api.kill()
        api.wait(10)
    workflow = finished(engine, response.json()["workflow_id"], timeout=120)
    assert workflow.status == "succeeded"
    assert sandbox_count(stack, "drafts", email) == 1


def test_a_burst_of_deliveries_is_launched_in_few_runs_and_each_lead_succeeds_once(
    stack: RunningStack, engine: Engine
) -> None:
    emails = [f"e2e.burst{n}@acme-robotics.example" for n in range(12)]
    with ThreadPoolExecutor(max_workers=12) as pool:
        responses = list(pool.map(lambda email: deliver(stack, stack.api, email), emails))
    assert [r.status_code for r in responses] == [202] * len(emails)
    workflows = [finished(engine, r.json()["workflow_id"], timeout=180) for r in responses]
    assert {w.status for w in workflows} == {"succeeded"}
    # The API's launch queue gathered the burst: fewer runs than leads, none lost.
    runs = {w.dagster_run_id for w in workflows}
    assert None not in runs
    assert len(runs) < len(emails)
    for email in emails:
        assert sandbox_count(stack, "drafts", email) == 1
        assert sandbox_count(stack, "tasks", email) == 1
