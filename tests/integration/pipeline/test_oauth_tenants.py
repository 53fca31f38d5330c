"""A tenant on HubSpot OAuth (a public app installed in its portal, through the sandbox's
authorize redirect and token endpoint): its access token is refreshed before expiry once
for every process, a 401 costs one refresh, and a revoked grant marks the tenant and makes
its leads wait (not fail) until the app is installed again, when they run."""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from functools import partial
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from dagster import DagsterInstance, RunRequest, SensorResult, SkipReason, build_sensor_context
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from sales_agent_pipeline.connectors.factory import build_crm
from sales_agent_pipeline.connectors.hubspot_oauth import (
    authorize_url,
    exchange_code,
    refresh_grant,
)
from sales_agent_pipeline.db.models import Tenant, TenantSecret, Workflow, WorkflowEvent
from sales_agent_pipeline.db.repositories.hubspot_grants import GrantTokens, store_grant
from sales_agent_pipeline.db.repositories.tenant_secrets import get_secret
from sales_agent_pipeline.db.session import make_engine, make_session_factory
from sales_agent_pipeline.db.urls import libpq_dsn
from sales_agent_pipeline.defs.resources import DatabaseResource, SettingsResource
from sales_agent_pipeline.defs.sensors import received_leads_sensor
from sales_agent_pipeline.domain.credentials import TenantCredentials
from sales_agent_pipeline.domain.enums import HubSpotAuth, SecretKind
from sales_agent_pipeline.secretbox import secret_box
from sales_agent_pipeline.settings import get_settings
from tests.integration.pipeline.conftest import only_mine
from tests.integration.pipeline.tenancy import (
    Company,
    add_company,
    fingerprint,
    new_portal_id,
    submit,
)
from tests.sandbox.conftest import Admin

REDIRECT = "https://agent.example/api/oauth/hubspot/callback"


class App:
    """The public app registered at the sandbox, and the tenant that installed it."""

    def __init__(self, sandbox: Admin, engine: Engine, company: Company, client_id: str) -> None:
        self.sandbox = sandbox
        self.engine = engine
        self.company = company
        self.client_id = client_id

    def install(self) -> None:
        """The portal's admin installs the app; the callback stores the grant."""
        settings = get_settings()
        url = authorize_url(settings, state="signed-state", redirect_uri=REDIRECT)
        answer = httpx.get(url, follow_redirects=False, timeout=10)
        assert answer.status_code == 302, answer.text
        query = parse_qs(urlparse(answer.headers["location"]).query)
        assert query["state"] == ["signed-state"]
        grant = exchange_code(settings, code=query["code"][0], redirect_uri=REDIRECT)
        assert grant.hub_id == self.company.portal_id
        with Session(self.engine, expire_on_commit=False) as session, session.begin():
            tenant = session.get_one(Tenant, self.company.tenant.id)
            store_grant(session, secret_box(settings), tenant, grant)

    def token_requests(self, since: int) -> list[dict[str, Any]]:
        return [
            r
            for r in self.sandbox.requests(after=since, vendor="hubspot")
            if r["path"] == "/oauth/v1/token"
        ]


@pytest.fixture
def app(sandbox: Admin, engine: Engine, monkeypatch: pytest.MonkeyPatch) -> App:
    portal = new_portal_id()
    registered = sandbox.oauth_app(portal_id=portal, redirectUris=[REDIRECT])
    monkeypatch.setenv("HUBSPOT_CLIENT_ID", registered["clientId"])
    monkeypatch.setenv("HUBSPOT_CLIENT_SECRET", registered["clientSecret"])
    get_settings.cache_clear()
    company = add_company(
        engine, sandbox, "oauth", portal_id=portal, token=False, auth=HubSpotAuth.OAUTH
    )
    found = App(sandbox, engine, company, registered["clientId"])
    found.install()
    return found


def stored_token(engine: Engine, company: Company) -> str:
    with Session(engine) as session:
        secret = get_secret(
            session, secret_box(get_settings()), company.tenant.id, SecretKind.HUBSPOT_ACCESS_TOKEN
        )
    assert secret is not None
    return secret.get_secret_value()


def test_the_token_is_refreshed_before_expiry_once_for_two_engines(
    app: App, engine: Engine, database_url: Any
) -> None:
    company = app.company
    before = stored_token(engine, company)
    # The stored access token, issued 29 minutes ago, expires in a minute: inside the margin.
    with Session(engine) as session, session.begin():
        session.execute(
            update(TenantSecret)
            .where(
                TenantSecret.tenant_id == company.tenant.id,
                TenantSecret.kind == SecretKind.HUBSPOT_ACCESS_TOKEN.value,
            )
            .values(
                expires_at=func.now() + timedelta(minutes=1),
                updated_at=func.now() - timedelta(minutes=29),
            )
        )
    since = app.sandbox.last_request_seq()
    settings = get_settings()
    # Two processes' worth: their own engines (pools) and token sources.
    engines = [make_engine(database_url, pool_size=1) for _ in range(2)]
    sources = [
        GrantTokens(
            make_session_factory(e),
            secret_box(settings),
            partial(refresh_grant, settings),
            tenant_id=company.tenant.id,
            portal_id=company.portal_id,
        )
        for e in engines
    ]
    start = threading.Barrier(2)

    def token(source: GrantTokens) -> str:
        start.wait()
        return source.token()

    try:
        with ThreadPoolExecutor(2) as pool:
            tokens = list(pool.map(token, sources))
    finally:
        for e in engines:
            e.dispose()

    assert tokens[0] == tokens[1] != before
    assert sum(source.refreshes for source in sources) == 1
    assert len(app.token_requests(since)) == 1
    assert stored_token(engine, company) == tokens[0]
    # The new token reaches the portal (and only it).
    credentials = TenantCredentials(portal_id=company.portal_id, hubspot_auth=HubSpotAuth.OAUTH)
    crm = build_crm(settings, credentials, token_source=sources[0])
    assert crm.get_owner("90000001") is not None
    calls = [
        r for r in app.sandbox.requests(after=since, vendor="hubspot") if "owners" in r["path"]
    ]
    assert [(r["status"], r["identity"]["portalId"]) for r in calls] == [(200, company.portal_id)]


