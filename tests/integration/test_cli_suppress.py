"""`sales-agent suppress add|remove|list --tenant <portal>` on real PostgreSQL: one line
per outcome, a repeat a no-op, a missing entry or bad input exit 2 with nothing written,
tenants apart."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session
from typer.testing import CliRunner, Result

from sales_agent_pipeline.cli.main import app as cli
from sales_agent_pipeline.db.models import Suppression, Tenant
from sales_agent_pipeline.db.urls import libpq_dsn
from sales_agent_pipeline.settings import get_settings


def suppress(*args: str) -> Result:
    get_settings.cache_clear()
    return CliRunner().invoke(cli, ["suppress", *args], catch_exceptions=False)


@pytest.fixture(autouse=True)
def database(monkeypatch: pytest.MonkeyPatch, database_url: URL) -> Iterator[None]:
    monkeypatch.setenv("DATABASE_URL", libpq_dsn(database_url))
    yield
    get_settings.cache_clear()


def new_tenant(engine: Engine) -> Tenant:
    with Session(engine, expire_on_commit=False) as session, session.begin():
        tenant = Tenant(portal_id=random.randint(10**6, 10**9), name="CLI Co")
        session.add(tenant)
    return tenant


def count(engine: Engine, tenant: Tenant) -> int:
    with Session(engine) as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(Suppression)
                .where(Suppression.tenant_id == tenant.id)
            )
            or 0
        )


def test_add_repeat_list_remove(engine: Engine) -> None:
    tenant = new_tenant(engine)
    portal = str(tenant.portal_id)
    added = suppress("add", "Ana@Example.com", "--tenant", portal, "--note", "asked by phone")
    assert added.exit_code == 0, added.output
    assert added.stdout.startswith("suppressed: ana@example.com (address, manual)")
    again = suppress("add", "ana@example.com", "--tenant", portal, "--reason", "bounce")
    assert again.exit_code == 0
    assert "already suppressed: ana@example.com (address, manual)" in again.stdout
    assert "nothing changed" in again.stdout
    domain = suppress("add", "blocked.example", "--tenant", portal, "--reason", "bounce")
    assert "suppressed: blocked.example (domain, bounce)" in domain.stdout
    assert count(engine, tenant) == 2

    listed = suppress("list", "--tenant", portal)
    assert listed.exit_code == 0
    assert "ana@example.com  address  manual (asked by phone) by cli (" in listed.stdout
    assert "blocked.example  domain  bounce" in listed.stdout
    bounces = json.loads(
        suppress("list", "--tenant", portal, "--reason", "bounce", "--json").stdout
    )
    assert [item["value"] for item in bounces["items"]] == ["blocked.example"]
    assert bounces["more"] is False
    matching = suppress("list", "--tenant", portal, "--address", "Who@Blocked.example")
    assert matching.stdout.startswith("blocked.example  domain  bounce")
    assert "ana@example.com" not in matching.stdout
    assert "nothing suppressed matching x@y.example" in (
        suppress("list", "--tenant", portal, "--address", "x@y.example").stdout
    )
    one = json.loads(suppress("list", "--tenant", portal, "--limit", "1", "--json").stdout)
    assert len(one["items"]) == 1
    assert one["more"] is True

    removed = suppress("remove", "ANA@example.com", "--tenant", portal)
    assert removed.exit_code == 0
    assert removed.stdout.startswith("removed: ana@example.com (address)")
    missing = suppress("remove", "ana@example.com", "--tenant", portal)
    assert missing.exit_code == 2
    assert "ana@example.com is not suppressed" in missing.stderr
    assert count(engine, tenant) == 1


def test_bad_input_exits_2_and_writes_nothing(engine: Engine) -> None:
    tenant = new_tenant(engine)
    portal = str(tenant.portal_id)
    for value in ("nodot", "ana@", "a b@example.com", "x" * 300):
        refused = suppress("add", value, "--tenant", portal)
        assert refused.exit_code == 2, value
        assert refused.stderr.startswith("error: ")
    wrong_reason = suppress("add", "a@example.com", "--tenant", portal, "--reason", "because")
    assert wrong_reason.exit_code == 2
    assert suppress("add", "a@example.com", "--tenant", "1").exit_code == 2
    assert "no tenant with portal id 1" in suppress("list", "--tenant", "1").stderr
    assert suppress("add", "a@example.com").exit_code == 2  # --tenant is required
    assert count(engine, tenant) == 0


def test_tenants_are_apart(engine: Engine) -> None:
    mine, theirs = new_tenant(engine), new_tenant(engine)
    suppress("add", "shared@example.com", "--tenant", str(theirs.portal_id))
    assert "nothing suppressed" in suppress("list", "--tenant", str(mine.portal_id)).stdout
    assert suppress("remove", "shared@example.com", "--tenant", str(mine.portal_id)).exit_code == 2
    assert count(engine, theirs) == 1
