"""One lead end to end in this process, traced and logged.

The real API app (starlette's TestClient) accepts a signed delivery and asks Dagster for its
run; a stand-in Dagster webserver (a local HTTP receiver of the launcher's GraphQL) records
the run's tags. The real process_formlead job then executes in process with those very tags
and run id, against the sandbox over HTTP and this worker's PostgreSQL, as the run worker
would. Spans are collected in memory; every log line either side writes (JSON) is kept.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import secrets
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from dagster import DagsterInstance, ExecuteInProcessResult
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace import ReadableSpan
from sqlalchemy import Engine
from sqlalchemy.engine import URL

from sales_agent_api.app import create_app
from sales_agent_pipeline import tracing
from sales_agent_pipeline.cli.demo import DEMO_SENDER
from sales_agent_pipeline.connectors.hubspot_signature import sign_v3
from sales_agent_pipeline.db.urls import libpq_dsn
from sales_agent_pipeline.settings import get_settings
from tests.integration.api.operator_support import bearer, key_for
from tests.integration.pipeline.conftest import (  # noqa: F401
    SECRETS_KEY,
    instance,
    pipeline_env,
)
from tests.integration.pipeline.tenancy import Company, add_company, secrets_of, store_secrets
from tests.sandbox.conftest import Admin, admin_client, sandbox_url  # noqa: F401

WEBHOOK = "/webhook/formlead"
# What the lead types: it must reach no log line and no span.
MESSAGE = "Our dock seven robots keep colliding, quartz-heron-4417 is the fleet code"


@dataclass
class StandInDagster:
    """Answers the launcher's two GraphQL documents as Dagster's webserver does; keeps the
    tags and run id of each launch."""

    launches: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def answer(self, document: dict[str, Any]) -> dict[str, Any]:
        variables = document.get("variables") or {}
        if "launchRun" in document["query"]:
            metadata = variables["params"]["executionMetadata"]
            run_id = str(uuid.uuid4())
            self.launches.append((run_id, {t["key"]: t["value"] for t in metadata["tags"]}))
            return {"launchRun": {"__typename": "LaunchRunSuccess", "run": {"runId": run_id}}}
        keys = [name for name in variables if name.startswith("k")]
        return {f"a{i}": {"__typename": "AddDynamicPartitionSuccess"} for i in range(len(keys))}


@pytest.fixture(scope="module")
def dagster_url() -> Iterator[tuple[str, StandInDagster]]:
    """A stand-in Dagster webserver on a free port."""
    stand_in = StandInDagster()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            document = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            body = json.dumps({"data": stand_in.answer(document)}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", stand_in
    server.shutdown()
    server.server_close()


@dataclass
class Journey:
    """What one lead left behind: its spans, every log line, the run's Dagster messages."""

    workflow_id: str
    email: str
    run_id: str
    tags: dict[str, str]
    result: ExecuteInProcessResult
    spans: tuple[ReadableSpan, ...]
    lines: list[str]
    run_messages: list[str]
    secrets: list[str]
    draft_body: str
    answers: dict[str, int]
    # Two deliveries launched as one run: their spans and its tags (the run not executed).
    batch_spans: tuple[ReadableSpan, ...]
    batch_tags: dict[str, str]
    # A second lead's launch with tracing off, and whether that app had tracing middleware.
    untraced_tags: dict[str, str]
    untraced_app_instrumented: bool


def _signed(secret: str, raw: bytes) -> dict[str, str]:
    headers = sign_v3(secret, "POST", f"http://testserver{WEBHOOK}", raw, int(time.time() * 1000))
    return {**headers, "Content-Type": "application/json"}


