"""Where the canary may run: the schedule's tick in sandbox mode, outside it, and off."""

from __future__ import annotations

import random
from typing import Any

import pytest
from dagster import DefaultScheduleStatus, build_schedule_context
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from sales_agent_pipeline import run_tags
from sales_agent_pipeline.db.models import Tenant
from sales_agent_pipeline.defs.canary import canary_schedule
from sales_agent_pipeline.settings import get_settings
from sales_agent_pipeline.usecases import canary
from tests.integration.canary.conftest import resources
from tests.integration.pipeline.tenancy import store_secrets


def tick(engine: Engine, monkeypatch: Any, **env: str) -> Any:
    """The schedule's evaluation with these environment variables on top of the tests'."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    with build_schedule_context(resources=resources(engine)) as context:
        return canary_schedule.evaluate_tick(context)


def test_the_schedule_runs_by_default_on_canary_cron() -> None:
    assert canary_schedule.default_status == DefaultScheduleStatus.RUNNING
    assert canary_schedule.cron_schedule == "*/10 * * * *"
    assert canary_schedule.job_name == "canary"


def test_in_sandbox_mode_it_posts_to_the_demo_tenant(
    engine: Engine, tenant: Tenant, monkeypatch: Any, pipeline_env: None
) -> None:
    result = tick(engine, monkeypatch)
    (request,) = result.run_requests
    assert request.tags[run_tags.SYNTHETIC] == "true"
    assert request.tags[run_tags.TENANT] == str(canary.SANDBOX_PORTAL) == str(tenant.portal_id)


def test_outside_sandbox_mode_without_canary_settings_it_skips_saying_why(
    engine: Engine, tenant: Tenant, monkeypatch: Any, pipeline_env: None
) -> None:
    result = tick(engine, monkeypatch, SANDBOX="false")
    assert not result.run_requests
    assert "not in sandbox mode" in result.skip_message
    assert "CANARY_PORTAL_ID and CANARY_INBOX are not set" in result.skip_message
    # One of the two is not enough.
    result = tick(engine, monkeypatch, SANDBOX="false", CANARY_PORTAL_ID=str(tenant.portal_id))
    assert not result.run_requests
    assert "CANARY_INBOX is not set" in result.skip_message


def test_canary_enabled_false_turns_it_off(
    engine: Engine, tenant: Tenant, monkeypatch: Any, pipeline_env: None
) -> None:
    result = tick(engine, monkeypatch, CANARY_ENABLED="false")
    assert not result.run_requests
    assert result.skip_message == "the canary is off (CANARY_ENABLED=false)"


def test_a_canary_portal_that_is_no_tenant_or_has_no_secret_is_skipped_with_the_reason(
    engine: Engine, monkeypatch: Any, pipeline_env: None
) -> None:
    portal = random.randint(10**7, 10**8)
    result = tick(
        engine,
        monkeypatch,
        SANDBOX="false",
        CANARY_PORTAL_ID=str(portal),
        CANARY_INBOX="qa@x.example",
    )
    assert result.skip_message == f"portal {portal} is not a tenant here"
    with Session(engine) as session, session.begin():
        session.add(Tenant(portal_id=portal, name="No secret", allowed_form_ids=[]))
    result = tick(engine, monkeypatch)
    assert "has no webhook secret" in result.skip_message


def test_on_a_test_portal_the_lead_is_the_test_inbox(
    engine: Engine, monkeypatch: Any, pipeline_env: None
) -> None:
    portal = random.randint(10**7, 10**8)
    with Session(engine, expire_on_commit=False) as session, session.begin():
        test_tenant = Tenant(portal_id=portal, name="QA portal", allowed_form_ids=["qa-form"])
        session.add(test_tenant)
    store_secrets(engine, test_tenant, webhook_secret="qa-portal-secret")
    result = tick(
        engine,
        monkeypatch,
        SANDBOX="false",
        CANARY_PORTAL_ID=str(portal),
        CANARY_INBOX="qa.inbox+old@tests.example",
    )
    (request,) = result.run_requests
    assert request.tags[run_tags.TENANT] == str(portal)
    settings = get_settings()
    where = canary.target(settings)
    assert isinstance(where, canary.CanaryTarget)
    with Session(engine) as session:
        lead = canary.prepare(session, settings, where)
    assert isinstance(lead, canary.CanaryLead)
    # The inbox's plus-address (it lands in the inbox), on the tenant's allowlisted form.
    assert lead.email.startswith("qa.inbox+canary-")
    assert lead.email.endswith("@tests.example")
    assert b'"formId": "qa-form"' in lead.body
    assert lead.url == f"http://127.0.0.1:{settings.api_port}/webhook/formlead"


@pytest.mark.parametrize(
    ("env", "url"),
    [
        ({"API_PUBLIC_URL": "https://agent.example.com/"}, "https://agent.example.com"),
        ({"API_HOST": "0.0.0.0", "API_PORT": "8123"}, "http://127.0.0.1:8123"),  # noqa: S104
    ],
)
def test_the_canary_calls_the_public_url_or_the_local_api(
    monkeypatch: Any, env: dict[str, str], url: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        assert canary.api_url(get_settings()) == url
    finally:
        get_settings.cache_clear()
