"""A CSV import and a re-run through the real processes: the API, the Dagster webserver and
daemon (sensors, run queue, backfill daemon) and the sandbox with HubSpot's rate limit."""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from sales_agent_pipeline.cli.demo import DEMO_PORTAL
from sales_agent_pipeline.cli.main import app as cli
from sales_agent_pipeline.db.models import IdempotencyKey, LeadImport, Tenant, Workflow
from sales_agent_pipeline.db.repositories.api_keys import issue_key
from sales_agent_pipeline.settings import get_settings
from tests.e2e.conftest import RunningStack, deliver, finished

pytestmark = pytest.mark.e2e

GOOD = 20
TAG = uuid.uuid4().hex[:6]


@pytest.fixture(scope="module", autouse=True)
def small_import_runs() -> Iterator[None]:
    """Runs of 5 imported leads, so a 20-lead import spans several runs (set before `up`)."""
    os.environ["IMPORT_BATCH_SIZE"] = "5"
    yield
    os.environ.pop("IMPORT_BATCH_SIZE", None)


@pytest.fixture(scope="module")
def admin_key(engine: Engine) -> dict[str, str]:
    with Session(engine) as session, session.begin():
        tenant = session.scalars(select(Tenant).where(Tenant.portal_id == DEMO_PORTAL)).one()
        issued = issue_key(session, tenant.id, name="e2e", admin=True)
    return {"Authorization": f"Bearer {issued.key}"}


def email(n: int) -> str:
    return f"imp{n}.{TAG}@company{n % 4}-{TAG}.example"


def drafts_and_tasks(stack: RunningStack, emails: list[str]) -> dict[str, tuple[int, int]]:
    drafts = httpx.get(f"{stack.sandbox}/_sandbox/drafts", timeout=10).json()
    tasks = httpx.get(f"{stack.sandbox}/_sandbox/tasks", timeout=10).json()
    return {
        address: (
            sum(address in (d["to"] or "") for d in drafts),
            sum(address in (t["properties"].get("hs_task_body") or "") for t in tasks),
        )
        for address in emails
    }


def wait_import(stack: RunningStack, headers: dict[str, str], import_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        body: dict[str, Any] = httpx.get(
            f"{stack.api}/api/imports/{import_id}", headers=headers, timeout=10
        ).json()
        if body["status"] == "completed":
            return body
        time.sleep(1)
    raise AssertionError(f"import {import_id} not completed: {body}")


def test_import_runs_every_good_row_within_hubspots_limit_behind_live_leads(
    stack: RunningStack, engine: Engine, admin_key: dict[str, str]
) -> None:
    known = f"known.{TAG}@globex-{TAG}.example"
    assert deliver(stack, known, industry="Robotics").status_code == 202
    rows = [f"{email(n)},Sam{n},Lee,Company {n % 4}" for n in range(GOOD)]
    rows[3:3] = [f"not-an-email-{TAG},Bad,Row,X", f"{email(0).upper()},Dup,Row,X", f"{known},K,N,G"]
    csv = "email,first name,last name,company\n" + "\n".join(rows) + "\n"

    answer = httpx.post(
        f"{stack.api}/api/imports",
        files={"file": ("leads.csv", csv.encode(), "text/csv")},
        headers=admin_key,
        timeout=30,
    )

    assert answer.status_code == 201, answer.text
    report = answer.json()
    assert (report["rows_accepted"], report["rows_rejected"]) == (GOOD, 3)
    reasons = sorted(r["reason"].split(":")[0] for r in report["rows"] if r["reason"])
    assert reasons == ["already known", "bad email", "duplicate in file (same email as row 1)"]

    # A live lead posted while the import runs goes ahead of the import's queued runs.
    time.sleep(3)
    live = deliver(stack, f"live.{TAG}@initech-{TAG}.example", industry="Robotics")
    assert live.status_code == 202
    live_done = finished(engine, live.json()["workflow_id"], timeout=120)
    assert live_done.status == "succeeded"

    body = wait_import(stack, admin_key, report["import_id"])
    assert body["progress"]["done"] == GOOD
    assert body["progress"]["failed"] == 0
    assert body["progress"]["remaining"] == 0
    assert live_done.completed_at is not None
    assert live_done.completed_at < datetime.fromisoformat(body["completed_at"])

    counts = drafts_and_tasks(stack, [email(n) for n in range(GOOD)])
    assert set(counts.values()) == {(1, 1)}
    calls = httpx.get(f"{stack.sandbox}/_sandbox/calls", timeout=10).json()
    portal = next(p for p in calls["portals"] if p["portalId"] == DEMO_PORTAL)
    assert portal["maxCallsInWindow"] <= portal["limit"]
    assert calls["rejected"] == []
    upserts = sum(e["count"] for e in calls["endpoints"] if "batch/upsert" in e["endpoint"])
    # One batch upsert per import run of five (not one per lead), plus one per live lead:
    # the three demo leads `up` posts, the known lead and the live one.
    assert upserts <= GOOD // 5 + 5


def test_rerun_dry_run_writes_nothing_and_a_rerun_keeps_one_draft_and_task_each(
    stack: RunningStack, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", stack.database)
    monkeypatch.setenv("DAGSTER_WEBSERVER_URL", stack.ui)
    get_settings.cache_clear()
    with Session(engine) as session:
        import_id = session.scalar(
            select(LeadImport.id).order_by(LeadImport.created_at.desc()).limit(1)
        )
    assert import_id is not None
    # The whole day, narrowed to the import: what an analyst re-runs after a bad import.
    window = ["--since", datetime.now(UTC).strftime("%Y-%m-%d"), "--import", str(import_id)]
    emails = [email(n) for n in range(GOOD)]
    runner = CliRunner()

    def state() -> tuple[Any, ...]:
        with Session(engine) as session:
            return (
                session.scalar(select(func.count()).select_from(IdempotencyKey)),
                session.scalar(select(func.max(Workflow.updated_at))),
            )

    try:
        before, upstream = state(), drafts_and_tasks(stack, emails)
        dry = runner.invoke(cli, ["rerun", *window, "--dry-run", "--json"])
        assert dry.exit_code == 0, dry.output
        assert state() == before
        assert drafts_and_tasks(stack, emails) == upstream
        plans = {p["email"]: p for p in json.loads(dry.stdout.splitlines()[-1])}
        assert set(plans) == set(emails)
        assert all(p["gmail"].startswith("update draft") for p in plans.values())
        assert all(p["task"].startswith("leave alone (task") for p in plans.values())

        real = runner.invoke(cli, ["rerun", *window])
        assert real.exit_code == 0, real.output
    finally:
        get_settings.cache_clear()

    # Every lead is claimed a second time by the backfill's run(s) and ends succeeded again.
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        with Session(engine) as session:
            rows = session.execute(
                select(Workflow.status, Workflow.attempts).where(
                    Workflow.prospect_email.in_(emails)
                )
            ).all()
        if all(status == "succeeded" and attempts >= 2 for status, attempts in rows):
            break
        time.sleep(1)
    assert [(s, a >= 2) for s, a in rows] == [("succeeded", True)] * GOOD
    assert set(drafts_and_tasks(stack, emails).values()) == {(1, 1)}
