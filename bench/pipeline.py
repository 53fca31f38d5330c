"""Leads through the real stack: `sales-agent up` (embedded PostgreSQL unless DATABASE_URL,
the sandbox, the Dagster daemon), runs launched over GraphQL as the webhook does.

Prints single-lead latency (run request to succeeded workflow, p50/p95) at low load, and
sustained leads per minute for a backlog carried in batched runs.

Run: .venv/bin/python bench/pipeline.py [--single 20] [--backlog 500] [--batch 50]
"""

from __future__ import annotations

import argparse
import signal
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from support import stack_plan, wait_ok

from sales_agent_pipeline.cli.demo import DEMO_FORM, DEMO_PORTAL
from sales_agent_pipeline.connectors.dagster_launcher import DagsterLauncher
from sales_agent_pipeline.db.models import Tenant, Workflow
from sales_agent_pipeline.db.repositories.outbox import accept_submission, claim_launch
from sales_agent_pipeline.db.session import make_engine

TERMINAL = ("succeeded", "failed", "rejected", "skipped")
DOMAINS = ("acme-robotics.example", "ledgerline.example", "carepoint-health.example")


def submit(session: Session, tenant: Tenant, n: int) -> str:
    """One lead, stored as the webhook stores it and claimed for its launch as the API
    claims it, so the received-leads sensor does not launch it a second time while its run
    waits in the queue (as it would for a lead nobody launched)."""
    email = f"lead{n}-{uuid.uuid4().hex[:6]}@{DOMAINS[n % len(DOMAINS)]}"
    sid = str(uuid.uuid4())
    payload = {
        "formId": DEMO_FORM,
        "formSubmissionId": sid,
        "fieldValues": [
            {"name": "email", "value": email},
            {"name": "firstname", "value": "Bench"},
            {"name": "industry", "value": "Robotics"},
            {"name": "message", "value": "Warehouse automation pricing"},
        ],
    }
    accepted = accept_submission(
        session, tenant, form_id=DEMO_FORM, hubspot_submission_id=sid, payload=payload, email=email
    )
    claim_launch(session, [accepted.workflow_id])
    return str(accepted.workflow_id)


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation."""
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def main() -> None:
    """Start the stack, measure, stop it."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--single", type=int, default=20)
    parser.add_argument("--backlog", type=int, default=500)
    parser.add_argument("--batch", type=int, default=50)
    args = parser.parse_args()

    plan = stack_plan("bench-pipeline-")
    env, database = plan.env, plan.database
    stack = subprocess.Popen(
        [str(Path(sys.executable).parent / "sales-agent"), "up"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        ui = plan.ui
        wait_ok(f"{plan.api}/healthz")
        wait_ok(f"{ui}/server_info")
        engine = make_engine(database)
        launcher = DagsterLauncher(ui)
        # `up` made the demo tenant (the sandbox's portal), its webhook secret under the
        # stack's key, which this process (another data dir) does not have: read the row only.
        with Session(engine) as session:
            tenant = session.scalars(select(Tenant).where(Tenant.portal_id == DEMO_PORTAL)).one()

        def status(workflow_id: str) -> str:
            with Session(engine) as session:
                return str(session.get_one(Workflow, uuid.UUID(workflow_id)).status)

        latencies: list[float] = []
        with httpx.Client() as http:
            for n in range(args.single + 2):
                with Session(engine) as session, session.begin():
                    workflow_id = submit(session, tenant, n)
                started = time.monotonic()
                launcher.launch([workflow_id], trigger="webhook", client=http)
                while status(workflow_id) not in TERMINAL:
                    time.sleep(0.02)
                if n >= 2:  # the first runs warm the code server's imports
                    latencies.append(time.monotonic() - started)
                if status(workflow_id) != "succeeded":
                    raise SystemExit(f"lead {workflow_id} ended {status(workflow_id)}")
            print(
                f"single lead, 1 at a time ({len(latencies)} leads): "
                f"p50 {percentile(latencies, 50):.2f}s, p95 {percentile(latencies, 95):.2f}s, "
                f"max {max(latencies):.2f}s"
            )

            with Session(engine) as session, session.begin():
                ids = [submit(session, tenant, n) for n in range(args.backlog)]
            started = time.monotonic()
            for offset in range(0, len(ids), args.batch):
                launcher.launch(ids[offset : offset + args.batch], trigger="sensor", client=http)
            while True:
                with Session(engine) as session:
                    done = session.scalar(
                        select(func.count())
                        .select_from(Workflow)
                        .where(Workflow.id.in_(ids), Workflow.status.in_(TERMINAL))
                    )
                if done == len(ids):
                    break
                time.sleep(0.5)
            elapsed = time.monotonic() - started
            with Session(engine) as session:
                ok = session.scalar(
                    select(func.count())
                    .select_from(Workflow)
                    .where(Workflow.id.in_(ids), Workflow.status == "succeeded")
                )
            print(
                f"backlog of {len(ids)} in runs of {args.batch}: {elapsed:.1f}s, "
                f"{len(ids) / elapsed * 60:.0f} leads/min, {ok} succeeded"
            )
        engine.dispose()
    finally:
        stack.send_signal(signal.SIGTERM)
        stack.wait(120)


if __name__ == "__main__":
    main()
