"""The runs the API asks Dagster for: a canary's lead (and its retry) carry the synthetic
run tag, an ordinary lead's do not. Dagster is a local HTTP receiver here that answers its
GraphQL mutations and keeps the launches it was asked for."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, update
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

from sales_agent_api.app import create_app
from sales_agent_pipeline import run_tags
from sales_agent_pipeline.connectors import synthetic_marker
from sales_agent_pipeline.db.models import Workflow
from sales_agent_pipeline.db.urls import libpq_dsn
from sales_agent_pipeline.secretbox import generate_key, secret_box
from sales_agent_pipeline.settings import Settings
from tests.conftest import free_port
from tests.integration.api.conftest import SECRET, URL_PATH, body_for, make_tenant, signed
from tests.integration.api.operator_support import bearer, key_for

Launches = list[dict[str, str]]


@pytest.fixture(scope="module")
def dagster() -> Iterator[tuple[str, Launches]]:
    """A stand-in for Dagster's GraphQL endpoint: every launch's tags, in order."""
    launches: Launches = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            document = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            variables = document["variables"]
            if "launchRun" in document["query"]:
                tags = variables["params"]["executionMetadata"]["tags"]
                launches.append({tag["key"]: tag["value"] for tag in tags})
                data: dict[str, Any] = {
                    "launchRun": {"__typename": "LaunchRunSuccess", "run": {"runId": "run-1"}}
                }
            else:
                keys = [name for name in variables if name.startswith("k")]
                data = {
                    f"a{i}": {"__typename": "AddDynamicPartitionSuccess"} for i in range(len(keys))
                }
            raw = json.dumps({"data": data}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", launches
    server.shutdown()


@pytest.fixture(scope="module")
def launching(
    database_url: URL, dagster: tuple[str, Launches]
) -> Iterator[tuple[TestClient, Settings]]:
    settings = Settings(
        _env_file=None,
        database_url=libpq_dsn(database_url),
        secrets_encryption_keys=generate_key(),
        dagster_webserver_url=dagster[0],
    )
    with TestClient(create_app(settings), base_url="http://testserver") as client:
        yield client, settings


def launched_for(launches: Launches, workflow_id: str, timeout: float = 10) -> dict[str, str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for tags in launches:
            if tags.get(run_tags.WORKFLOW_ID) == workflow_id:
                return tags
        time.sleep(0.05)
    raise AssertionError(f"no launch for {workflow_id}")


def test_the_canarys_lead_and_its_retry_launch_tagged_synthetic_an_ordinary_lead_not(
    launching: tuple[TestClient, Settings], dagster: tuple[str, Launches], engine: Engine
) -> None:
    client, settings = launching
    launches = dagster[1]
    tenant = make_tenant(engine, secret_box(settings))
    canary_doc = body_for(tenant.portal_id, "canary-launched")
    raw = json.dumps(canary_doc).encode()
    marker = synthetic_marker.mark(SECRET, raw)
    canary = client.post(
        URL_PATH, content=raw, headers={**signed(raw), synthetic_marker.HEADER: marker}
    )
    assert canary.status_code == 202
    canary_id = canary.json()["workflow_id"]
    plain_raw = json.dumps(body_for(tenant.portal_id, "plain-launched")).encode()
    plain = client.post(URL_PATH, content=plain_raw, headers=signed(plain_raw))
    plain_id = plain.json()["workflow_id"]
    assert client.app.state.launches.wait_idle()  # type: ignore[attr-defined]

    canary_tags = launched_for(launches, canary_id)
    assert canary_tags[run_tags.SYNTHETIC] == "true"
    assert canary_tags[run_tags.TENANT] == str(tenant.portal_id)
    assert run_tags.SYNTHETIC not in launched_for(launches, plain_id)

    # A failed canary re-run from the API is tagged like its first run.
    with Session(engine) as session, session.begin():
        session.execute(
            update(Workflow)
            .where(Workflow.tenant_id == tenant.id)
            .values(status="failed", failure_reason="test")
        )
    launches.clear()
    auth = bearer(key_for(engine, tenant, admin=True, name="ops"))
    for workflow_id in (canary_id, plain_id):
        assert client.post(f"/api/workflows/{workflow_id}/retry", headers=auth).status_code == 202
    assert launched_for(launches, canary_id)[run_tags.SYNTHETIC] == "true"
    assert run_tags.SYNTHETIC not in launched_for(launches, plain_id)