def test_a_401_costs_one_refresh_and_the_lead_runs(app: App, engine: Engine, run: Any) -> None:
    company = app.company
    lead = submit(engine, company, f"expired.{uuid.uuid4().hex[:6]}@robots.example")
    # HubSpot expired the access token early (the stored expiry still says it is good).
    before = stored_token(engine, company)
    assert app.sandbox.expire_oauth_tokens(app.client_id, company.portal_id) >= 1
    since = app.sandbox.last_request_seq()

    assert run(lead).success

    assert len(app.token_requests(since)) == 1
    hubspot = [
        r
        for r in app.sandbox.requests(after=since, vendor="hubspot")
        if not r["path"].startswith("/oauth/")
    ]
    refused = [r for r in hubspot if r["status"] == 401]
    assert len(refused) == 1
    assert refused[0]["identity"]["token"] == fingerprint(before)
    answered = [r for r in hubspot if r["status"] != 401]
    assert {r["identity"]["portalId"] for r in answered} == {company.portal_id}
    assert all(r["identity"]["appId"] is not None for r in answered)
    assert fingerprint(before) not in {r["identity"]["token"] for r in answered}


def tick(instance: DagsterInstance, engine: Engine) -> Any:
    resources = {
        "database": DatabaseResource(url=libpq_dsn(engine.url)),
        "settings": SettingsResource(),
    }
    with build_sensor_context(instance=instance, resources=resources) as context:
        return received_leads_sensor(context)


def test_a_revoked_grant_makes_leads_wait_until_the_app_is_installed_again(
    app: App, engine: Engine, run: Any, instance: DagsterInstance
) -> None:
    company = app.company
    lead = submit(engine, company, f"revoked.{uuid.uuid4().hex[:6]}@robots.example")
    assert app.sandbox.uninstall(app.client_id, company.portal_id) == 1

    result = run(lead)

    # The run fails, saying why in the UI; the lead waits, not failed, its attempt not counted.
    assert not result.success
    failure = result.get_step_failure_events()[0].step_failure_data.error
    assert failure is not None
    assert f"portal {company.portal_id} needs HubSpot re-authorisation" in failure.message
    assert "none failed" in failure.message
    with Session(engine) as session:
        workflow = session.get_one(Workflow, lead.workflow_id)
        tenant = session.get_one(Tenant, company.tenant.id)
        waited = session.scalars(
            select(WorkflowEvent).where(
                WorkflowEvent.workflow_id == lead.workflow_id,
                WorkflowEvent.step_name == "resolve_contact",
                WorkflowEvent.status == "skipped",
            )
        ).one()
    assert (workflow.status, workflow.attempts, workflow.run_requested_at) == ("queued", 0, None)
    assert "re-authorisation" in (workflow.failure_reason or "")
    assert waited.details["waiting"] is True
    assert "BAD_REFRESH_TOKEN" in waited.details["reason"]
    assert tenant.auth_error is not None
    assert tenant.auth_error_at is not None

    # The sensor leaves it alone and says why.
    only_mine(engine, lead)
    skipped = tick(instance, engine)
    assert isinstance(skipped, SkipReason)
    assert f"portal {company.portal_id}: 1 lead(s) wait" in (skipped.skip_message or "")

    # Installed again (the OAuth callback clears the error): the sensor launches it.
    app.install()
    with Session(engine) as session:
        assert session.get_one(Tenant, company.tenant.id).auth_error is None
    launched = tick(instance, engine)
    assert isinstance(launched, SensorResult)
    requests: list[RunRequest] = list(launched.run_requests or [])
    assert [r.partition_key for r in requests] == [str(lead.workflow_id)]

    assert run(lead, trigger="sensor").success
    with Session(engine) as session:
        workflow = session.get_one(Workflow, lead.workflow_id)
    assert (workflow.status, workflow.attempts) == ("succeeded", 1)
    tasks = [t for t in app.sandbox.tasks() if t["portalId"] == company.portal_id]
    assert len(tasks) == 1


def test_a_short_lived_token_is_used_until_half_its_life_not_refreshed_every_call(
    app: App, engine: Engine
) -> None:
    app.sandbox.update_oauth_app(app.client_id, accessTokenSeconds=120)
    app.install()  # a grant whose access tokens live two minutes (under the 5-minute margin)
    settings = get_settings()
    since = app.sandbox.last_request_seq()
    source = GrantTokens(
        make_session_factory(engine),
        secret_box(settings),
        partial(refresh_grant, settings),
        tenant_id=app.company.tenant.id,
        portal_id=app.company.portal_id,
    )
    tokens = {source.token() for _ in range(5)}
    assert tokens == {stored_token(engine, app.company)}
    assert source.refreshes == 0
    assert app.token_requests(since) == []
