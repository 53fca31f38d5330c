"""Sizing from measurement: the CPU seconds per lead of each component of the stack, the
Dagster daemon's run-dequeue rate, and the pods and cores a load needs.

Starts `sales-agent up` (sandbox mode; the embedded PostgreSQL unless DATABASE_URL is set),
then, one phase after the other:

1. idle: every component's CPU over --idle-seconds with no load (the daemon's loops, the
   sensors' ticks, the webserver, PostgreSQL's background work), once the demo leads `up`
   posts are done and their run workers gone; the canary and the hourly reconciliation are
   off for the whole bench;
2. live: --leads signed deliveries to the webhook at --rate a second, until every workflow
   is terminal. A component's CPU per lead is its CPU over the phase, minus its idle rate
   times the phase's duration, divided by the leads;
3. dequeue: --dequeue-runs single-lead runs launched at once over GraphQL (as the API
   launches); the rate is the runs over the time from the first run's creation to the last
   run's start (Dagster's run storage, over GraphQL);
4. import: --import-leads leads as one CSV to POST /api/imports (runs of IMPORT_BATCH_SIZE),
   with the same accounting.

CPU of a component: user + system time of its live processes plus what their children that
exited used (the kernel adds a child's times to its parent's when the parent reaps it: the
forkserver reaps the run workers, the postmaster its backends), so processes that start and
end within a phase count in full. With DATABASE_URL the whole server's processes count: the
load of its other databases cannot be told apart.

Run: .venv/bin/python bench/scale.py [--leads 300] [--rate 2] [--idle-seconds 60]
     [--dequeue-runs 50] [--import-leads 1000] [--loads 1000,10000,100000]
"""

from __future__ import annotations

import argparse
import contextlib
import re
import resource
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psutil
from scale_plan import Assumptions, Phase, classify, dequeue_rate, report, run_figures, vendor_mix
from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from support import cpu_by_component, stack_plan, wait_ok

from sales_agent_pipeline.codeserver import PRELOAD
from sales_agent_pipeline.db.urls import dagster_url

RUNS_QUERY = """
query Runs($filter: RunsFilter!, $cursor: String) {
  runsOrError(filter: $filter, cursor: $cursor, limit: 500) {
    __typename
    ... on Runs { results { runId status creationTime startTime endTime } }
    ... on PythonError { message }
  }
}
"""


def say(line: str) -> None:
    """A progress line on stderr (the figures go to stdout at the end)."""
    print(f"{time.strftime('%H:%M:%S')} {line}", file=sys.stderr, flush=True)


def run_workers_alive(root: psutil.Process) -> int:
    """Run worker processes still alive (a run's process outlives its SUCCESS event)."""
    alive = 0
    for child in root.children():
        with contextlib.suppress(psutil.NoSuchProcess):
            if classify(" ".join(child.cmdline())) == "code server":
                alive += sum(len(sub.children()) for sub in child.children())
    return alive


def quiesce(ui: str, root: psutil.Process, timeout: float = 300) -> None:
    """Until no run is queued or in progress and no run worker is left, then 5 s more."""
    busy = {"statuses": ["QUEUED", "NOT_STARTED", "STARTING", "STARTED", "CANCELING"]}
    deadline = time.monotonic() + timeout
    while graphql_runs(ui, busy) or run_workers_alive(root):
        if time.monotonic() > deadline:
            raise SystemExit(f"runs still in progress after {timeout:.0f}s")
        time.sleep(1)
    time.sleep(5)


