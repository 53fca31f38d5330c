"""`sales-agent status` as an operator runs it: against a real `sales-agent up` it says
ready (exit 0) with each daemon's heartbeat, the backlog, the oldest waiting lead, the dead
letters and the open breakers; with the webserver or the database gone it says NOT READY
and why (exit 1); and it starts nothing to find out."""

from __future__ import annotations

import json
import random
import re
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, update
from sqlalchemy.engine import URL, Engine
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner, Result

from sales_agent_pipeline.cli.main import app as cli
from sales_agent_pipeline.db.migrate import head_revision
from sales_agent_pipeline.db.models import Tenant, Workflow
from sales_agent_pipeline.db.repositories.breakers import PostgresBreakerStore
from sales_agent_pipeline.db.urls import app_url, libpq_dsn
from sales_agent_pipeline.domain.breaker import Breaker
from sales_agent_pipeline.domain.enums import BreakerState, WorkflowStatus
from sales_agent_pipeline.settings import get_settings
from tests.chaos.processes import Respawner
from tests.conftest import accept_lead, free_port
from tests.e2e.conftest import RunningStack, stack, stack_env, wait_for  # noqa: F401 (fixtures)
from tests.integration.test_cli_tenants import CLEARED

FIRST_HEARTBEAT_SECONDS = 90.0


def status(monkeypatch: pytest.MonkeyPatch, *args: str, **env: str) -> Result:
    """`sales-agent status ARGS` with these variables (and none of a real tenant's)."""
    for name in (*CLEARED, "DATABASE_URL", "DAGSTER_WEBSERVER_URL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        return CliRunner().invoke(cli, ["status", *args], catch_exceptions=False)
    finally:
        get_settings.cache_clear()


@pytest.fixture(scope="module")
def stack_engine(stack: RunningStack) -> Iterator[Engine]:  # noqa: F811
    wait_for(f"{stack.api}/healthz", stack.process)
    engine = create_engine(app_url(stack.database))
    yield engine
    engine.dispose()


@pytest.fixture
def stuck_tenant(stack_engine: Engine) -> tuple[int, datetime]:
    """A disabled tenant whose mail breaker is open: its lead has waited 10 minutes (no
    sensor launches it) and another is a dead letter kept for a person."""
    with Session(stack_engine, expire_on_commit=False) as session, session.begin():
        tenant = Tenant(
            portal_id=random.randint(10**6, 10**9),
            name="Stuck Co",
            disabled_at=datetime.now(UTC),
        )
        session.add(tenant)
        session.flush()
        waiting = accept_lead(session, tenant, "waiting@example.com")
        dead = accept_lead(session, tenant, "dead@example.com")
        session.execute(
            update(Workflow)
            .where(Workflow.id == waiting.workflow_id)
            .values(created_at=datetime.now(UTC) - timedelta(minutes=10))
        )
        session.execute(
            update(Workflow)
            .where(Workflow.id == dead.workflow_id)
            .values(status=WorkflowStatus.DEAD_LETTER.value, next_redrive_at=None)
        )
    until = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=10)
    PostgresBreakerStore(sessionmaker(stack_engine)).replace(
        None,
        Breaker("mail", tenant.id, state=BreakerState.OPEN, consecutive_failures=5, trips=1,
                open_until=until, last_error="TransientError: drafts.create: HTTP 503"),
    )  # fmt: skip
    return tenant.portal_id, until


