"""`sales-agent import` and `sales-agent rerun --dry-run` on real PostgreSQL (no Dagster: the
e2e tests run the imported leads and the re-runs through the real stack)."""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, update
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from sales_agent_pipeline.cli.main import app as cli
from sales_agent_pipeline.db.models import (
    DraftEmail,
    FormSubmission,
    IdempotencyKey,
    LeadImport,
    Tenant,
    Workflow,
)
from sales_agent_pipeline.db.urls import libpq_dsn
from sales_agent_pipeline.settings import get_settings
from tests.conftest import accept_lead

CSV = (
    "email,firstname,lastname,company name,notes\n"
    "ana@acme-robotics.example,Ana,Lima,Acme Robotics,met at the fair\n"
    "nope,Bo,Berg,Nowhere,\n"
    "ANA@acme-robotics.example,Ana,Again,Acme Robotics,\n"
    "known@globex.example,Kim,Known,Globex,\n"
    "lee@initech.example,Lee,Ng,Initech,\n"
)


@pytest.fixture
def tenant(engine: Engine, database_url: URL, monkeypatch: pytest.MonkeyPatch) -> Iterator[Tenant]:
    monkeypatch.setenv("DATABASE_URL", libpq_dsn(database_url))
    get_settings.cache_clear()
    with Session(engine, expire_on_commit=False) as session, session.begin():
        tenant = Tenant(portal_id=random.randint(10**6, 10**9), name="Acme")
        session.add(tenant)
        session.flush()
        accept_lead(session, tenant, "known@globex.example", f"live-{uuid.uuid4()}")
    yield tenant
    get_settings.cache_clear()


def write_csv(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "leads.csv"
    path.write_text(text)
    return path


def test_import_prints_the_per_row_report(tmp_path: Path, tenant: Tenant) -> None:
    result = CliRunner().invoke(
        cli,
        [
            "import",
            str(write_csv(tmp_path, CSV)),
            "--tenant",
            str(tenant.portal_id),
            "--no-wait",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout.strip().splitlines()[-1])
    rows = {row["row"]: row for row in report["rows"]}
    assert [rows[n]["status"] for n in range(1, 6)] == [
        "accepted",
        "rejected",
        "rejected",
        "rejected",
        "accepted",
    ]
    assert rows[2]["reason"].startswith("bad email")
    assert rows[3]["reason"] == "duplicate in file (same email as row 1)"
    assert rows[4]["reason"] == "already known"


def test_import_follows_the_leads_until_they_end(
    tmp_path: Path, engine: Engine, tenant: Tenant
) -> None:
    def finish_leads() -> None:
        # Stands in for the Dagster runs (the e2e test has the real ones).
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with Session(engine) as session, session.begin():
                changed = session.execute(
                    update(Workflow)
                    .where(
                        Workflow.form_submission_id.in_(
                            select(FormSubmission.id)
                            .join(LeadImport, LeadImport.id == FormSubmission.import_id)
                            .where(LeadImport.tenant_id == tenant.id)
                        )
                    )
                    .values(status="succeeded", started_at=func.now(), completed_at=func.now())
                    .returning(Workflow.id)
                ).all()
            if changed:
                return
            time.sleep(0.2)

    worker = threading.Thread(target=finish_leads)
    worker.start()
    result = CliRunner().invoke(
        cli, ["import", str(write_csv(tmp_path, CSV)), "--tenant", str(tenant.portal_id)]
    )
    worker.join()
    assert result.exit_code == 0, result.output
    assert "done: 2 succeeded, 0 failed" in result.output


def test_an_unusable_file_is_refused_with_its_reason(tmp_path: Path, tenant: Tenant) -> None:
    result = CliRunner().invoke(
        cli,
        ["import", str(write_csv(tmp_path, "name\nAna\n")), "--tenant", str(tenant.portal_id)],
    )
    assert result.exit_code == 2
    assert "no_email_column" in result.output


def test_rerun_dry_run_says_what_each_lead_would_do_and_writes_nothing(
    engine: Engine, tenant: Tenant
) -> None:
    started = time.time()
    with Session(engine, expire_on_commit=False) as session, session.begin():
        ids = [
            accept_lead(session, tenant, f"{name}@dry.example", f"s-{uuid.uuid4()}").workflow_id
            for name in ("drafted", "sent", "fresh")
        ]
        drafted, sent, _ = ids
        for workflow_id, was_sent in ((drafted, False), (sent, True)):
            session.add(
                DraftEmail(
                    workflow_id=workflow_id,
                    to_email="x@dry.example",
                    subject="s",
                    body="b",
                    gmail_draft_id=None if was_sent else "r-123",
                    sent=was_sent,
                    sent_at=datetime.now(UTC) if was_sent else None,
                )
            )
            session.add(
                IdempotencyKey(
                    scope="hubspot.task.create",
                    key=str(workflow_id),
                    workflow_id=workflow_id,
                    status="completed",
                    result={"id": "t-9"},
                )
            )

    def snapshot() -> tuple[object, ...]:
        with Session(engine) as session:
            return (
                session.scalar(select(func.count()).select_from(IdempotencyKey)),
                session.scalar(select(func.max(Workflow.updated_at))),
                session.scalar(select(func.count()).select_from(DraftEmail)),
            )

    before = snapshot()
    since = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(started - 60))
    result = CliRunner().invoke(
        cli,
        ["rerun", "--since", since, "--tenant", str(tenant.portal_id), "--dry-run", "--json"],
    )
    assert result.exit_code == 0, result.output
    plans = {plan["email"]: plan for plan in json.loads(result.stdout.strip().splitlines()[-1])}
    assert plans["drafted@dry.example"]["gmail"] == "update draft r-123"
    assert plans["drafted@dry.example"]["task"] == "leave alone (task t-9)"
    assert plans["sent@dry.example"]["gmail"].startswith("leave alone (email sent")
    assert plans["fresh@dry.example"]["gmail"] == "create draft"
    assert plans["fresh@dry.example"]["task"] == "create task"
    assert "known@globex.example" in plans
    assert snapshot() == before
