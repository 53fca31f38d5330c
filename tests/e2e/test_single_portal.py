"""The single-portal path as a new user takes it: only environment variables (the portal,
its private-app token and client secret, its form, a Google service-account key and the
sender's address), `sales-agent up`, a real signed delivery, and a draft in the sender's
mailbox. The vendors are the sandbox started apart from the stack (as a real HubSpot and
Google would be), checking every token the way they do."""

from __future__ import annotations

import json
import os
import random
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.engine import Engine

from sales_agent_pipeline.connectors.hubspot_signature import sign_v3
from sales_agent_pipeline.db.models import Tenant
from sales_agent_pipeline.db.urls import app_url
from tests.conftest import free_port
from tests.e2e.conftest import finished, start_up, stop_up, wait_for
from tests.sandbox.conftest import Admin, admin_client, sandbox_url  # noqa: F401

pytestmark = pytest.mark.e2e


@dataclass
class Portal:
    id: int
    token: str
    client_secret: str
    form: str
    sender: str


@dataclass
class Stack:
    process: subprocess.Popen[str]
    api: str
    output: Path
    database: str


@pytest.fixture(scope="module")
def portal(admin_client: Admin) -> Portal:  # noqa: F811
    admin_client.reset()
    portal_id = random.randint(10**7, 10**8)
    domain = f"single{portal_id}.example"
    form = f"form-{uuid.uuid4()}"
    admin_client.seed(portalId=portal_id, forms=[{"id": form, "name": "Contact us"}])
    return Portal(
        portal_id,
        admin_client.register_token(f"pat-eu1-{uuid.uuid4()}", portal_id),
        uuid.uuid4().hex,
        form,
        f"sales@{domain}",
    )


@pytest.fixture(scope="module")
def stack(
    portal: Portal,
    admin_client: Admin,  # noqa: F811
    sandbox_url: str,  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    data_dir = tmp_path_factory.mktemp("single")
    key_file = data_dir / "google-sa.json"
    key_file.write_text(json.dumps(admin_client.service_account([portal.sender.split("@")[1]])))
    api_port, pg_port = free_port(), free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("HUBSPOT_", "GOOGLE_", "DATABASE_URL", "DAGSTER_"))
    }
    env.update(
        DATA_DIR=str(data_dir),
        API_PORT=str(api_port),
        DAGSTER_UI_PORT=str(free_port()),
        DAGSTER_CODE_SERVER_PORT=str(free_port()),
        EMBEDDED_PG_PORT=str(pg_port),
        SANDBOX_PORT=str(free_port()),
        # What the user sets: five variables, the Google key and the sender...
        HUBSPOT_PORTAL_ID=str(portal.id),
        HUBSPOT_ACCESS_TOKEN=portal.token,
        HUBSPOT_CLIENT_SECRET=portal.client_secret,
        ALLOWED_FORM_IDS=portal.form,
        GOOGLE_SERVICE_ACCOUNT_FILE=str(key_file),
        SENDER_EMAIL=portal.sender,
        # ...and where "HubSpot" and "Google" answer.
        HUBSPOT_API_BASE_URL=sandbox_url,
        GOOGLE_API_BASE_URL=sandbox_url,
    )
    output = data_dir / "up.out"
    process = start_up(env, output)
    running = Stack(
        process,
        f"http://127.0.0.1:{api_port}",
        output,
        f"postgresql://postgres@127.0.0.1:{pg_port}/sales_agent",
    )
    try:
        wait_for(f"{running.api}/healthz", process)
        yield running
    finally:
        stop_up(process)


@pytest.fixture(scope="module")
def engine(stack: Stack) -> Iterator[Engine]:
    engine = create_engine(app_url(stack.database))
    yield engine
    engine.dispose()


def test_the_environment_alone_takes_a_signed_delivery_to_a_draft(
    stack: Stack,
    engine: Engine,
    portal: Portal,
    admin_client: Admin,  # noqa: F811
) -> None:
    said = stack.output.read_text()
    assert f"tenant for portal {portal.id} created from the environment" in said
    with engine.connect() as conn:
        tenants = conn.execute(
            select(Tenant.portal_id, Tenant.allowed_form_ids, Tenant.sender_email)
        ).all()
    # That one tenant, and no demo: real credentials are set, so no sandbox or demo starts.
    assert [tuple(t) for t in tenants] == [(portal.id, [portal.form], portal.sender)]

    since = admin_client.last_request_seq()
    body = json.dumps(
        {
            "portalId": portal.id,
            "formId": portal.form,
            "formSubmissionId": str(uuid.uuid4()),
            "fieldValues": [
                {"name": "email", "value": "jordan@prospect-co.example"},
                {"name": "firstname", "value": "Jordan"},
                {"name": "company", "value": "Prospect Co"},
            ],
        }
    ).encode()
    url = f"{stack.api}/webhook/formlead"
    signed = sign_v3(portal.client_secret, "POST", url, body, int(time.time() * 1000))
    answer = httpx.post(
        url, content=body, headers={**signed, "Content-Type": "application/json"}, timeout=10
    )
    assert answer.status_code == 202, answer.text
    workflow = finished(engine, answer.json()["workflow_id"], timeout=150)
    assert workflow.status == "succeeded", workflow.failure_reason

    drafts = [d for d in admin_client.drafts() if "jordan@prospect-co.example" in (d["to"] or "")]
    assert [d["user"] for d in drafts] == [portal.sender]
    calls = admin_client.requests(after=since)
    hubspot = {c["identity"]["portalId"] for c in calls if c["vendor"] == "hubspot"}
    google = {
        c["identity"]["subject"]
        for c in calls
        if c["vendor"] == "google" and not c["path"].startswith("/token")
    }
    assert hubspot == {portal.id}
    assert google == {portal.sender}

    # A delivery signed with anything but the portal's own secret is refused.
    forged = sign_v3("not-the-secret", "POST", url, body, int(time.time() * 1000))
    refused = httpx.post(
        url, content=body, headers={**forged, "Content-Type": "application/json"}, timeout=10
    )
    assert refused.status_code == 401
