"""`sales-agent tenant` and a tenant's state: disabled and enabled again, needing
re-authorisation (a revoked OAuth grant) until a private token replaces the grant, and
HubSpot out of reach while a tenant is created."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from typer.testing import Result

from sales_agent_pipeline.db.models import Tenant
from sales_agent_pipeline.db.repositories.tenant_secrets import put_secret
from sales_agent_pipeline.domain.enums import SecretKind
from sales_agent_pipeline.secretbox import SecretBox
from tests.integration.test_cli_tenants import (
    Cli,
    Portal,
    create_args,
    one_error_line,
    portal,
    rows,
    run,
    write,
)
from tests.sandbox.conftest import admin, admin_client, sandbox_url  # noqa: F401

__all__ = ["portal", "run"]


def test_disable_and_enable_keep_everything(
    run: Cli, portal: Callable[[], Portal], tmp_path: Path, engine: Engine
) -> None:
    p = portal()
    assert run(*create_args(tmp_path, p)).exit_code == 0
    assert run("tenant", "disable", str(p.id)).stdout.strip().endswith("disabled")
    assert "already disabled" in run("tenant", "disable", str(p.id)).stdout
    details = json.loads(run("tenant", "show", str(p.id), "--json").stdout)
    assert details["status"] == "disabled"
    assert details["disabled_at"]
    assert rows(engine, p.id) == (1, 3)
    assert run("tenant", "enable", str(p.id)).exit_code == 0
    assert json.loads(run("tenant", "show", str(p.id), "--json").stdout)["status"] == "active"
    assert "no tenant with portal id 5" in one_error_line(run("tenant", "disable", "5"))


def create_with_token(run: Cli, p: Portal, tmp_path: Path, name: str) -> Result:
    """`tenant create` with the portal's form and token only; the command must succeed."""
    result = run(
        "tenant", "create", str(p.id), "--name", name, "--form", p.form,
        "--hubspot-token-file", write(tmp_path, "token.txt", p.token),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return result


def test_unreachable_hubspot_does_not_block_but_says_so(
    run: Cli, portal: Callable[[], Portal], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = portal()
    monkeypatch.setenv("HUBSPOT_API_BASE_URL", "http://127.0.0.1:9")
    result = create_with_token(run, p, tmp_path, "Offline")
    assert "warning: HubSpot token not checked: HubSpot could not be reached" in result.stderr
    assert "warning: forms not checked" in result.stderr


def test_a_stand_in_without_the_check_endpoints_does_not_refuse_ids(
    run: Cli,
    portal: Callable[[], Portal],
    tmp_path: Path,
    sandbox_url: str,  # noqa: F811
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A vendor stand-in that has no account-info, forms or files.get route answers a bare
    404: that proves nothing about the ids, so they are kept and the warnings say so (while
    a 404 in HubSpot's or Google's own error shape refuses them: the tests above)."""
    p = portal()
    monkeypatch.setenv("HUBSPOT_API_BASE_URL", f"{sandbox_url}/a-stand-in-without-these-routes")
    result = create_with_token(run, p, tmp_path, "Stand-in")
    assert "warning: forms not checked: HubSpot did not answer the forms check" in result.stderr
    with Session(engine) as session:
        tenant = session.scalars(select(Tenant).where(Tenant.portal_id == p.id)).one()
    assert tenant.allowed_form_ids == [p.form]


def test_a_private_token_replaces_a_revoked_oauth_grant(
    run: Cli, portal: Callable[[], Portal], tmp_path: Path, engine: Engine
) -> None:
    p = portal()
    assert run("tenant", "create", str(p.id), "--name", "Was OAuth").exit_code == 0
    box = SecretBox([run.key])
    with Session(engine) as session, session.begin():
        tenant = session.scalars(select(Tenant).where(Tenant.portal_id == p.id)).one()
        tenant.hubspot_auth = "oauth"
        tenant.auth_error = "HubSpot refused the refresh token (BAD_REFRESH_TOKEN)"
        tenant.auth_error_at = func.now()
        for kind in (SecretKind.HUBSPOT_REFRESH_TOKEN, SecretKind.HUBSPOT_ACCESS_TOKEN):
            put_secret(session, box, tenant.id, kind, f"{kind.value}-{p.id}")
    shown = json.loads(run("tenant", "show", str(p.id), "--json").stdout)
    assert shown["status"] == "needs re-authorisation"
    assert shown["needs_reauthorisation"] is True
    assert "BAD_REFRESH_TOKEN" in shown["auth_error"]
    assert "needs re-authorisation since" in run("tenant", "show", str(p.id)).stdout

    token = write(tmp_path, "token.txt", p.token)
    assert run("tenant", "update", str(p.id), "--hubspot-token-file", token).exit_code == 0
    shown = json.loads(run("tenant", "show", str(p.id), "--json").stdout)
    assert (shown["status"], shown["hubspot_auth"]) == ("active", "private_app")
    assert {k for k, v in shown["secrets"].items() if v["set"]} == {"hubspot_token"}