def import_cpu_seconds() -> float:
    """CPU a fresh Python spends importing what a run worker needs (a run pod's start)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    code = f"import importlib\nfor m in {list(PRELOAD)!r}: importlib.import_module(m)"
    subprocess.run([sys.executable, "-c", code], check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def graphql_runs(ui: str, run_filter: dict[str, Any]) -> list[dict[str, Any]]:
    """Runs matching a RunsFilter, every page."""
    runs: list[dict[str, Any]] = []
    cursor = None
    while True:
        answer = httpx.post(
            f"{ui}/graphql",
            json={"query": RUNS_QUERY, "variables": {"filter": run_filter, "cursor": cursor}},
            timeout=30,
        ).json()["data"]["runsOrError"]
        if answer["__typename"] != "Runs":
            raise SystemExit(f"Dagster: {answer}")
        runs += answer["results"]
        if len(answer["results"]) < 500:
            return runs
        cursor = answer["results"][-1]["runId"]


class Meter:
    """CPU by component between two moments, idle subtracted at the idle phase's rate."""

    def __init__(self, root: psutil.Process, postmaster: psutil.Process) -> None:
        self.root, self.postmaster = root, postmaster
        self.idle: dict[str, float] = {}

    def snap(self) -> tuple[float, dict[str, float]]:
        """The clock and every component's CPU so far."""
        return time.monotonic(), cpu_by_component(self.root, self.postmaster)

    def since(self, start: tuple[float, dict[str, float]]) -> tuple[float, dict[str, float]]:
        """Seconds and CPU per component since `start`, less the idle CPU of that long."""
        now, totals = self.snap()
        seconds = now - start[0]
        used = {
            name: value - start[1].get(name, 0.0) - self.idle.get(name, 0.0) * seconds
            for name, value in totals.items()
        }
        return seconds, used


def send_leads(api: str, secret: str, count: int, rate: float) -> list[str]:
    """`count` signed deliveries at `rate` a second (each due at its slot); workflow ids."""
    from webhook import DEMO_FORM, DEMO_PORTAL, delivery

    url, ids = f"{api}/webhook/formlead", []
    domains = ("acme-robotics.example", "ledgerline.example", "carepoint-health.example")
    start = time.monotonic()
    with httpx.Client(timeout=30) as client:
        for n in range(count):
            time.sleep(max(0.0, start + n / rate - time.monotonic()))
            email = f"scale{n}-{uuid.uuid4().hex[:6]}@{domains[n % 3]}"
            content, headers = delivery(secret, url, DEMO_PORTAL, DEMO_FORM, email)
            answer = client.post(url, content=content, headers=headers)
            if answer.status_code != 202:
                raise SystemExit(f"webhook answered {answer.status_code}: {answer.text}")
            ids.append(answer.json()["workflow_id"])
    return ids


def wait_terminal(engine: Engine, ids: list[str], timeout: float = 1800) -> None:
    """Until every workflow in `ids` is terminal."""
    from sales_agent_pipeline.db.models import Workflow

    deadline, terminal = time.monotonic() + timeout, ("succeeded", "failed", "rejected", "skipped")
    wanted = [uuid.UUID(i) for i in ids]
    while time.monotonic() < deadline:
        with Session(engine) as session:
            done = session.scalar(
                select(func.count()).where(Workflow.id.in_(wanted), Workflow.status.in_(terminal))
            )
        if done == len(ids):
            return
        time.sleep(0.5)
    raise SystemExit(f"{len(ids) - (done or 0)} workflows not terminal after {timeout:.0f}s")


def wait_workflows(engine: Engine, count: int, timeout: float = 90) -> None:
    """Until none is waiting or running and `count` workflows exist (or `timeout` passed:
    `up` skips its demo leads when it cannot post them)."""
    from sales_agent_pipeline.db.models import Workflow

    open_states = ("received", "queued", "running")
    deadline = time.monotonic() + timeout
    while True:
        with Session(engine) as session:
            total = session.scalar(select(func.count()).select_from(Workflow)) or 0
            waiting = session.scalar(select(func.count()).where(Workflow.status.in_(open_states)))
        if not waiting and (total >= count or time.monotonic() > deadline):
            return
        time.sleep(0.5)


def sandbox_counts(sandbox: str) -> tuple[dict[str, int], int]:
    """The sandbox's calls per endpoint and Gmail units so far."""
    body = httpx.get(f"{sandbox}/_sandbox/calls", timeout=30).json()
    calls = {e["endpoint"]: e["count"] for e in body["endpoints"]}
    return calls, sum(u["units"] for u in body["gmail"]["users"])


def database_bytes(engine: Engine, names: tuple[str, str]) -> int:
    """Size on disk of the app's and Dagster's databases."""
    with engine.connect() as conn:
        sizes = [conn.scalar(text("SELECT pg_database_size(:n)"), {"n": n}) for n in names]
    return sum(int(s or 0) for s in sizes)


