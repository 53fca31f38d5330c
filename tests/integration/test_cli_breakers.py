"""`sales-agent breakers`: an operator sees which tenant's vendor is stopped, until when and
why, as a table or JSON, for one tenant (every vendor) or every tenant (those that failed)."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from sales_agent_pipeline.cli.main import app as cli
from sales_agent_pipeline.db.models import Tenant
from sales_agent_pipeline.db.repositories.breakers import PostgresBreakerStore
from sales_agent_pipeline.db.urls import libpq_dsn
from sales_agent_pipeline.domain.breaker import Breaker
from sales_agent_pipeline.domain.enums import BreakerState
from sales_agent_pipeline.settings import get_settings
from tests.integration.test_cli_tenants import CLEARED


def test_breakers_lists_the_open_one_with_its_until_and_last_error(
    engine: Engine, database_url: URL, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in CLEARED:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", libpq_dsn(database_url))
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    with Session(engine, expire_on_commit=False) as session, session.begin():
        tenant = Tenant(portal_id=random.randint(10**6, 10**9), name="Stopped Co")
        session.add(tenant)
    until = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=3)
    PostgresBreakerStore(sessionmaker(engine)).replace(
        None,
        Breaker("mail", tenant.id, state=BreakerState.OPEN, consecutive_failures=5, trips=1,
                open_until=until, last_error="TransientError: drafts.create: HTTP 500"),
    )  # fmt: skip

    def invoke(*args: str) -> str:
        get_settings.cache_clear()
        result = CliRunner().invoke(cli, ["breakers", *args], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.stdout

    table = invoke("--tenant", str(tenant.portal_id)).splitlines()
    assert table[0].split() == [
        "portal", "vendor", "state", "failures", "trips", "open_until", "last_error",
    ]  # fmt: skip
    lines = {line.split()[1]: line for line in table[1:]}
    assert sorted(lines) == ["calendar", "crm", "drive", "mail"]
    assert lines["mail"].split()[2:6] == ["open", "5", "1", until.isoformat()]
    assert lines["mail"].endswith("HTTP 500")
    assert lines["crm"].split()[2:5] == ["closed", "0", "0"]

    every = json.loads(invoke("--json"))
    mine = [item for item in every if item["portal_id"] == tenant.portal_id]
    assert [(item["vendor"], item["state"]) for item in mine] == [("mail", "open")]
    assert datetime.fromisoformat(mine[0]["open_until"]) == until
