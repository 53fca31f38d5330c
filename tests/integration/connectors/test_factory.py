"""The factory: with no credentials at all, every connector talks to the sandbox."""

from __future__ import annotations

from urllib.parse import urlsplit

from sales_agent_pipeline.connectors.factory import (
    build_connectors,
    google_base_url,
    hubspot_base_url,
)
from sales_agent_pipeline.ports.vendors import CRM, Calendar, Drive, Mail
from sales_agent_pipeline.settings import HUBSPOT_API_BASE_URL, Settings


def test_sandbox_mode_builds_all_four_against_the_sandbox(sandbox_url: str, admin):
    address = urlsplit(sandbox_url)
    settings = Settings(_env_file=None, sandbox_host=address.hostname, sandbox_port=address.port)
    assert settings.sandbox_mode
    assert hubspot_base_url(settings) == sandbox_url
    assert google_base_url(settings) == sandbox_url

    connectors = build_connectors(settings)
    crm: CRM = connectors.crm
    mail: Mail = connectors.mail
    calendar: Calendar = connectors.calendar
    drive: Drive = connectors.drive
    assert crm.upsert_contact("jane@acme.example", {"firstname": "Jane"}).created
    assert any(label.name == "INBOX" for label in mail.list_labels())
    assert drive.find_files(["nothing-here"]) == []
    assert calendar is connectors.calendar


def test_real_mode_keeps_the_vendor_defaults(tmp_path):
    settings = Settings(
        _env_file=None,
        hubspot_access_token="pat-real",
        google_oauth_token_file=tmp_path / "token.json",
    )
    assert not settings.sandbox_mode
    assert hubspot_base_url(settings) == HUBSPOT_API_BASE_URL
    assert google_base_url(settings) is None
