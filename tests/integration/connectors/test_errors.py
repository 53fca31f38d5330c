"""Error classification: vendor faults injected in the sandbox, seen through the SDKs."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from sales_agent_pipeline.connectors.factory import build_crm, build_mail
from sales_agent_pipeline.connectors.gmail import GmailMail
from sales_agent_pipeline.connectors.hubspot import HubSpotCRM
from sales_agent_pipeline.domain.effects import Unreachable, nothing_written
from sales_agent_pipeline.domain.errors import (
    ConfigurationError,
    PermanentError,
    PipelineError,
    TransientError,
)
from sales_agent_pipeline.settings import Settings
from sales_agent_pipeline.workflow.breaker import Verdict, verdict
from sales_agent_sandbox.google_auth import new_private_key

EXPECTED: list[tuple[int, type[PipelineError]]] = [
    (500, TransientError),
    (502, TransientError),
    (503, TransientError),
    (400, PermanentError),
    (404, PermanentError),
    (409, PermanentError),
    (422, PermanentError),
    (401, ConfigurationError),
    (403, ConfigurationError),
]


@pytest.fixture
def crm_once(make_settings: Callable[..., Settings], admin) -> HubSpotCRM:
    # One attempt: the first answer is what gets classified.
    return build_crm(make_settings(), throttle_attempts=1)


@pytest.fixture
def mail_once(make_settings: Callable[..., Settings], admin) -> GmailMail:
    return build_mail(make_settings(), throttle_attempts=1)


@pytest.mark.parametrize(("status", "kind"), EXPECTED)
def test_hubspot_status_classes(crm_once: HubSpotCRM, admin, status, kind):
    contact = crm_once.upsert_contact("jane@acme.example", {"firstname": "Jane"})
    admin.fault(pathPattern="/crm/v3/objects/contacts/*", status=status, message="injected")
    with pytest.raises(kind) as caught:
        crm_once.get_contact(contact.id)
    assert type(caught.value) is kind
    assert caught.value.http_status == status
    assert caught.value.vendor_message == "injected"
    assert "HubSpot get contact" in str(caught.value)


@pytest.mark.parametrize(("status", "kind"), EXPECTED)
def test_google_status_classes(mail_once: GmailMail, admin, status, kind):
    admin.fault(pathPattern="/gmail/v1/users/*/labels", status=status, message="injected")
    with pytest.raises(kind) as caught:
        mail_once.list_labels()
    assert type(caught.value) is kind
    assert caught.value.http_status == status
    assert caught.value.vendor_message == "injected"


def test_429_with_retry_after_is_transient_with_that_delay(crm_once, mail_once, admin):
    admin.fault(pathPattern="/crm/v3/owners/*", status=429, retryAfter=7, count=1)
    with pytest.raises(TransientError) as caught:
        crm_once.list_owners()
    assert caught.value.http_status == 429
    assert caught.value.retry_after_seconds == 7
    assert "ten_secondly_rolling" in (caught.value.vendor_message or "")
    admin.fault(pathPattern="/gmail/v1/users/*/labels", status=429, retryAfter=3, count=1)
    with pytest.raises(TransientError) as caught:
        mail_once.list_labels()
    assert caught.value.http_status == 429
    assert caught.value.retry_after_seconds == 3


def test_hubspot_429_without_retry_after_uses_the_window_hint(crm_once, admin):
    contact = crm_once.upsert_contact("jane@acme.example", {"firstname": "Jane"})
    # The sandbox's own limiter answers 429 with the X-HubSpot-RateLimit-* headers only.
    admin.config(rate_limit_max=1, rate_limit_interval_ms=4000)
    with pytest.raises(TransientError) as caught:
        crm_once.get_contact(contact.id)
    assert caught.value.http_status == 429
    assert caught.value.retry_after_seconds == 4.0


def test_429_is_waited_out_and_retried(make_settings, admin):
    crm = build_crm(make_settings(), throttle_attempts=3)
    mail = build_mail(make_settings(), throttle_attempts=3)
    admin.fault(pathPattern="/crm/v3/owners/*", status=429, retryAfter=0.4, count=1)
    admin.fault(pathPattern="/gmail/v1/users/*/labels", status=429, retryAfter=0.4, count=1)
    started = time.monotonic()
    assert crm.list_owners() == []
    assert mail.list_labels()
    assert time.monotonic() - started >= 0.8
    admin.fault(pathPattern="/gmail/v1/users/*/labels", status=429, retryAfter=0.1, count=5)
    with pytest.raises(TransientError) as caught:
        mail.list_labels()
    assert caught.value.retry_after_seconds == pytest.approx(0.1)
    rule = admin.state("calls")["calls"]["rules"][-1]
    assert rule["hits"] == 3


def test_timeouts_are_transient(make_settings, admin):
    settings = make_settings(hubspot_timeout_seconds=0.5, google_timeout_seconds=0.5)
    crm, mail = build_crm(settings), build_mail(settings)
    admin.fault(pathPattern="/crm/v3/owners/*", timeoutSeconds=3)
    with pytest.raises(TransientError, match="timed out"):
        crm.list_owners()
    admin.fault(pathPattern="/gmail/v1/users/*/labels", timeoutSeconds=3)
    with pytest.raises(TransientError, match="timed out"):
        mail.list_labels()


def test_connection_refused_is_transient_and_surely_wrote_nothing(make_settings, admin):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}"
    settings = make_settings(hubspot_api_base_url=dead, google_api_base_url=dead)
    for call in (lambda: build_crm(settings).get_contact("1"), build_mail(settings).list_labels):
        with pytest.raises(TransientError, match="network") as refused:
            call()
        # No connection, no request: a write that failed so is not uncertain, and the
        # vendor's circuit breaker counts it as the vendor being down.
        assert isinstance(refused.value, Unreachable)
        assert nothing_written(refused.value)
        assert verdict(refused.value) is Verdict.DOWN


def test_missing_or_bad_credentials_are_configuration_errors(make_settings, tmp_path: Path):
    with pytest.raises(ConfigurationError, match="GOOGLE_SERVICE_ACCOUNT_FILE"):
        build_mail(
            make_settings(
                google_service_account_file=tmp_path / "missing.json",
                google_delegated_user="ada@ourco.example",
            )
        )
    garbage = tmp_path / "token.json"
    garbage.write_text("{not json")
    with pytest.raises(ConfigurationError, match="GOOGLE_OAUTH_TOKEN_FILE"):
        build_mail(make_settings(google_oauth_token_file=garbage))
    key = tmp_path / "sa.json"
    key.write_text(json.dumps(_service_account()))
    with pytest.raises(ConfigurationError, match="GOOGLE_DELEGATED_USER"):
        build_mail(make_settings(google_service_account_file=key))
    with pytest.raises(ConfigurationError, match="Google credentials missing"):
        build_mail(make_settings(google_api_base_url=None))
    real_hubspot = Settings(_env_file=None, google_service_account_file=key)
    with pytest.raises(ConfigurationError, match="HUBSPOT_ACCESS_TOKEN"):
        build_crm(real_hubspot)


def test_service_account_impersonates_the_delegated_user(make_settings, tmp_path: Path):
    key = tmp_path / "sa.json"
    key.write_text(json.dumps(_service_account()))
    mail = build_mail(
        make_settings(google_service_account_file=key, google_delegated_user="ada@ourco.example")
    )
    credentials = mail._api._credentials
    assert getattr(credentials, "_subject", None) == "ada@ourco.example"
    assert "https://www.googleapis.com/auth/gmail.modify" in getattr(credentials, "_scopes", [])


def _service_account() -> dict[str, str]:
    _, pem = new_private_key()
    return {
        "type": "service_account",
        "project_id": "sales-agent-test",
        "private_key_id": "k1",
        "private_key": pem,
        "client_email": "agent@sales-agent-test.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": "https://oauth2.googleapis.com/token",
    }
