"""API keys: who gets in, who gets 401/403/404, and the CLI that issues them."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from sales_agent_pipeline.cli.main import app as cli
from sales_agent_pipeline.db.models import ApiKey, Tenant
from sales_agent_pipeline.db.repositories import api_keys
from sales_agent_pipeline.db.urls import libpq_dsn
from sales_agent_pipeline.settings import get_settings
from tests.integration.api.operator_support import add_workflow, bearer, key_for

ADMIN_ROUTES = [
    ("GET", "/api/admin/settings", None),
    ("PUT", "/api/admin/settings", {"kill_switch": True}),
    ("GET", "/api/admin/settings/changes", None),
    ("GET", "/api/admin/credentials", None),
    ("PUT", "/api/admin/credentials", {"webhook_secret": "a-new-secret"}),
    ("POST", "/api/drafts/00000000-0000-4000-8000-000000000000/approve", None),
]


def _unauthorized(response: object) -> None:
    assert response.status_code == 401  # type: ignore[attr-defined]
    assert response.headers["WWW-Authenticate"] == "Bearer"  # type: ignore[attr-defined]
    assert response.json()["error"]["code"] == "unauthorized"  # type: ignore[attr-defined]


def test_no_key_wrong_key_and_wrong_scheme_are_401(client: TestClient, tenant: Tenant) -> None:
    _unauthorized(client.get("/api/workflows"))
    _unauthorized(client.get("/api/workflows", headers=bearer("sak_" + "x" * 43)))
    _unauthorized(client.get("/api/workflows", headers=bearer("not-even-our-format")))
    _unauthorized(client.get("/api/workflows", headers={"Authorization": "Basic dXNlcjpwdw=="}))


def test_a_valid_key_reads_and_is_marked_used(
    client: TestClient, engine: Engine, tenant: Tenant
) -> None:
    key = key_for(engine, tenant)
    response = client.get("/api/workflows", headers=bearer(key))
    assert response.status_code == 200
    with Session(engine) as session:
        row = session.scalars(select(ApiKey).where(ApiKey.tenant_id == tenant.id)).one()
    assert row.last_used_at is not None
    assert row.key_hash != key
    assert key not in row.key_prefix + row.key_hash
    assert key.startswith(row.key_prefix)


def test_a_revoked_key_is_401_at_once(client: TestClient, engine: Engine, tenant: Tenant) -> None:
    key = key_for(engine, tenant)
    assert client.get("/api/workflows", headers=bearer(key)).status_code == 200
    with Session(engine) as session, session.begin():
        assert api_keys.revoke(session, tenant.id, key[:12]) == 1
    _unauthorized(client.get("/api/workflows", headers=bearer(key)))


def test_another_tenants_workflow_is_404(
    client: TestClient, engine: Engine, tenant: Tenant
) -> None:
    theirs = add_workflow(engine, tenant, "lee@theirs.example")
    with Session(engine, expire_on_commit=False) as session, session.begin():
        other = Tenant(portal_id=tenant.portal_id + 1, name="Other")
        session.add(other)
    mine = key_for(engine, other, admin=True)
    for path in (f"/api/workflows/{theirs}", f"/api/workflows/{theirs}/events"):
        response = client.get(path, headers=bearer(mine))
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "not_found"
    assert client.post(f"/api/workflows/{theirs}/retry", headers=bearer(mine)).status_code == 404
    listed = client.get("/api/workflows", headers=bearer(mine)).json()
    assert listed["items"] == []


@pytest.mark.parametrize(("method", "path", "body"), ADMIN_ROUTES)
def test_admin_routes_refuse_a_standard_key_with_403(
    client: TestClient, engine: Engine, tenant: Tenant, method: str, path: str, body: object
) -> None:
    key = key_for(engine, tenant, admin=False)
    response = client.request(method, path, headers=bearer(key), json=body)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "admin_key_required"
    _unauthorized(client.request(method, path, json=body))


def test_openapi_declares_the_bearer_scheme(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    assert document["components"]["securitySchemes"]["ApiKey"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "A tenant API key: `sales-agent apikey create --tenant <portal>`.",
    }
    assert document["paths"]["/api/workflows"]["get"]["security"] == [{"ApiKey": []}]


def test_cli_creates_lists_and_revokes_keys(
    client: TestClient,
    database_url: URL,
    tenant: Tenant,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABASE_URL", libpq_dsn(database_url))
    get_settings.cache_clear()
    runner = CliRunner()
    try:
        unknown = runner.invoke(cli, ["apikey", "create", "--tenant", "1"])
        assert unknown.exit_code == 2
        assert "no tenant with portal id 1" in unknown.output

        created = runner.invoke(
            cli, ["apikey", "create", "--tenant", str(tenant.portal_id), "--admin", "--name", "ci"]
        )
        assert created.exit_code == 0, created.output
        key = created.stdout.strip().splitlines()[-1]
        assert key.startswith("sak_")
        assert client.get("/api/admin/settings", headers=bearer(key)).status_code == 200

        listed = runner.invoke(cli, ["apikey", "list", "--tenant", str(tenant.portal_id)])
        assert listed.exit_code == 0
        assert f"{key[:12]}  ci  admin" in listed.stdout
        assert key not in listed.stdout

        revoked = runner.invoke(
            cli, ["apikey", "revoke", key[:12], "--tenant", str(tenant.portal_id)]
        )
        assert revoked.exit_code == 0, revoked.output
        assert client.get("/api/admin/settings", headers=bearer(key)).status_code == 401
        again = runner.invoke(
            cli, ["apikey", "revoke", key[:12], "--tenant", str(tenant.portal_id)]
        )
        assert again.exit_code == 2
    finally:
        get_settings.cache_clear()
