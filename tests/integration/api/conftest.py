"""The real API app on this worker's database; deliveries signed as HubSpot signs them."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

from sales_agent_api.app import create_app
from sales_agent_pipeline.connectors.hubspot_signature import sign_v3
from sales_agent_pipeline.db.models import FormSubmission, Tenant, Workflow
from sales_agent_pipeline.db.repositories.tenant_secrets import put_secret
from sales_agent_pipeline.db.urls import libpq_dsn
from sales_agent_pipeline.domain.enums import SecretKind
from sales_agent_pipeline.secretbox import SecretBox, generate_key, secret_box
from sales_agent_pipeline.settings import Settings
from tests.conftest import free_port
from tests.integration.api.operator_support import bearer, key_for

SECRET = "test-client-secret"
FORM = "form-guid-1"
URL_PATH = "/webhook/formlead"


def app_settings(database_url: URL, vendors: str, **values: Any) -> Settings:
    """The app's settings on this worker's database, vendors at `vendors`, `values` on top."""
    # A new encryption key per call; Dagster at a port nothing listens on (unreachable).
    return Settings(
        _env_file=None,
        database_url=libpq_dsn(database_url),
        secrets_encryption_keys=generate_key(),
        hubspot_api_base_url=vendors,
        google_api_base_url=vendors,
        dagster_webserver_url=f"http://127.0.0.1:{free_port()}",
        **values,
    )


@pytest.fixture(scope="module")
def settings(database_url: URL) -> Settings:
    """The app's settings: this worker's database, an encryption key, Dagster unreachable.

    HUBSPOT_CLIENT_SECRET is set to the tenants' secret on purpose: a tenant without a
    secret of its own must still be refused, never verified with the app's. HubSpot and
    Google are a closed port here (checks report them unreachable); the modules that need
    them point these at a sandbox of their own.
    """
    vendors = f"http://127.0.0.1:{free_port()}"
    return app_settings(
        database_url, vendors, hubspot_client_secret=SECRET, webhook_max_body_bytes=4096
    )


@pytest.fixture(scope="module")
def box(settings: Settings) -> SecretBox:
    """The app's SecretBox (the same keys), to store tenants' secrets as the CLI does."""
    return secret_box(settings)


@pytest.fixture(scope="module")
def client(settings: Settings) -> Iterator[TestClient]:
    """A client of the app (background tasks run before each call returns)."""
    with TestClient(create_app(settings), base_url="http://testserver") as test_client:
        yield test_client


def make_tenant(
    engine: Engine, box: SecretBox, *, webhook_secret: str | None = SECRET, **values: Any
) -> Tenant:
    """A committed tenant on a random portal with its own webhook secret (None: none)."""
    with Session(engine, expire_on_commit=False) as session, session.begin():
        tenant = Tenant(
            portal_id=random.randint(10**6, 10**9),
            **{"name": "Acme", "allowed_form_ids": [FORM], **values},
        )
        session.add(tenant)
        session.flush()
        if webhook_secret is not None:
            put_secret(session, box, tenant.id, SecretKind.WEBHOOK_SECRET, webhook_secret)
    return tenant


@pytest.fixture
def tenant(engine: Engine, box: SecretBox) -> Tenant:
    """A tenant of its own per test, with its webhook secret stored encrypted."""
    return make_tenant(engine, box)


@pytest.fixture
def headers(engine: Engine, tenant: Tenant) -> dict[str, str]:
    """The Authorization header of an admin key of the test's tenant (its holder: alice)."""
    return bearer(key_for(engine, tenant, admin=True, name="alice"))


def body_for(portal_id: int, submission: str = "sub-1", **overrides: Any) -> dict[str, Any]:
    """The seed's form webhook body."""
    body: dict[str, Any] = {
        "portalId": portal_id,
        "formId": FORM,
        "formSubmissionId": submission,
        "fieldValues": [
            {"name": "email", "value": "jane@acme-robotics.example"},
            {"name": "firstname", "value": "Jane"},
            {"name": "company", "value": "Acme Robotics"},
        ],
    }
    body.update(overrides)
    return body


def signed(
    body: bytes, *, secret: str = SECRET, timestamp_ms: int | None = None, url: str | None = None
) -> dict[str, str]:
    """HubSpot's v3 headers for a POST of `body` to the webhook."""
    stamp = timestamp_ms if timestamp_ms is not None else int(time.time() * 1000)
    headers = sign_v3(secret, "POST", url or f"http://testserver{URL_PATH}", body, stamp)
    return {**headers, "Content-Type": "application/json"}


def post(client: TestClient, document: Any, **sign: Any) -> Any:
    """POST a JSON document, correctly signed unless told otherwise."""
    raw = json.dumps(document).encode()
    return client.post(URL_PATH, content=raw, headers=signed(raw, **sign))


def rows(engine: Engine, tenant: Tenant) -> tuple[int, int]:
    """Submissions and workflows stored for the tenant."""
    with Session(engine) as session:
        submissions = session.scalar(
            select(func.count())
            .select_from(FormSubmission)
            .where(FormSubmission.tenant_id == tenant.id)
        )
        workflows = session.scalar(
            select(func.count()).select_from(Workflow).where(Workflow.tenant_id == tenant.id)
        )
    return int(submissions or 0), int(workflows or 0)
