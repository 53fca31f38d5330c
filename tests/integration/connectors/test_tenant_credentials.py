"""Connectors built from a tenant's own credentials, through the SDKs against the sandbox,
which binds HubSpot tokens to portals and Google tokens to subjects: each call carries that
tenant's identity and reaches only its own portal and mailbox; nothing stored fails closed
naming the portal; OAuth through the SDK's oauth APIs, a revoked grant is GrantRevoked."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from pydantic import SecretStr

from sales_agent_pipeline.connectors.factory import (
    build_connectors,
    build_crm,
    build_mail,
    gmail_quota_key,
    hubspot_quota_key,
)
from sales_agent_pipeline.connectors.hubspot_oauth import (
    GrantRevoked,
    authorize_url,
    exchange_code,
    refresh_grant,
)
from sales_agent_pipeline.connectors.metering import UsageMeter
from sales_agent_pipeline.domain.credentials import TenantCredentials
from sales_agent_pipeline.domain.enums import HubSpotAuth
from sales_agent_pipeline.domain.errors import ConfigurationError, PermanentError
from sales_agent_pipeline.domain.models import OutgoingMail
from sales_agent_pipeline.settings import Settings
from tests.sandbox.conftest import Admin

REDIRECT = "https://agent.example/oauth/hubspot/callback"


def tenant(admin: Admin, portal_id: int, mailbox: str, *, google: bool = True) -> TenantCredentials:
    """A portal with a private-app token, and a service-account key for the mailbox's domain."""
    token = admin.register_token(portal_id=portal_id)
    key = admin.service_account([mailbox.split("@")[1]]) if google else None
    return TenantCredentials(
        portal_id=portal_id,
        hubspot_auth=HubSpotAuth.PRIVATE_APP,
        hubspot_token=SecretStr(token),
        google_credentials=SecretStr(json.dumps(key)) if key else None,
        google_subject=mailbox,
    )


def test_each_tenants_calls_carry_its_own_identity(
    make_settings: Callable[..., Settings], admin: Admin
) -> None:
    admin.config(google_require_auth=True)
    settings = make_settings(hubspot_access_token=None)
    a = tenant(admin, 3101, "ann@alpha.example")
    b = tenant(admin, 3102, "bob@beta.example")
    since = admin.last_request_seq()
    meters = {3101: UsageMeter(), 3102: UsageMeter()}
    for credentials in (a, b):
        connectors = build_connectors(settings, credentials, meter=meters[credentials.portal_id])
        connectors.crm.upsert_contact(f"lead@{credentials.portal_id}.example", {})
        connectors.mail.create_draft(
            OutgoingMail(to=("lead@x.example",), subject="Hi", text_body="Hello", marker="m")
        )
    requests = admin.requests(after=since)
    hubspot = {r["identity"]["portalId"] for r in requests if r["vendor"] == "hubspot"}
    assert hubspot == {3101, 3102}
    drafts = {(r["identity"]["subject"], tuple(r["touched"]["mailboxes"]))
              for r in requests if r["vendor"] == "google" and r["path"] != "/token"}  # fmt: skip
    assert drafts == {
        ("ann@alpha.example", ("ann@alpha.example",)),
        ("bob@beta.example", ("bob@beta.example",)),
    }
    assert {d["user"] for d in admin.drafts()} == {"ann@alpha.example", "bob@beta.example"}
    for meter in meters.values():
        assert meter.drain() == {
            "vendor_calls.hubspot": 1,
            "vendor_calls.google": 1,
            "quota_units.gmail": 10,
            # Each request by its answer (sales_agent_vendor_requests_total).
            "vendor_requests.hubspot.contacts.batch.upsert.200": 1,
            "vendor_requests.gmail.drafts.create.200": 1,
        }
    admin.config(google_require_auth=False)


def test_windows_are_keyed_by_portal_and_mailbox(
    make_settings: Callable[..., Settings], admin: Admin
) -> None:
    settings = make_settings(hubspot_access_token=None)
    a = tenant(admin, 3201, "ann@alpha.example", google=False)
    rotated = a.model_copy(update={"hubspot_token": SecretStr("pat-new-token")})
    b = tenant(admin, 3202, "bob@beta.example", google=False)
    # A new token of the same portal keeps the portal's window; another portal has its own.
    assert hubspot_quota_key(settings, a) == hubspot_quota_key(settings, rotated)
    assert hubspot_quota_key(settings, a) != hubspot_quota_key(settings, b)
    assert hubspot_quota_key(settings, a).endswith(":portal:3201")
    assert gmail_quota_key(settings, a).endswith(":ann@alpha.example")
    assert gmail_quota_key(settings, a) != gmail_quota_key(settings, b)


def test_nothing_stored_fails_closed_naming_the_portal(
    make_settings: Callable[..., Settings], admin: Admin
) -> None:
    bare = TenantCredentials(portal_id=3301, google_subject="ann@alpha.example")
    live = make_settings(hubspot_access_token=None, sandbox=False, google_api_base_url=None)
    with pytest.raises(ConfigurationError, match="portal 3301 has no HubSpot token stored"):
        build_crm(live, bare)
    with pytest.raises(ConfigurationError, match="portal 3301 has no Google credentials stored"):
        build_mail(live, bare)
    # The environment's token is nobody's: a tenant never falls back to it.
    with_env = make_settings(hubspot_access_token="pat-environment", sandbox=False)
    with pytest.raises(ConfigurationError, match="portal 3301"):
        build_crm(with_env, bare)
    # In sandbox mode the sandbox's token stands in (the demo tenant stores nothing).
    sandboxed = make_settings(hubspot_access_token=None, sandbox=True)
    assert build_crm(sandboxed, bare).list_owners() is not None


