"""The reconciliation job in process against the sandbox (HubSpot's 190 calls per 10 s on)
and PostgreSQL: a first run over a week of submissions, a steady-state hourly run, and the
drift check over a week of succeeded workflows.

Prints each run's wall time and the HubSpot and Gmail calls it made.
Run: DATABASE_URL=postgresql://... .venv/bin/python bench/reconcile.py
     [--upstream 5000] [--missed 0.1] [--outputs 1000]
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import update
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dagster import DagsterInstance, Definitions
from support import serve_in_thread

from sales_agent_pipeline.cli.demo import DEMO_FORM, DEMO_SENDER, ensure_demo_tenant
from sales_agent_pipeline.connectors.factory import build_crm, build_mail
from sales_agent_pipeline.db import migrate
from sales_agent_pipeline.db.models import DraftEmail, HubspotTask, Workflow
from sales_agent_pipeline.db.repositories.outbox import accept_submission
from sales_agent_pipeline.db.session import make_engine, make_session_factory
from sales_agent_pipeline.db.urls import drop_database, ensure_database, libpq_dsn
from sales_agent_pipeline.defs.reconciliation import reconcile_submissions, submission_coverage
from sales_agent_pipeline.defs.resources import DatabaseResource, SettingsResource
from sales_agent_pipeline.defs.tenants import TenantsResource
from sales_agent_pipeline.defs.vendors import GmailResource, HubSpotResource
from sales_agent_pipeline.domain.models import NewTask, OutgoingMail
from sales_agent_pipeline.settings import get_settings
from sales_agent_sandbox.app import create_app


def calls(base: str) -> dict[str, int]:
    """Calls per endpoint the sandbox has answered so far (record ids folded into {id})."""
    body = httpx.get(f"{base}/_sandbox/calls", timeout=10).json()
    counts: dict[str, int] = {}
    for item in body["endpoints"]:
        endpoint = re.sub(r"/(r?\d+|[0-9a-f-]{36})(?=/|$)", "/{id}", item["endpoint"])
        counts[endpoint] = counts.get(endpoint, 0) + int(item["count"])
    return counts


def delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {k: v - before.get(k, 0) for k, v in after.items() if v - before.get(k, 0)}


def main() -> None:
    """Set up, run the job three ways, print the figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--upstream", type=int, default=5000)
    parser.add_argument("--missed", type=float, default=0.1)
    parser.add_argument("--outputs", type=int, default=1000)
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL"):
        raise SystemExit("set DATABASE_URL to a PostgreSQL server (a bench database is made)")
    url = make_url(os.environ["DATABASE_URL"]).set(database=f"bench_reconcile_{os.getpid()}")
    drop_database(url)
    ensure_database(url)
    migrate.upgrade(url)
    engine = make_engine(url, pool_size=2)
    sessions = make_session_factory(engine)
    try:
        with serve_in_thread(create_app(demo=True)) as base:
            os.environ.update(
                DATABASE_URL=libpq_dsn(url),
                HUBSPOT_API_BASE_URL=base,
                GOOGLE_API_BASE_URL=base,
            )
            get_settings.cache_clear()
            run(base, sessions, args)
    finally:
        engine.dispose()
        drop_database(url)


