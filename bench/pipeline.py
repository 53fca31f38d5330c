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
from datetime import UTC
from pathlib import Path

import httpx
import psutil
from sqlalchemy import URL, Engine, create_engine, func, select, text
from sqlalchemy.orm import Session
from support import cpu_by_component, embedded_postmaster, stack_plan, wait_ok

from sales_agent_pipeline.cli.demo import DEMO_FORM, DEMO_PORTAL
from sales_agent_pipeline.connectors.dagster_launcher import DagsterLauncher
from sales_agent_pipeline.db.models import Tenant, Workflow, WorkflowEvent
from sales_agent_pipeline.db.repositories.outbox import accept_submission, claim_launch
from sales_agent_pipeline.db.session import make_engine
from sales_agent_pipeline.db.urls import dagster_url

try:  # a commit before the probe (bench-ab's base, run with this script): no probe
    from sales_agent_pipeline.defs.probe import PROBE_JOB
except ImportError:  # pragma: no cover - only against an older checkout
    PROBE_JOB = ""

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


def steps_seconds(engine: Engine, workflow_id: str) -> float:
    """The sum of the lead's 13 steps' own durations, from its audit trail."""
    with Session(engine) as session:
        total = session.scalar(
            select(func.coalesce(func.sum(WorkflowEvent.duration_ms), 0)).where(
                WorkflowEvent.workflow_id == uuid.UUID(workflow_id),
                WorkflowEvent.duration_ms.is_not(None),
            )
        )
    return float(total or 0) / 1000


# Where a single lead's time goes, from Dagster's event log: each phase ends at the event.
PHASES = (
    ("queued", "RUN_ENQUEUED"),
    ("dequeued", "RUN_DEQUEUED"),
    ("worker started", "RUN_START"),
    ("first op started", "STEP_START"),
    ("ops", "STEP_SUCCESS"),
    ("run ended", "RUN_SUCCESS"),
)


def print_phases(
    url: URL, runs: list[tuple[str, float, float]], label: str = "single lead's run"
) -> None:
    """The median of each phase of the single leads' runs (request -> each milestone)."""
    engine = create_engine(url)
    marks: dict[str, list[float]] = {name: [] for name, _ in PHASES}
    with engine.connect() as connection:
        for run_id, wall, _latency in runs:
            rows = connection.execute(
                text(
                    "SELECT dagster_event_type, min(timestamp), max(timestamp) FROM event_logs "
                    "WHERE run_id = :run AND dagster_event_type IS NOT NULL GROUP BY 1"
                ),
                {"run": run_id},
            ).all()
            # Dagster stores naive UTC timestamps; a step's first start, every other's last.
            seen = {
                kind: (first if kind == "STEP_START" else last).replace(tzinfo=UTC).timestamp()
                for kind, first, last in rows
            }
            for name, kind in PHASES:
                if kind in seen:
                    marks[name].append(seen[kind] - wall)
    engine.dispose()
    print(
        f"{label}, median seconds from the request to: "
        + ", ".join(f"{name} {statistics.median(v):.2f}" for name, v in marks.items() if v)
        + f"; to what the bench waited for {statistics.median(r[2] for r in runs):.2f}"
    )


def print_cpu(before: dict[str, float], after: dict[str, float], leads: int) -> None:
    """CPU milliseconds per lead of each component between two readings."""
    per_lead = {
        name: (after.get(name, 0.0) - before.get(name, 0.0)) * 1000 / leads
        for name in sorted(set(before) | set(after))
    }
    parts = sorted(per_lead.items(), key=lambda item: -item[1])
    print(
        f"CPU per lead in the backlog: {sum(per_lead.values()):.0f} ms: "
        + ", ".join(f"{name} {ms:.1f}" for name, ms in parts if ms >= 0.05)
    )


def probe_runs(
    launcher: DagsterLauncher, http: httpx.Client, dagster: Engine, count: int
) -> list[tuple[str, float, float]]:
    """`count` runs of the Dagster-only probe (defs/probe.py: the lead job's shape, empty
    ops), one at a time, launched as a lead is; each (run id, request time, seconds to the
    run's success)."""
    runs = []
    for _ in range(count + 2):
        key = f"probe-{uuid.uuid4()}"
        wall = time.time()
        started = time.monotonic()
        run_id = launcher.launch([key], trigger="bench", client=http, job=PROBE_JOB)
        while True:
            with dagster.connect() as connection:
                state = connection.execute(
                    text("SELECT status FROM runs WHERE run_id = :run"), {"run": run_id}
                ).scalar()
            if state in ("SUCCESS", "FAILURE", "CANCELED"):
                break
            time.sleep(0.01)
        if state != "SUCCESS":
            raise SystemExit(f"probe run {run_id} ended {state}")
        runs.append((run_id, wall, time.monotonic() - started))
    return runs[2:]  # the first two warm up, as for the leads


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

    # The Dagster-only probe's job is defined in this stack (defs/probe.py).
    plan = stack_plan("bench-pipeline-", SALES_AGENT_DAGSTER_PROBE="1")
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
        overheads: list[float] = []
        runs: list[tuple[str, float, float]] = []
        with httpx.Client() as http:
            for n in range(args.single + 2):
                with Session(engine) as session, session.begin():
                    workflow_id = submit(session, tenant, n)
                started = time.monotonic()
                wall = time.time()
                run_id = launcher.launch([workflow_id], trigger="webhook", client=http)
                while status(workflow_id) not in TERMINAL:
                    time.sleep(0.01)
                latency = time.monotonic() - started
                if status(workflow_id) != "succeeded":
                    raise SystemExit(f"lead {workflow_id} ended {status(workflow_id)}")
                if n >= 2:  # the first runs warm the code server's imports
                    latencies.append(latency)
                    overheads.append(latency - steps_seconds(engine, workflow_id))
                    runs.append((run_id, wall, latency))
            print(
                f"single lead, 1 at a time ({len(latencies)} leads): "
                f"p50 {percentile(latencies, 50):.2f}s, p95 {percentile(latencies, 95):.2f}s, "
                f"max {max(latencies):.2f}s"
            )
            print(
                "orchestration overhead (POST -> succeeded minus the steps' own durations): "
                f"p50 {percentile(overheads, 50) * 1000:.0f} ms, "
                f"p95 {percentile(overheads, 95) * 1000:.0f} ms"
            )
            dagster_db = dagster_url(database)
            print_phases(dagster_db, runs)
            if PROBE_JOB:
                dagster = create_engine(dagster_db)
                probes = probe_runs(launcher, http, dagster, args.single)
                dagster.dispose()
                seconds = [r[2] for r in probes]
                print(
                    f"Dagster-only probe (13 empty ops, {len(seconds)} runs): request -> run "
                    f"success p50 {percentile(seconds, 50):.2f}s, "
                    f"p95 {percentile(seconds, 95):.2f}s"
                )
                print_phases(dagster_db, probes, label="probe's run")

            with Session(engine) as session, session.begin():
                ids = [submit(session, tenant, n) for n in range(args.backlog)]
            postmaster = embedded_postmaster(plan.data_dir)  # None on DATABASE_URL's server
            cpu_before = cpu_by_component(psutil.Process(stack.pid), postmaster)
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
            cpu_after = cpu_by_component(psutil.Process(stack.pid), postmaster)
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
            print_cpu(cpu_before, cpu_after, len(ids))
        engine.dispose()
    finally:
        stack.send_signal(signal.SIGTERM)
        stack.wait(120)


if __name__ == "__main__":
    main()