def import_csv(leads: int, per_company: int = 25) -> bytes:
    """N leads, `per_company` at each company (as bench/import.py's)."""
    tag = uuid.uuid4().hex[:6]
    rows = ["email,first name,last name,company,job title,industry"]
    for n in range(leads):
        c = n // per_company
        rows.append(f"l{n}.{tag}@co{c}-{tag}.example,Sam{n},Lee,Co {c} {tag},Head of Ops,Robotics")
    return ("\n".join(rows) + "\n").encode()


def measured(
    meter: Meter, engine: Engine, sandbox: str, dbs: tuple[str, str], work: Callable[[], int]
) -> Phase:
    """Run `work` (it returns the leads it processed) between two meter readings."""
    calls0, units0 = sandbox_counts(sandbox)
    size0 = database_bytes(engine, dbs)
    start = meter.snap()
    leads = work()
    seconds, cpu = meter.since(start)
    calls1, units1 = sandbox_counts(sandbox)
    delta = {k: v - calls0.get(k, 0) for k, v in calls1.items()}
    grown = (database_bytes(engine, dbs) - size0) / leads
    kinds: Counter[str] = Counter()
    for endpoint, count in delta.items():  # one line per kind of call, not per object id
        kinds[re.sub(r"/(?:[0-9a-f-]{12,}|\d+)(?=/|$)", "/{id}", endpoint)] += count
    mix = vendor_mix(delta, units1 - units0, leads)
    return Phase(leads, seconds, cpu, mix, grown, dict(kinds))