def run(base: str, sessions: sessionmaker[Session], args: argparse.Namespace) -> None:
    """Seed upstream, deliveries and outputs; run the job twice."""
    # The job with the resources the code location gives it (and nothing else it holds).
    config = SettingsResource()
    database = DatabaseResource.configure_at_launch(url=os.environ["DATABASE_URL"])
    tenants = TenantsResource.configure_at_launch(settings=config, database=database)
    defs = Definitions(
        assets=[submission_coverage],
        jobs=[reconcile_submissions],
        resources={
            "database": database,
            "settings": config,
            "tenants": tenants,
            "hubspot": HubSpotResource(settings=config, database=database, tenants=tenants),
            "gmail": GmailResource(settings=config, database=database, tenants=tenants),
        },
    )
    admin = httpx.Client(base_url=f"{base}/_sandbox", timeout=60)
    admin.patch("/config", json={"default_google_user": DEMO_SENDER}).raise_for_status()
    tenant = ensure_demo_tenant(sessions)
    now = datetime.now(UTC)
    step = timedelta(days=7) / max(args.upstream, 1)
    items = [
        {
            "formGuid": DEMO_FORM,
            "conversionId": f"bench-{n}-{uuid.uuid4().hex[:8]}",
            "submittedAt": (now - n * step).isoformat(),
            "values": [
                {"name": "email", "value": f"lead{n}@acme-robotics.example"},
                {"name": "firstname", "value": "Robin"},
                {"name": "company", "value": "Acme Robotics"},
            ],
        }
        for n in range(args.upstream)
    ]
    for start in range(0, len(items), 1000):
        admin.post("/seed", json={"formSubmissions": items[start : start + 1000]})
    # The newest submissions are the ones whose webhook never came (a paused workflow).
    delivered = items[int(len(items) * args.missed) :]
    with sessions.begin() as session:
        for item in delivered:
            accept_submission(
                session,
                tenant,
                form_id=DEMO_FORM,
                hubspot_submission_id=item["conversionId"],
                payload={"fieldValues": item["values"]},
                email=item["values"][0]["value"],
            )
    # A week of succeeded workflows with a real task and draft each (not on the form).
    settings = get_settings()
    crm, mail = build_crm(settings), build_mail(settings)
    owners = crm.list_owners()
    contact = crm.upsert_contact("drift@acme-robotics.example", {"firstname": "Drift"})
    batch = crm.create_tasks(
        {
            str(n): NewTask(
                subject=f"Follow up {n}",
                body=f"bench {n}",
                due_at=now + timedelta(days=2),
                owner_id=owners[0].id,
                contact_id=contact.id,
            )
            for n in range(args.outputs)
        }
    )
    tasks = [batch.created[str(n)] for n in range(args.outputs)]
    with sessions.begin() as session:
        for n, task in enumerate(tasks):
            email = f"out{n}@acme-robotics.example"
            accepted = accept_submission(
                session,
                tenant,
                form_id="bench-outputs",
                hubspot_submission_id=f"out-{n}-{uuid.uuid4().hex[:8]}",
                payload={},
                email=email,
            )
            draft = mail.create_draft(
                OutgoingMail(
                    to=(email,), subject="Hello", text_body="Hi", marker=str(accepted.workflow_id)
                )
            )
            session.execute(
                update(Workflow)
                .where(Workflow.id == accepted.workflow_id)
                .values(status="succeeded", completed_at=now)
            )
            session.add(
                HubspotTask(
                    workflow_id=accepted.workflow_id,
                    hubspot_task_id=task.id,
                    contact_id=contact.id,
                    due_date=now.date(),
                )
            )
            session.add(
                DraftEmail(
                    workflow_id=accepted.workflow_id,
                    to_email=email,
                    subject="Hello",
                    body="Hi",
                    gmail_draft_id=draft.draft_id,
                )
            )
    job = defs.resolve_job_def("reconcile_submissions")
    print(
        f"upstream {args.upstream} submissions over 7 days, {len(delivered)} via webhook; "
        f"{args.outputs} succeeded workflows with a task and a draft"
    )
    with DagsterInstance.ephemeral() as instance:
        for label in ("first run (7-day lookback)", "next run (cursor - 1 h overlap)"):
            before = calls(base)
            started = time.perf_counter()
            result = job.execute_in_process(instance=instance)
            elapsed = time.perf_counter() - started
            assert result.success
            meta = result.asset_materializations_for_node("submission_coverage")[0].metadata
            made = delta(before, calls(base))
            hubspot = sum(v for k, v in made.items() if "/gmail/" not in k)
            gmail = sum(v for k, v in made.items() if "/gmail/" in k)
            print(
                f"{label}: {elapsed:.1f} s; upstream seen {meta['upstream_seen'].value}, "
                f"recovered {meta['recovered'].value}, missing {meta['missing'].value}; "
                f"drift checked {meta['drift_checked'].value}; "
                f"HubSpot calls {hubspot}, Gmail calls {gmail}"
            )
            for endpoint, count in sorted(made.items()):
                print(f"    {count:6d}  {endpoint}")


if __name__ == "__main__":
    main()
