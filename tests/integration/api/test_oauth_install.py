"""HubSpot OAuth install: the redirect to HubSpot (the sandbox's authorize page), the
callback that makes the portal's tenant with its grant encrypted, and the states it refuses
(forged, stale, replayed) without writing anything."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from cryptography.fernet import Fernet
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

from sales_agent_api.app import create_app
from sales_agent_api.oauth_state import PURPOSE
from sales_agent_pipeline.connectors.checks import check_hubspot_token
from sales_agent_pipeline.db.models import Tenant
from sales_agent_pipeline.db.repositories.tenant_secrets import load_credentials
from sales_agent_pipeline.domain.enums import HubSpotAuth
from sales_agent_pipeline.secretbox import SecretBox, generate_key
from sales_agent_pipeline.settings import Settings
from tests.integration.api.conftest import FORM, app_settings, body_for, post
from tests.integration.api.operator_support import bearer, key_for, secrets_of
from tests.sandbox.conftest import Admin, admin_client, sandbox_url  # noqa: F401

CLIENT_ID = "sandbox-public-app"
CLIENT_SECRET = "public-app-client-secret"
PUBLIC = "http://testserver"


@pytest.fixture(scope="module")
def settings(database_url: URL, sandbox_url: str) -> Settings:  # noqa: F811
    """An operator's deployment with a HubSpot public app, HubSpot being the sandbox."""
    return app_settings(
        database_url,
        sandbox_url,
        hubspot_client_id=CLIENT_ID,
        hubspot_client_secret=CLIENT_SECRET,
        api_public_url=PUBLIC,
    )


@pytest.fixture
def portal(admin_client: Admin) -> int:  # noqa: F811
    """A portal whose admin installs the app next (the sandbox's install grants it)."""
    admin_client.reset()
    portal_id = random.randint(10**6, 10**9)
    admin_client.oauth_app(
        portal_id,
        clientId=CLIENT_ID,
        clientSecret=CLIENT_SECRET,
        redirectUris=[f"{PUBLIC}/oauth/hubspot/callback"],
    )
    return portal_id


def approve(to_hubspot: str) -> str:
    """The portal's admin approves the app in HubSpot: where HubSpot sends them back."""
    approved = httpx.get(to_hubspot, follow_redirects=False)
    assert approved.status_code == 302, approved.text
    back = approved.headers["location"]
    assert back.startswith(f"{PUBLIC}/oauth/hubspot/callback?")
    return back


def install_link(client: TestClient) -> str:
    """The install URL's redirect: HubSpot's authorisation page with our state."""
    start = client.get("/oauth/hubspot/install", follow_redirects=False)
    assert start.status_code == 302, start.text
    to_hubspot = start.headers["location"]
    query = parse_qs(urlsplit(to_hubspot).query)
    assert query["client_id"] == [CLIENT_ID]
    assert query["redirect_uri"] == [f"{PUBLIC}/oauth/hubspot/callback"]
    return to_hubspot


def authorised(client: TestClient) -> str:
    """Open the install URL and approve in HubSpot: the callback URL HubSpot sends back."""
    return approve(install_link(client))


def tenants(engine: Engine) -> int:
    with Session(engine) as session:
        return int(session.scalar(select(func.count()).select_from(Tenant)) or 0)


def test_an_install_creates_the_portals_tenant_with_its_grant_encrypted(
    client: TestClient, engine: Engine, box: SecretBox, settings: Settings, portal: int
) -> None:
    response = client.get(authorised(client))
    assert response.status_code == 200, response.text
    answer = response.json()
    assert (answer["portal_id"], answer["created"], answer["hubspot_auth"]) == (
        portal, True, "oauth",
    )  # fmt: skip
    assert answer["tenant_name"] == f"HubSpot portal {portal}"
    assert datetime.fromisoformat(answer["access_token_expires_at"]) > datetime.now(UTC)
    stored = secrets_of(engine, portal)
    assert set(stored) == {"hubspot_refresh_token", "hubspot_access_token", "webhook_secret"}
    with Session(engine) as session:
        tenant = session.scalars(select(Tenant).where(Tenant.portal_id == portal)).one()
        credentials = load_credentials(session, box, tenant)
    assert credentials.hubspot_auth is HubSpotAuth.OAUTH
    assert credentials.hubspot_token is not None
    assert credentials.hubspot_refresh_token is not None
    access = credentials.hubspot_token.get_secret_value()
    refresh = credentials.hubspot_refresh_token.get_secret_value()
    # Encrypted at rest, and never in the answer.
    for plaintext in (access, refresh, CLIENT_SECRET):
        assert plaintext not in response.text
        assert all(plaintext.encode() not in ciphertext for ciphertext in stored.values())
    # HubSpot takes the stored access token as the portal's own.
    check_hubspot_token(settings, credentials)
    # HubSpot signs the app's webhooks with its client secret: the portal's deliveries pass.
    delivery = post(client, body_for(portal, "sub-oauth", formId=FORM), secret=CLIENT_SECRET)
    assert delivery.status_code == 202, delivery.text