def test_unusable_google_credentials_are_named_without_their_content(
    make_settings: Callable[..., Settings], admin: Admin
) -> None:
    settings = make_settings(hubspot_access_token=None)
    key = admin.service_account(["alpha.example"])
    no_subject = TenantCredentials(portal_id=3401, google_credentials=SecretStr(json.dumps(key)))
    with pytest.raises(ConfigurationError, match="portal 3401: a Google service account needs"):
        build_mail(settings, no_subject)
    garbled = TenantCredentials(
        portal_id=3402, google_credentials=SecretStr('{"type": "service_account"}'),
        google_subject="ann@alpha.example",
    )  # fmt: skip
    with pytest.raises(ConfigurationError) as caught:
        build_mail(settings, garbled)
    assert "portal 3402" in str(caught.value)
    assert "service_account" in str(caught.value)
    assert key["private_key"][:40] not in str(caught.value)


def test_a_401_on_a_static_token_stands(
    make_settings: Callable[..., Settings], admin: Admin
) -> None:
    settings = make_settings(hubspot_access_token=None)
    credentials = tenant(admin, 3501, "ann@alpha.example", google=False)
    assert credentials.hubspot_token is not None
    admin.revoke_token(credentials.hubspot_token.get_secret_value())
    with pytest.raises(ConfigurationError) as caught:
        build_crm(settings, credentials, throttle_attempts=1).list_owners()
    assert caught.value.http_status == 401
    assert credentials.hubspot_token.get_secret_value() not in str(caught.value)


@pytest.fixture
def oauth(make_settings: Callable[..., Settings], admin: Admin) -> tuple[Settings, dict[str, Any]]:
    app = admin.oauth_app(portal_id=3601, redirectUris=[REDIRECT], accessTokenSeconds=600)
    settings = make_settings(
        hubspot_access_token=None,
        hubspot_client_id=app["clientId"],
        hubspot_client_secret=app["clientSecret"],
    )
    return settings, app


def install(settings: Settings) -> str:
    url = authorize_url(settings, state="s1", redirect_uri=REDIRECT)
    answer = httpx.get(url, follow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    location = urlparse(answer.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    query = parse_qs(location.query)
    assert query["state"] == ["s1"]
    return query["code"][0]


def test_oauth_install_refresh_and_revocation(
    oauth: tuple[Settings, dict[str, Any]], admin: Admin
) -> None:
    settings, app = oauth
    url = authorize_url(settings, state="s1", redirect_uri=REDIRECT)
    assert url.startswith(f"{settings.hubspot_api_base_url}/oauth/authorize?")
    assert "client_secret" not in url

    grant = exchange_code(settings, code=install(settings), redirect_uri=REDIRECT)
    assert grant.hub_id == 3601
    assert "SecretStr('**********')" in repr(grant)
    credentials = TenantCredentials(
        portal_id=3601, hubspot_auth=HubSpotAuth.OAUTH, hubspot_token=grant.access_token
    )
    # A public app's budget, and calls that reach the installing portal.
    crm = build_crm(settings, credentials)
    assert crm.list_owners() is not None

    fresh = refresh_grant(settings, grant.refresh_token)
    assert fresh.access_token != grant.access_token
    assert fresh.refresh_token.get_secret_value() == grant.refresh_token.get_secret_value()
    assert fresh.expires_at > grant.expires_at

    # A code is single use: a second exchange is refused (no grant, no retry loop).
    with pytest.raises(PermanentError, match="BAD_AUTH_CODE"):
        exchange_code(settings, code="used-or-made-up", redirect_uri=REDIRECT)

    admin.uninstall(app["clientId"], 3601)
    with pytest.raises(GrantRevoked, match="BAD_REFRESH_TOKEN") as caught:
        refresh_grant(settings, grant.refresh_token)
    assert grant.refresh_token.get_secret_value() not in str(caught.value)


def test_a_wrong_client_secret_is_ours_to_fix_not_a_revocation(
    oauth: tuple[Settings, dict[str, Any]], admin: Admin
) -> None:
    settings, _ = oauth
    grant = exchange_code(settings, code=install(settings), redirect_uri=REDIRECT)
    wrong = settings.model_copy(update={"hubspot_client_secret": SecretStr("not-the-secret")})
    with pytest.raises(ConfigurationError) as caught:
        refresh_grant(wrong, grant.refresh_token)
    assert not isinstance(caught.value, GrantRevoked)
    assert "BAD_CLIENT_SECRET" in str(caught.value)
    assert "not-the-secret" not in str(caught.value)


def test_an_authorized_user_token_refreshes_at_the_configured_emulator_and_reads_its_mailbox(
    make_settings: Callable[..., Settings], admin: Admin
) -> None:
    admin.config(google_require_auth=True)
    settings = make_settings(hubspot_access_token=None)
    token_file = admin.authorized_user("una@gamma.example")
    credentials = TenantCredentials(
        portal_id=3105,
        google_credentials=SecretStr(json.dumps(token_file)),
        google_subject="una@gamma.example",
    )
    since = admin.last_request_seq()
    build_mail(settings, credentials).create_draft(
        OutgoingMail(to=("lead@x.example",), subject="Hi", text_body="Hello", marker="m")
    )
    requests = admin.requests(after=since, vendor="google")
    assert [r["identity"]["subject"] for r in requests if r["path"] != "/token"] == [
        "una@gamma.example"
    ]
    assert {d["user"] for d in admin.drafts()} == {"una@gamma.example"}
