"""GET/PUT /api/admin/credentials: write-only secrets, each checked before anything is
written, and answers that say which secrets are set and when, never a value."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from sales_agent_pipeline.db.models import Tenant
from sales_agent_pipeline.db.repositories.tenant_secrets import get_secret
from sales_agent_pipeline.domain.enums import SecretKind
from sales_agent_pipeline.secretbox import SecretBox
from sales_agent_sandbox.google_auth import new_private_key
from tests.integration.api.conftest import SECRET, body_for, make_tenant, post
from tests.integration.api.operator_support import bearer, key_for, secrets_of

AUTHORIZED_USER = {
    "type": "authorized_user",
    "client_id": "1234.apps.googleusercontent.example",
    "client_secret": "gocspx-very-secret-client",
    "refresh_token": "1//refresh-token-of-alex",
}


def states(answer: dict[str, Any]) -> dict[str, bool]:
    return {state["kind"]: state["set"] for state in answer["secrets"]}


def test_get_says_which_secrets_are_set_and_never_a_value(
    client: TestClient, tenant: Tenant, headers: dict[str, str]
) -> None:
    response = client.get("/api/admin/credentials", headers=headers)
    assert response.status_code == 200
    answer = response.json()
    assert answer["portal_id"] == tenant.portal_id
    assert states(answer) == {
        "hubspot_token": False,
        "hubspot_refresh_token": False,
        "hubspot_access_token": False,
        "webhook_secret": True,
        "google_credentials": False,
    }
    assert SECRET not in response.text
    assert answer["reauthorisation"]["needed"] is False


def test_put_replaces_only_what_is_given_and_answers_no_value(
    client: TestClient, engine: Engine, box: SecretBox, headers: dict[str, str]
) -> None:
    tenant = make_tenant(engine, box, sender_email="alex@acme.example")
    headers = bearer(key_for(engine, tenant, admin=True))
    before = secrets_of(engine, tenant.portal_id)
    response = client.put(
        "/api/admin/credentials",
        json={"webhook_secret": "new-signing-secret", "google_credentials": AUTHORIZED_USER},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    assert sorted(answer["changed"]) == ["Google credentials", "webhook secret"]
    assert states(answer)["google_credentials"] is True
    for value in ("new-signing-secret", *AUTHORIZED_USER.values()):
        assert value not in response.text
    when = {s["kind"]: s["updated_at"] for s in answer["secrets"]}
    assert datetime.fromisoformat(when["webhook_secret"]) <= datetime.now(UTC)
    after = secrets_of(engine, tenant.portal_id)
    assert after["webhook_secret"] != before["webhook_secret"]
    assert b"new-signing-secret" not in after["webhook_secret"]
    with Session(engine) as session:
        google = get_secret(session, box, tenant.id, SecretKind.GOOGLE_CREDENTIALS)
    assert google is not None
    assert json.loads(google.get_secret_value()) == AUTHORIZED_USER
    # The webhook takes the new secret at once and refuses the old one.
    fresh = post(client, body_for(tenant.portal_id, "sub-new"), secret="new-signing-secret")
    assert fresh.status_code == 202
    assert post(client, body_for(tenant.portal_id, "sub-old")).status_code == 401
    # A Google key given as its JSON text is the same as the object.
    text = client.put(
        "/api/admin/credentials",
        json={"google_credentials": json.dumps(AUTHORIZED_USER, indent=2)},
        headers=headers,
    )
    assert text.status_code == 200, text.text


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"google_credentials": "{not json"}, "google_credentials"),
        ({"google_credentials": {"type": "service_account"}}, "google_credentials"),
        ({"google_credentials": {"type": "authorized_user", "client_id": "x"}},
         "google_credentials"),
        ({"google_credentials": {"type": "something_else"}}, "google_credentials"),
        ({"webhook_secret": "two words"}, "webhook_secret"),
        ({"hubspot_token": "line one\nline two"}, "hubspot_token"),
        # Not sendable in an HTTP header (was a 500 and the token in the error's log line).
        ({"hubspot_token": "pat-na1-\u00e7\u00e9\u4e2d"}, "hubspot_token"),
        ({"webhook_secret": ""}, "webhook_secret"),
        ({"webhook_secret": 42}, "webhook_secret"),
        ({"hubspot_tokn": "typo"}, "hubspot_tokn"),
        ({}, None),
    ],
)  # fmt: skip
def test_bad_input_is_400_naming_the_field_and_writes_nothing(
    client: TestClient,
    engine: Engine,
    tenant: Tenant,
    headers: dict[str, str],
    body: dict[str, Any],
    field: str | None,
) -> None:
    before = secrets_of(engine, tenant.portal_id)
    # A good secret next to the bad one must not land either.
    response = (
        client.put(
            "/api/admin/credentials",
            json={"webhook_secret": "would-be-new", **body},
            headers=headers,
        )
        if body
        else client.put("/api/admin/credentials", json={}, headers=headers)
    )
    assert response.status_code == 400, response.text
    if field is not None:
        assert field in response.json()["error"]["fields"][0]
    assert secrets_of(engine, tenant.portal_id) == before
    for value in ("{not json", "two words", "line one"):
        assert value not in response.text


def test_a_body_that_is_not_json_is_400_and_writes_nothing(
    client: TestClient, engine: Engine, tenant: Tenant, headers: dict[str, str]
) -> None:
    before = secrets_of(engine, tenant.portal_id)
    response = client.put(
        "/api/admin/credentials",
        content=b'{"webhook_secret": "x"',
        headers={**headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert secrets_of(engine, tenant.portal_id) == before


def service_account_key(private_key: str) -> dict[str, str]:
    """A service-account key file in Google's shape."""
    return {
        "type": "service_account",
        "client_email": "agent@acme-project.iam.gserviceaccount.example",
        "private_key": private_key,
        "token_uri": "https://oauth2.googleapis.example/token",
    }


def test_a_service_account_key_must_be_readable_and_needs_the_tenants_mailbox(
    client: TestClient, engine: Engine, tenant: Tenant, headers: dict[str, str]
) -> None:
    _, pem = new_private_key()
    good, broken = service_account_key(pem), service_account_key("not a key")
    before = secrets_of(engine, tenant.portal_id)
    for key, field in ((broken, "google_credentials"), (good, "sender_email")):
        response = client.put(
            "/api/admin/credentials", json={"google_credentials": key}, headers=headers
        )
        assert response.status_code == 400
        assert response.json()["error"]["fields"] == [field]
        assert "PRIVATE KEY" not in response.text
        assert "not a key" not in response.text
    assert secrets_of(engine, tenant.portal_id) == before


def test_a_tenant_refused_by_hubspot_shows_it_needs_reauthorisation(
    client: TestClient, engine: Engine, tenant: Tenant, headers: dict[str, str]
) -> None:
    with Session(engine) as session, session.begin():
        row = session.get_one(Tenant, tenant.id)
        row.hubspot_auth = "oauth"
        row.auth_error = f"portal {tenant.portal_id} needs HubSpot re-authorisation (revoked)"
        row.auth_error_at = datetime.now(UTC)
    for path in ("/api/admin/credentials", "/api/admin/settings"):
        answer = client.get(path, headers=headers).json()
        assert answer["hubspot_auth"] == "oauth"
        needed = answer["reauthorisation"]
        assert needed["needed"] is True
        assert "re-authorisation" in needed["error"]
        # No OAuth app here: the fix is a private app's token.
        assert needed["install_url"] is None
        assert "hubspot_token" in needed["message"]
