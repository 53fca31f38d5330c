"""Signed deliveries through the real processes: API under uvicorn, Dagster webserver and
daemon, the sandbox. Nothing accepted is lost, whichever process is down."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psutil
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from sales_agent_pipeline.db.models import WorkflowEvent
from tests.conftest import free_port
from tests.e2e.conftest import RunningStack, deliver, finished, wait_for

pytestmark = pytest.mark.e2e


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
    response = deliver(stack, email, industry="Robotics")
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
        if "sales_agent_pipeline.webserver" in " ".join(child.cmdline())
    )
    webserver.suspend()  # GraphQL does not answer: the API's launch times out
    try:
        email = "e2e.webserver.down@acme-robotics.example"
        response = deliver(stack, email, industry="Robotics")
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
        # The same data dir: its development key decrypts the tenants' webhook secrets.
        "DATA_DIR": str(stack.data_dir),
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
        response = deliver(stack, email, api=f"http://127.0.0.1:{port}", industry="Robotics")
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
        responses = list(pool.map(lambda email: deliver(stack, email, industry="Robotics"), emails))
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