@pytest.fixture(scope="module")
def journey(
    admin_client: Admin,  # noqa: F811
    pipeline_env: None,  # noqa: F811
    instance: DagsterInstance,  # noqa: F811
    engine: Engine,
    database_url: URL,
    dagster_url: tuple[str, StandInDagster],
) -> Iterator[Journey]:
    """A lead of a tenant with its own token, key and webhook secret, from the webhook's
    202 to its draft, traced and logged at DEBUG in JSON."""
    sandbox = admin_client
    sandbox.reset(demo=True)
    sandbox.config(
        default_google_user=DEMO_SENDER,
        rate_limit_max=190,
        search_per_second=4,
        google_require_auth=True,
    )
    company: Company = add_company(engine, sandbox, "traced")
    webhook_secret = secrets.token_urlsafe(24)
    store_secrets(engine, company.tenant, webhook_secret=webhook_secret)
    # A password the server does not ask for (trust): it must still never be written.
    password = f"pw-{secrets.token_hex(8)}"
    url, stand_in = dagster_url
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DATABASE_URL", libpq_dsn(database_url.set(password=password)))
        patch.setenv("DAGSTER_WEBSERVER_URL", url)
        patch.setenv("LOG_LEVEL", "DEBUG")
        patch.setenv("LOG_FORMAT", "json")
        get_settings.cache_clear()
        api_key = key_for(engine, company.tenant, admin=True, name="ops")
        email = f"morgan.{uuid.uuid4().hex[:6]}@robots-traced.example"
        body = {
            "portalId": company.portal_id,
            "formId": company.form,
            "formSubmissionId": str(uuid.uuid4()),
            "fieldValues": [
                {"name": "email", "value": email},
                {"name": "firstname", "value": "Morgan"},
                {"name": "company", "value": "Traced Robotics"},
                {"name": "industry", "value": "Robotics"},
                {"name": "message", "value": MESSAGE},
            ],
        }
        raw = json.dumps(body).encode()
        untraced = {**body, "formSubmissionId": str(uuid.uuid4())}
        untraced["fieldValues"] = [{"name": "email", "value": f"x.{email}"}]
        # HubSpot answers the task's creation 429 once: the call's span records it.
        sandbox.fault(
            pathPattern="/crm/v3/objects/tasks", method="POST", status=429, count=1, retryAfter=0
        )
        buffer = io.StringIO()
        answers: dict[str, int] = {}
        with tracing.collecting_spans() as exporter, contextlib.ExitStack() as stack:
            with TestClient(create_app(get_settings()), base_url="http://testserver") as client:
                answers["instrumented"] = int(
                    getattr(client.app, "_is_instrumented_by_opentelemetry", False)
                )
                # The app's start-up configured logging (JSON, DEBUG): keep what it writes.
                handler = logging.getLogger().handlers[0]
                assert isinstance(handler, logging.StreamHandler)
                handler.setStream(buffer)
                stack.callback(handler.setStream, sys.stderr)
                accepted = client.post(WEBHOOK, content=raw, headers=_signed(webhook_secret, raw))
                answers["webhook"] = accepted.status_code
                workflow_id = accepted.json()["workflow_id"]
                assert client.app.state.launches.wait_idle(10)  # type: ignore[attr-defined]
                (run_id, tags), *_ = stand_in.launches
                instance.add_dynamic_partitions("leads", [workflow_id])
                from sales_agent_pipeline.definitions import defs

                job = defs.resolve_job_def("process_formlead")
                result = job.execute_in_process(
                    instance=instance,
                    partition_key=workflow_id,
                    run_id=run_id,
                    tags={k: v for k, v in tags.items() if k != "dagster/partition"},
                    raise_on_error=False,
                )
                detail = client.get(f"/api/workflows/{workflow_id}", headers=bearer(api_key))
                answers["detail"] = detail.status_code
            spans = exporter.get_finished_spans()
        # Two deliveries within the launch queue's linger: one run, and no single parent.
        with tracing.collecting_spans() as exporter:
            lingering = get_settings().model_copy(update={"launch_linger_seconds": 2.0})
            with TestClient(create_app(lingering), base_url="http://testserver") as client:
                state = client.app.state  # type: ignore[attr-defined]
                for n in range(2):
                    one = {**body, "formSubmissionId": str(uuid.uuid4())}
                    one["fieldValues"] = [{"name": "email", "value": f"b{n}.{email}"}]
                    raw_one = json.dumps(one).encode()
                    answers[f"burst{n}"] = client.post(
                        WEBHOOK, content=raw_one, headers=_signed(webhook_secret, raw_one)
                    ).status_code
                assert state.launches.wait_idle(10)
            batch_spans = exporter.get_finished_spans()
        batch_tags = stand_in.launches[-1][1]
        # The same delivery path with tracing off (the default): no span, no tag.
        with TestClient(create_app(get_settings()), base_url="http://testserver") as client:
            traced_app = bool(getattr(client.app, "_is_instrumented_by_opentelemetry", False))
            second = json.dumps(untraced).encode()
            answers["untraced"] = client.post(
                WEBHOOK, content=second, headers=_signed(webhook_secret, second)
            ).status_code
            assert client.app.state.launches.wait_idle(10)  # type: ignore[attr-defined]
        get_settings.cache_clear()
    drafts = [d for d in sandbox.drafts() if d["to"] == email]
    yield Journey(
        workflow_id=workflow_id,
        email=email,
        run_id=run_id,
        tags=tags,
        result=result,
        spans=spans,
        lines=buffer.getvalue().splitlines(),
        run_messages=[entry.user_message for entry in instance.all_logs(run_id)],
        secrets=[
            webhook_secret,
            api_key,
            password,
            SECRETS_KEY,
            *secrets_of(company),
        ],
        draft_body=drafts[0]["body"] if drafts else "",
        answers=answers,
        batch_spans=batch_spans,
        batch_tags=batch_tags,
        untraced_tags=stand_in.launches[-1][1],
        untraced_app_instrumented=traced_app,
    )
    sandbox.clear_faults()
