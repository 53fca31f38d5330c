"""Connectors built from Settings against a real sandbox on a free port."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from sales_agent_pipeline.connectors.calendar import GoogleCalendar
from sales_agent_pipeline.connectors.drive import GoogleDrive
from sales_agent_pipeline.connectors.factory import (
    build_calendar,
    build_crm,
    build_drive,
    build_mail,
)
from sales_agent_pipeline.connectors.gmail import GmailMail
from sales_agent_pipeline.connectors.hubspot import HubSpotCRM
from sales_agent_pipeline.settings import Settings
from tests.sandbox.conftest import Admin, admin, admin_client, sandbox_url  # noqa: F401

USER = "owner@sandbox.example.com"


@pytest.fixture
def make_settings(sandbox_url: str, admin_client: Admin) -> Callable[..., Settings]:  # noqa: F811
    """Settings pointing every connector at the sandbox; keywords override fields."""

    def make(**overrides: Any) -> Settings:
        # A token per test gives each test its own client-side rate-limit window; the
        # sandbox binds it to its default portal (it refuses tokens it does not know).
        token = admin_client.register_token(f"pat-test-{uuid.uuid4().hex[:8]}")
        values: dict[str, Any] = {
            "hubspot_access_token": token,
            "hubspot_api_base_url": sandbox_url,
            "google_api_base_url": sandbox_url,
            "hubspot_timeout_seconds": 5.0,
            "google_timeout_seconds": 5.0,
        }
        values.update(overrides)
        return Settings(_env_file=None, **values)

    return make


@pytest.fixture
def crm(make_settings: Callable[..., Settings], admin: Admin) -> HubSpotCRM:  # noqa: F811
    return build_crm(make_settings())


@pytest.fixture
def mail(make_settings: Callable[..., Settings], admin: Admin) -> GmailMail:  # noqa: F811
    # Gmail's quota has its own test; here it would only slow the sends down.
    return build_mail(make_settings(gmail_quota_units_per_second=10_000))


@pytest.fixture
def calendar(make_settings: Callable[..., Settings], admin: Admin) -> GoogleCalendar:  # noqa: F811
    return build_calendar(make_settings())


@pytest.fixture
def drive(make_settings: Callable[..., Settings], admin: Admin) -> GoogleDrive:  # noqa: F811
    return build_drive(make_settings())
