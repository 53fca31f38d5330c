"""The Dagster UI behind sign-in, as `sales-agent up` serves it with UI_AUTH=proxy (what a
deployment runs behind oauth2-proxy): nothing but the probe's path answers without the
proxy's identity header; the API's own launches still work (its service token); a run
launched from the UI carries the signed-in operator, whatever tags the request typed; and
the approval job sends a draft for an operator with a grant for the lead's tenant, records
that identity, and refuses one without."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from sales_agent_pipeline import run_tags
from sales_agent_pipeline.cli.demo import DEMO_PORTAL
from sales_agent_pipeline.db.models import DraftEmail
from tests.e2e.conftest import RunningStack, deliver, finished

HEADER = "X-Forwarded-Email"
LAUNCH = """
mutation Launch($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on Error { message }
  }
}
"""
RUN = """
query Run($id: ID!) {
  runOrError(runId: $id) { ... on Run { status tags { key value } } }
}
"""


@pytest.fixture(scope="module")
def stack_env() -> dict[str, str]:
    return {"UI_AUTH": "proxy"}


def graphql(stack: RunningStack, query: str, variables: dict[str, Any], who: str) -> Any:
    response = httpx.post(
        f"{stack.ui}/graphql",
        json={"query": query, "variables": variables},
        headers={HEADER: who},
        timeout=30,
    )
    response.raise_for_status()
    return response.json()["data"]


def launch_approval(stack: RunningStack, workflow_id: str, who: str) -> str:
    params = {
        "selector": {
            "repositoryLocationName": "sales_agent_pipeline",
            "repositoryName": "__repository__",
            "jobName": "approve_and_send_draft",
        },
        "runConfigData": {"ops": {"approve_and_send": {"config": {"workflow_id": workflow_id}}}},
        # Typed by the person launching: the gate replaces both with the signed-in identity.
        "executionMetadata": {
            "tags": [
                {"key": run_tags.OPERATOR, "value": "boss@ops.example"},
                {"key": run_tags.OPERATOR_STAMP, "value": "1.forged"},
            ]
        },
    }
    answer = graphql(stack, LAUNCH, {"params": params}, who)["launchRun"]
    assert answer["__typename"] == "LaunchRunSuccess", answer
    return str(answer["run"]["runId"])


def run_outcome(stack: RunningStack, run_id: str, who: str) -> tuple[str, dict[str, str]]:
    deadline = time.monotonic() + 90
    while True:
        run = graphql(stack, RUN, {"id": run_id}, who)["runOrError"]
        if run["status"] in ("SUCCESS", "FAILURE", "CANCELED") or time.monotonic() > deadline:
            return run["status"], {tag["key"]: tag["value"] for tag in run["tags"]}
        time.sleep(0.5)


def operator_cli(stack: RunningStack, *args: str) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    env.update(
        DATA_DIR=str(stack.data_dir),
        EMBEDDED_PG_PORT=stack.database.rsplit(":", 1)[1].split("/")[0],
    )
    return subprocess.run(
        [str(Path(sys.executable).parent / "sales-agent"), "operator", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def drafted(stack: RunningStack, engine: Engine) -> str:
    accepted = deliver(stack, f"sign.in.{uuid.uuid4().hex[:8]}@acme-robotics.example")
    assert accepted.status_code == 202, accepted.text
    workflow_id = str(accepted.json()["workflow_id"])
    assert finished(engine, workflow_id).status == "succeeded"
    return workflow_id


def draft(engine: Engine, workflow_id: str) -> DraftEmail:
    with Session(engine) as session:
        return session.scalars(
            select(DraftEmail).where(DraftEmail.workflow_id == uuid.UUID(workflow_id))
        ).one()


def test_without_the_proxys_header_only_the_probe_answers(
    stack: RunningStack, engine: Engine
) -> None:
    assert httpx.get(f"{stack.ui}/server_info", timeout=10).status_code == 200
    for path in ("/", "/runs", "/graphql"):
        refused = httpx.get(f"{stack.ui}{path}", timeout=10)
        assert refused.status_code == 401, path
        assert "Sign in" in refused.text
    posted = httpx.post(f"{stack.ui}/graphql", json={"query": "{ version }"}, timeout=10)
    assert posted.status_code == 401
    signed_in = httpx.get(f"{stack.ui}/runs", headers={HEADER: "dana@ops.example"}, timeout=10)
    assert signed_in.status_code == 200


def test_the_api_still_launches_leads_and_reports_ready(
    stack: RunningStack, engine: Engine
) -> None:
    drafted(stack, engine)
    ready = httpx.get(f"{stack.api}/readyz", timeout=30)
    assert ready.status_code == 200, ready.text


def test_the_approval_records_the_signed_in_operator_with_a_grant_only(
    stack: RunningStack, engine: Engine
) -> None:
    workflow_id = drafted(stack, engine)

    # Signed in, no grant: the run fails with the reason and nothing is sent.
    run_id = launch_approval(stack, workflow_id, "Mallory@Elsewhere.example")
    status, tags = run_outcome(stack, run_id, "mallory@elsewhere.example")
    assert status == "FAILURE"
    assert tags[run_tags.OPERATOR] == "mallory@elsewhere.example"
    assert tags[run_tags.OPERATOR_STAMP] != "1.forged"
    assert draft(engine, workflow_id).sent is False

    granted = operator_cli(stack, "grant", "dana@ops.example", "--portal", str(DEMO_PORTAL))
    assert granted.returncode == 0, granted.stderr
    listed = operator_cli(stack, "list")
    assert f"dana@ops.example  portal {DEMO_PORTAL}" in listed.stdout

    run_id = launch_approval(stack, workflow_id, "dana@ops.example")
    status, tags = run_outcome(stack, run_id, "dana@ops.example")
    assert status == "SUCCESS"
    assert tags[run_tags.OPERATOR] == "dana@ops.example"
    row = draft(engine, workflow_id)
    assert (row.sent, row.approved_by) == (True, "dana@ops.example")

    revoked = operator_cli(stack, "revoke", "dana@ops.example", "--portal", str(DEMO_PORTAL))
    assert revoked.returncode == 0, revoked.stderr
    assert "no grants" in operator_cli(stack, "list").stdout