@pytest.mark.e2e
def test_a_running_stack_is_ready_with_heartbeats_backlog_and_breakers(
    stack: RunningStack,  # noqa: F811
    stuck_tenant: tuple[int, datetime],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    Respawner(stack).wait_for_demo()
    portal, until = stuck_tenant
    env = {
        "DATABASE_URL": stack.database,
        "DAGSTER_WEBSERVER_URL": stack.ui,
        "DATA_DIR": str(tmp_path),
    }
    deadline = time.monotonic() + FIRST_HEARTBEAT_SECONDS
    while (result := status(monkeypatch, **env)).exit_code != 0:
        assert result.exit_code == 1, result.output
        assert time.monotonic() < deadline, result.output
        time.sleep(2)
    lines = result.stdout.splitlines()
    assert lines[0] == "Sales Agent Pipeline: ready"
    assert lines[1].split()[:2] == ["database", "ok"]
    assert lines[1].endswith(f"reachable, schema at {head_revision()}")
    assert lines[2].split()[:3] == ["dagster", "daemon", "ok"]
    daemons = {
        match[1]: int(match[2])
        for line in lines
        if (match := re.fullmatch(r"    ([A-Z_]+) +last heartbeat (\d+) s ago", line))
    }
    assert {"SENSOR", "SCHEDULER", "QUEUED_RUN_COORDINATOR", "BACKFILL"} <= set(daemons)
    assert all(age <= 120 for age in daemons.values()), daemons
    assert "  code server     ok  sales_agent_pipeline loaded" in lines
    assert "  intake          accepting leads (the webhook stores them)" in lines

    text = result.stdout
    assert re.search(r"^  waiting +[1-9]\d*$", text, re.M), text
    assert re.search(r"^  dead letter for a person +[1-9]\d*$", text, re.M), text
    oldest = re.search(rf"^  oldest waiting lead +10 min \d+ s \(portal {portal}\)$", text, re.M)
    assert oldest, text
    assert re.search(r"^  dead letters +[1-9]\d*$", text, re.M), text
    breaker = next(line for line in lines if line.startswith(f"  {portal} "))
    assert breaker.split()[1:6] == ["mail", "open", "5", "1", until.isoformat()]
    assert breaker.endswith("TransientError: drafts.create: HTTP 503")

    document = json.loads(status(monkeypatch, "--json", **env).stdout)
    assert document["status"] == "ready"
    assert document["accepting_leads"] is True
    assert {d["daemon"] for d in document["daemons"]} == set(daemons)
    assert all(d["ok"] and d["last_heartbeat_age_seconds"] <= 120 for d in document["daemons"])
    assert document["code_locations"] == {"sales_agent_pipeline": True}
    assert document["backlog"]["waiting"] >= 1
    assert document["oldest_pending_portal"] == portal
    assert 600 <= document["oldest_pending_seconds"] < 900
    assert document["dead_letters"] >= 1
    assert [b["vendor"] for b in document["open_breakers"] if b["portal"] == portal] == ["mail"]


def test_a_closed_webserver_port_is_not_ready_with_the_reason_and_exit_1(
    database_url: URL, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    port = free_port()
    env = {
        "DATABASE_URL": libpq_dsn(database_url),
        "DAGSTER_WEBSERVER_URL": f"http://ops:hunter2@127.0.0.1:{port}",
        "DATA_DIR": str(tmp_path),
    }
    result = status(monkeypatch, **env)
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "Sales Agent Pipeline: NOT READY"
    assert lines[1].split()[:2] == ["database", "ok"]
    reason = f"cannot reach the Dagster webserver at http://127.0.0.1:{port}: "
    assert lines[2].startswith(f"  dagster daemon  FAILED  {reason}"), lines[2]
    assert lines[3].startswith(f"  code server     FAILED  {reason}"), lines[3]
    assert lines[4] == (
        "  intake          accepting leads (the webhook stores them; runs start once Dagster "
        "is back)"
    )
    assert "Backlog" in lines
    assert "Circuit breakers" in lines
    assert "hunter2" not in result.output

    document: dict[str, Any] = json.loads(status(monkeypatch, "--json", **env).stdout)
    assert document["status"] == "not_ready"
    assert document["accepting_leads"] is True
    assert document["dagster_daemon"]["ok"] is False
    assert document["dagster_daemon"]["detail"].startswith(reason)
    assert document["daemons"] == []


def test_an_unreachable_database_is_not_ready_and_not_accepting(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    result = status(
        monkeypatch,
        DATABASE_URL=f"postgresql://postgres:hunter2@127.0.0.1:{free_port()}/sales_agent",
        DAGSTER_WEBSERVER_URL=f"http://127.0.0.1:{free_port()}",
        DATA_DIR=str(tmp_path),
    )
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    assert lines[1].startswith("  database        FAILED  unreachable: "), lines[1]
    assert "refused" in lines[1].lower()
    assert "  intake          NOT accepting leads (the database check failed)" in lines
    assert "Backlog" not in lines
    assert "hunter2" not in result.output


def test_without_database_url_it_reports_the_embedded_server_down_and_starts_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    result = status(
        monkeypatch,
        DAGSTER_WEBSERVER_URL=f"http://127.0.0.1:{free_port()}",
        DATA_DIR=str(tmp_path),
        EMBEDDED_PG_PORT=str(free_port()),
    )
    assert result.exit_code == 1, result.output
    assert "the embedded PostgreSQL of" in result.stdout
    assert "start the stack with `sales-agent up`" in result.stdout
    assert not (tmp_path / "postgres").exists(), "status started a database"


def test_an_unmigrated_database_is_not_ready_and_says_how_to_fix_it(
    fresh_database: Callable[[str], URL], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    result = status(
        monkeypatch,
        DATABASE_URL=libpq_dsn(fresh_database("unmigrated_status")),
        DAGSTER_WEBSERVER_URL=f"http://127.0.0.1:{free_port()}",
        DATA_DIR=str(tmp_path),
    )
    assert result.exit_code == 1, result.output
    assert result.stdout.splitlines()[1] == (
        f"  database        FAILED  schema at no revision, expected {head_revision()}: "
        "run `sales-agent db upgrade`"
    )
    assert "Backlog" not in result.stdout
