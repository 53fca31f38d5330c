"""One real `sales-agent up` per test module: embedded PostgreSQL, sandbox, free ports."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.engine import Engine

from sales_agent_pipeline.cli.demo import DEMO_FORM, DEMO_PORTAL
from sales_agent_pipeline.connectors.hubspot_signature import sign_v3
from sales_agent_pipeline.db.models import Workflow
from sales_agent_pipeline.db.urls import app_url
from tests.conftest import free_port

READY_TIMEOUT = 150.0


@dataclass
class RunningStack:
    process: subprocess.Popen[str]
    api: str
    ui: str
    sandbox: str
    data_dir: Path
    output: Path
    database: str


def wait_for(url: str, process: subprocess.Popen[Any], timeout: float = READY_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, f"sales-agent up exited with {process.returncode}"
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError(f"{url} not ready after {timeout}s")


def start_up(env: dict[str, str], output: Path) -> subprocess.Popen[str]:
    """`sales-agent up` with this environment, everything it prints going to `output`."""
    with output.open("w") as sink:
        return subprocess.Popen(
            [str(Path(sys.executable).parent / "sales-agent"), "up"],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            text=True,
        )


def stop_up(process: subprocess.Popen[str]) -> None:
    """Stop a `sales-agent up` that still runs, and wait for it."""
    if process.poll() is None:
        # SIGTERM: `up` stops every child and PostgreSQL. A SIGKILL would leave the
        # whole stack running (its children have sessions of their own) and every
        # later test module would share the machine with it.
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(30)


def postmaster_pid(data_dir: Path) -> int:
    return int((data_dir / "postgres" / "postmaster.pid").read_text().splitlines()[0])


@pytest.fixture(scope="module")
def stack_env() -> dict[str, str]:
    """Variables a test module sets for its stack (none by default)."""
    return {}


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, stack_env: dict[str, str]
) -> Iterator[RunningStack]:
    data_dir = tmp_path_factory.mktemp("stack")
    api_port, ui_port, sandbox_port = free_port(), free_port(), free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if key
        not in {
            "DATABASE_URL",
            "DAGSTER_HOME",
            "DAGSTER_DATABASE_URL",
            "HUBSPOT_ACCESS_TOKEN",
            "GOOGLE_SERVICE_ACCOUNT_FILE",
            "GOOGLE_OAUTH_TOKEN_FILE",
        }
    }
    pg_port = free_port()
    env.update(
        DATA_DIR=str(data_dir),
        API_PORT=str(api_port),
        DAGSTER_UI_PORT=str(ui_port),
        DAGSTER_CODE_SERVER_PORT=str(free_port()),
        EMBEDDED_PG_PORT=str(pg_port),
        SANDBOX_PORT=str(sandbox_port),
    )
    env.update(stack_env)
    output = data_dir / "up.out"
    process = start_up(env, output)
    running = RunningStack(
        process,
        f"http://127.0.0.1:{api_port}",
        f"http://127.0.0.1:{ui_port}",
        f"http://127.0.0.1:{sandbox_port}",
        data_dir,
        output,
        f"postgresql://postgres@127.0.0.1:{pg_port}/sales_agent",
    )
    try:
        yield running
    finally:
        stop_up(process)


@pytest.fixture(scope="module")
def engine(stack: RunningStack) -> Iterator[Engine]:
    """An engine on the stack's app database, once the API and the Dagster UI answer."""
    wait_for(f"{stack.api}/healthz", stack.process)
    wait_for(f"{stack.ui}/server_info", stack.process)
    engine = create_engine(app_url(stack.database))
    yield engine
    engine.dispose()


def demo_secret(stack: RunningStack) -> str:
    """The demo tenant's webhook secret that `up` wrote to the data dir."""
    return (stack.data_dir / "demo-webhook-secret").read_text().strip()


def deliver(
    stack: RunningStack,
    email: str,
    *,
    api: str | None = None,
    submission_id: str | None = None,
    **fields: str,
) -> httpx.Response:
    """One form submission for the demo tenant, signed (v3) as HubSpot posts it; the same
    `submission_id` again is HubSpot's re-delivery of it."""
    values = {"email": email, "firstname": "Robin", **fields}
    body = json.dumps(
        {
            "portalId": DEMO_PORTAL,
            "formId": DEMO_FORM,
            "formSubmissionId": submission_id or str(uuid.uuid4()),
            "fieldValues": [{"name": name, "value": value} for name, value in values.items()],
        }
    ).encode()
    url = f"{api or stack.api}/webhook/formlead"
    headers = sign_v3(demo_secret(stack), "POST", url, body, int(time.time() * 1000))
    return httpx.post(
        url, content=body, headers={**headers, "Content-Type": "application/json"}, timeout=10
    )


def finished(engine: Engine, workflow_id: str, timeout: float = 90) -> Workflow:
    """The workflow once it left received/queued/running (or as it is at the timeout)."""
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