def main() -> None:
    """Start the stack, measure each phase, stop it, print the tables."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--leads", type=int, default=300)
    parser.add_argument("--rate", type=float, default=2.0, help="webhook deliveries a second")
    parser.add_argument("--idle-seconds", type=float, default=60)
    parser.add_argument("--dequeue-runs", type=int, default=50)
    parser.add_argument("--import-leads", type=int, default=1000, help="0: no import phase")
    parser.add_argument("--import-share", type=float, default=0.8, help="IMPORT_QUOTA_SHARE")
    parser.add_argument("--loads", default="1000,10000,100000", help="leads a day")
    parser.add_argument("--peak-factor", type=float, default=10.0)
    parser.add_argument("--utilisation", type=float, default=0.6)
    parser.add_argument("--pod-start-seconds", type=float, default=10.0)
    parser.add_argument(
        "--batch-leads", type=int, default=10, help="a second plan with this many leads a run"
    )
    args = parser.parse_args()

    from pipeline import submit
    from webhook import DEMO_PORTAL, wait_for_demo

    from sales_agent_pipeline.connectors.dagster_launcher import DagsterLauncher
    from sales_agent_pipeline.db.models import Tenant
    from sales_agent_pipeline.db.repositories.api_keys import issue_key
    from sales_agent_pipeline.db.session import make_engine

    start_cpu = import_cpu_seconds()  # before the stack starts: a quiet machine's figure
    # No canary leads and no hourly reconciliation inside the phases: their CPU is not the
    # leads' (reconciliation's cost per run is in docs/benchmarks.md).
    plan_ = stack_plan(
        "bench-scale-",
        IMPORT_QUOTA_SHARE=str(args.import_share),
        CANARY_ENABLED="false",
        RECONCILIATION_CRON="0 3 1 1 *",
    )
    stack = subprocess.Popen(
        [str(Path(sys.executable).parent / "sales-agent"), "up"],
        env=plan_.env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    bulk: Phase | None = None
    try:
        wait_ok(f"{plan_.api}/healthz")
        wait_ok(f"{plan_.ui}/server_info")
        secret = wait_for_demo(plan_.api, plan_.data_dir / "demo-webhook-secret")
        engine = make_engine(plan_.database)
        with engine.connect() as conn:
            backend = int(conn.scalar(text("SELECT pg_backend_pid()")) or 0)
        app_db = str(engine.url.database)
        dbs = (app_db, str(dagster_url(plan_.database).database))
        postmaster = psutil.Process(backend).parent()  # the server our connection reached
        if postmaster is None:
            raise SystemExit("no postmaster above the database backend")
        meter = Meter(psutil.Process(stack.pid), postmaster)
        # `up` posts three demo leads once every process is ready (the readiness probe above
        # posted a fourth): the idle phase starts after their runs and run workers are gone.
        wait_workflows(engine, 4)
        quiesce(plan_.ui, meter.root)
        say(f"idle for {args.idle_seconds:g}s")
        start = meter.snap()
        time.sleep(args.idle_seconds)
        seconds, cpu = meter.since(start)
        meter.idle = {name: value / seconds for name, value in cpu.items()}

        created_after = time.time()

        def live_leads() -> int:
            ids = send_leads(plan_.api, secret, args.leads, args.rate)
            wait_terminal(engine, ids)
            return len(ids)

        say(f"live: {args.leads} leads at {args.rate:g}/s")
        live = measured(meter, engine, plan_.sandbox, dbs, live_leads)
        runs = graphql_runs(
            plan_.ui, {"pipelineName": "process_formlead", "createdAfter": created_after}
        )
        wall, waited = run_figures(runs)

        with Session(engine) as session, session.begin():
            tenant = session.scalars(select(Tenant).where(Tenant.portal_id == DEMO_PORTAL)).one()
            ids = [submit(session, tenant, n) for n in range(args.dequeue_runs)]
            key = issue_key(session, tenant.id, name="scale", admin=True).key
        say(f"dequeue: {args.dequeue_runs} runs at once")
        launcher = DagsterLauncher(plan_.ui)
        queued = time.monotonic()
        run_ids = [launcher.launch([i], trigger="webhook") for i in ids]
        queued = time.monotonic() - queued
        wait_terminal(engine, ids)
        dequeued = graphql_runs(plan_.ui, {"runIds": run_ids})
        per_second, span = dequeue_rate(dequeued)
        _, first_wait = run_figures(sorted(dequeued, key=lambda r: r["creationTime"])[:8])

        def imported() -> int:
            headers = {"Authorization": f"Bearer {key}"}
            answer = (
                httpx.post(
                    f"{plan_.api}/api/imports",
                    files={"file": ("scale.csv", import_csv(args.import_leads), "text/csv")},
                    headers=headers,
                    timeout=300,
                )
                .raise_for_status()
                .json()
            )
            url = f"{plan_.api}/api/imports/{answer['import_id']}"
            while httpx.get(url, headers=headers, timeout=30).json()["status"] != "completed":
                time.sleep(2)
            return int(answer["rows_accepted"])

        if args.import_leads:
            say(f"import: {args.import_leads} leads")
            bulk = measured(meter, engine, plan_.sandbox, dbs, imported)
        engine.dispose()
    finally:
        stack.send_signal(signal.SIGTERM)
        stack.wait(120)

    print(
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {psutil.cpu_count()} cores, "
        f"load average {psutil.getloadavg()[0]:.1f}; idle measured over {args.idle_seconds:g}s; "
        "CPU = user + system of each component's processes and their reaped children, minus "
        "its idle rate x the phase's duration"
    )
    print(
        f"live runs: {len(runs)} for {live.leads} leads ({live.leads / max(1, len(runs)):.2f} a "
        f"run), mean {wall:.2f}s start to end, {waited:.2f}s in the queue"
    )
    print(
        f"dequeue: {len(dequeued)} runs queued in {queued:.1f}s; first created to last started "
        f"{span:.1f}s = {per_second:.2f} runs/s (max_concurrent_runs 8 from dagster.yaml: runs "
        f"wait for free slots); queue wait of the first 8 {first_wait:.2f}s"
    )
    print(f"a run process's imports (a run pod's start): {start_cpu:.2f} CPU-s")
    assumptions = Assumptions(
        peak_factor=args.peak_factor,
        utilisation=args.utilisation,
        run_seconds=wall,
        pod_start_seconds=args.pod_start_seconds,
        pod_start_cpu=start_cpu,
    )
    report(live, bulk, meter.idle, assumptions, args, per_second)


if __name__ == "__main__":
    main()