def test_a_replayed_callback_is_400_and_writes_nothing(
    client: TestClient, engine: Engine, portal: int
) -> None:
    to_hubspot = install_link(client)
    back = approve(to_hubspot)
    assert client.get(back).status_code == 200
    before = secrets_of(engine, portal)
    again = client.get(back)
    assert again.status_code == 400
    assert again.json()["error"]["code"] == "state_used"
    # The same state with a fresh code from HubSpot is refused too.
    reused = client.get(approve(to_hubspot))
    assert (reused.status_code, reused.json()["error"]["code"]) == (400, "state_used")
    assert secrets_of(engine, portal) == before


@pytest.mark.parametrize("how", ["forged", "another_key", "not_an_install_state", "stale"])
def test_a_forged_or_stale_state_is_400_and_nothing_is_written(
    client: TestClient, engine: Engine, settings: Settings, portal: int, how: str
) -> None:
    assert settings.secrets_encryption_keys is not None
    ours = Fernet(settings.secrets_encryption_keys.get_secret_value())
    payload = json.dumps({"purpose": PURPOSE, "nonce": "n-" + how}).encode()
    state = {
        "forged": "gAAAAABforged-state",
        "another_key": Fernet(generate_key()).encrypt(payload).decode(),
        "not_an_install_state": ours.encrypt(b'{"purpose": "other", "nonce": "x"}').decode(),
        "stale": ours.encrypt_at_time(payload, int(time.time()) - 11 * 60).decode(),
    }[how]
    # A real code from HubSpot: only the state is wrong.
    back = authorised(client)
    code = parse_qs(urlsplit(back).query)["code"][0]
    count = tenants(engine)
    response = client.get("/oauth/hubspot/callback", params={"code": code, "state": state})
    assert response.status_code == 400
    expected = "stale_state" if how == "stale" else "invalid_state"
    assert response.json()["error"]["code"] == expected
    assert response.json()["error"]["fields"] == ["state"]
    assert tenants(engine) == count
    assert secrets_of(engine, portal) == {}


def test_installing_again_fixes_a_tenant_that_needs_reauthorisation(
    client: TestClient, engine: Engine, portal: int
) -> None:
    assert client.get(authorised(client)).status_code == 200
    with Session(engine, expire_on_commit=False) as session, session.begin():
        tenant = session.scalars(select(Tenant).where(Tenant.portal_id == portal)).one()
        tenant.auth_error = f"portal {portal} needs HubSpot re-authorisation (revoked)"
        tenant.auth_error_at = datetime.now(UTC)
    headers = bearer(key_for(engine, tenant, admin=True))
    needed = client.get("/api/admin/credentials", headers=headers).json()["reauthorisation"]
    assert needed["needed"] is True
    assert needed["install_url"] == f"{PUBLIC}/oauth/hubspot/install"
    assert needed["install_url"] in needed["message"]

    again = client.get(authorised(client))
    assert again.status_code == 200
    assert again.json()["created"] is False
    fixed = client.get("/api/admin/settings", headers=headers).json()
    assert fixed["reauthorisation"]["needed"] is False
    assert fixed["hubspot_auth"] == "oauth"


@pytest.fixture
def without_app(settings: Settings) -> Iterator[TestClient]:
    plain = settings.model_copy(update={"hubspot_client_id": None})
    with TestClient(create_app(plain), base_url=PUBLIC) as test_client:
        yield test_client


def test_without_an_oauth_app_both_endpoints_are_404(without_app: TestClient) -> None:
    for path in ("/oauth/hubspot/install", "/oauth/hubspot/callback?code=c&state=s"):
        response = without_app.get(path, follow_redirects=False)
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "oauth_not_configured"
        assert "HUBSPOT_CLIENT_ID" in response.json()["error"]["message"]
