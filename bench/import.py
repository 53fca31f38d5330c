"""A bulk CSV import through the real stack, against the sandbox's HubSpot limit (190 requests
per 10 s per portal) and Gmail's quota (15,000 units per minute per user), both enforced by
the sandbox (a 429 for any overrun) and by our client.

Uploads N leads to POST /api/imports, waits until the import is completed, and prints the
leads per minute next to the bound the two quotas allow for the call mix the run actually
made (HubSpot requests per lead and Gmail units per lead, counted by the sandbox).

Run: .venv/bin/python bench/import.py [--leads 10000] [--per-company 25] [--share 1.0]
"""

from __future__ import annotations

import argparse
import re
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
from dagster import DagsterEventType
from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session
from support import stack_plan, wait_ok

from sales_agent_pipeline import run_tags as tags
from sales_agent_pipeline.cli.demo import DEMO_PORTAL
from sales_agent_pipeline.db.models import Tenant
from sales_agent_pipeline.db.repositories.api_keys import issue_key
from sales_agent_pipeline.db.session import make_engine
from sales_agent_pipeline.db.urls import dagster_url

HUBSPOT_PER_10S = 190
GMAIL_UNITS_PER_MINUTE = 15_000
SEARCHES_PER_SECOND = 4


def csv_of(leads: int, per_company: int) -> bytes:
    """N leads, `per_company` of them at each company (an exhibitor list, a webinar's)."""
    run = uuid.uuid4().hex[:6]
    lines = ["email,first name,last name,company,job title,industry"]
    for n in range(leads):
        company = n // per_company
        lines.append(
            f"lead{n}.{run}@company{company}-{run}.example,Sam{n},Lee,Company {company} {run},"
            "Head of Operations,Robotics"
        )
    return ("\n".join(lines) + "\n").encode()


def sandbox_calls(sandbox: str) -> dict[str, Any]:
    """The sandbox's counters: calls per endpoint, HubSpot windows, Gmail units per user."""
    body: dict[str, Any] = httpx.get(f"{sandbox}/_sandbox/calls", timeout=30).json()
    return body


def call_counts(body: dict[str, Any]) -> Counter[str]:
    """Calls per endpoint."""
    return Counter({e["endpoint"]: e["count"] for e in body["endpoints"]})


def gmail_units(body: dict[str, Any]) -> int:
    """Gmail quota units the sandbox counted (Google's cost table); one sender here."""
    return sum(u["units"] for u in body["gmail"]["users"])


def mix(calls: Counter[str]) -> tuple[int, int, Counter[str]]:
    """HubSpot requests, HubSpot searches, and the calls by kind."""
    hubspot = searches = 0
    kinds: Counter[str] = Counter()
    for key, count in calls.items():
        method, path = key.split(" ", 1)
        if path.startswith(("/crm/", "/form-integrations/", "/marketing/")):
            hubspot += count
            searches += count if path.endswith("/search") else 0
            kind = re.sub(r"/\d+", "/{id}", path)
            kinds[f"HubSpot {method} {kind}"] += count
        elif path.startswith("/gmail/"):
            kinds[f"Gmail {method} {re.sub(r'/[0-9a-f]{10,}', '/{id}', path)}"] += count
    return hubspot, searches, kinds


KINDS = (
    DagsterEventType.RUN_START,
    DagsterEventType.RUN_SUCCESS,
    DagsterEventType.RUN_FAILURE,
    DagsterEventType.STEP_START,
    DagsterEventType.STEP_SUCCESS,
)


def run_profile(database: str, import_id: str) -> list[str]:
    """Where the import's runs spent their time, from Dagster's own event log: run start-up,
    each op (its wall time for the whole batch), and the gaps between one run and the next."""
    engine = create_engine(dagster_url(database))
    with engine.connect() as conn:
        runs = [
            row[0]
            for row in conn.execute(
                text("SELECT run_id FROM run_tags WHERE key = :k AND value = :v"),
                {"k": tags.IMPORT_ID, "v": import_id},
            )
        ]
        rows = conn.execute(
            text(
                "SELECT run_id, dagster_event_type, step_key, timestamp FROM event_logs "
                "WHERE run_id = ANY(:runs) AND dagster_event_type = ANY(:kinds)"
            ),
            {"runs": runs, "kinds": [kind.value for kind in KINDS]},
        ).all()
    engine.dispose()
    # Dagster stores a run's start and end under their old names (PIPELINE_START, ...).
    marks: dict[tuple[str, str, str | None], float] = {
        (run, DagsterEventType(kind).name, step): stamp.timestamp()
        for run, kind, step, stamp in rows
    }
    ops: dict[str, list[float]] = {}
    starts: list[float] = []
    spans: list[tuple[float, float]] = []
    for run in runs:
        begun = marks.get((run, "RUN_START", None))
        ended = marks.get((run, "RUN_SUCCESS", None)) or marks.get((run, "RUN_FAILURE", None))
        if begun is None or ended is None:
            continue
        spans.append((begun, ended))
        steps = {
            step: t for (r, kind, step), t in marks.items() if r == run and kind == "STEP_START"
        }
        if steps:
            starts.append(min(steps.values()) - begun)
        for step, t in steps.items():
            done = marks.get((run, "STEP_SUCCESS", step))
            if done is not None and step is not None:
                ops.setdefault(step.rsplit(".", 1)[-1], []).append(done - t)
    if not spans:
        return ["no finished runs found in Dagster's event log"]
    spans.sort()
    # Runs overlap (two of a tenant's import runs go at once): the time no run was in
    # progress, between the first start and the last end, is what the runs left idle.
    idle, reach = 0.0, spans[0][1]
    for begun, ended in spans[1:]:
        idle += max(0.0, begun - reach)
        reach = max(reach, ended)
    busy = sum(e - b for b, e in spans)
    lines = [
        f"{len(spans)} runs: mean {busy / len(spans):.1f}s each, "
        f"{busy / (reach - spans[0][0]):.2f} in progress at a time on average, "
        f"none in progress for {idle:.1f}s"
    ]
    if starts:
        lines.append(f"  run start to first op: mean {statistics.fmean(starts):.2f}s")
    for step, seconds in sorted(ops.items(), key=lambda item: -statistics.fmean(item[1])):
        lines.append(f"  {step:24s} mean {statistics.fmean(seconds):6.2f}s a run")
    return lines


def main() -> None:
    """Start the stack, import, measure, stop it."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--leads", type=int, default=10_000)
    parser.add_argument("--per-company", type=int, default=25)
    parser.add_argument(
        "--share",
        type=float,
        default=1.0,
        help="IMPORT_QUOTA_SHARE: no live leads compete here, so the import may use it all",
    )
    parser.add_argument("--batch", type=int, default=100, help="IMPORT_BATCH_SIZE")
    parser.add_argument(
        "--gmail-units-per-second",
        type=int,
        default=GMAIL_UNITS_PER_MINUTE // 60,
        help="the client's Gmail quota; a larger one shows what the machine itself allows",
    )
    args = parser.parse_args()

    plan = stack_plan(
        "bench-import-",
        HUBSPOT_REQUESTS_PER_10S=str(HUBSPOT_PER_10S),
        GMAIL_QUOTA_UNITS_PER_SECOND=str(args.gmail_units_per_second),
        IMPORT_QUOTA_SHARE=str(args.share),
        IMPORT_BATCH_SIZE=str(args.batch),
        IMPORT_MAX_ROWS=str(max(args.leads, 20_000)),
        IMPORT_MAX_BYTES=str(64 * 1024 * 1024),
    )
    env, database = plan.env, plan.database
    stack = subprocess.Popen(
        [str(Path(sys.executable).parent / "sales-agent"), "up"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        api, sandbox = plan.api, plan.sandbox
        wait_ok(f"{api}/healthz")
        wait_ok(f"{plan.ui}/server_info")
        engine = make_engine(database)
        # `up` made the demo tenant (its webhook secret under the stack's key, which this
        # process, with another data dir, does not have: it only reads the row).
        with Session(engine) as session, session.begin():
            tenant = session.scalars(select(Tenant).where(Tenant.portal_id == DEMO_PORTAL)).one()
            key = issue_key(session, tenant.id, name="bench", admin=True).key
        httpx.patch(
            f"{sandbox}/_sandbox/config",
            # HubSpot's limits, and Gmail's per-user minute enforced by the sandbox too: a
            # client that overran either would see 429s (counted below).
            json={
                "rate_limit_max": HUBSPOT_PER_10S,
                "search_per_second": SEARCHES_PER_SECOND,
                "gmail_units_per_minute": GMAIL_UNITS_PER_MINUTE,
            },
            timeout=10,
        ).raise_for_status()
        headers = {"Authorization": f"Bearer {key}"}
        time.sleep(15)  # let the three demo leads `up` posts finish before counting calls
        before = sandbox_calls(sandbox)
        data = csv_of(args.leads, args.per_company)

        posted = time.monotonic()
        answer = httpx.post(
            f"{api}/api/imports",
            files={"file": ("bench.csv", data, "text/csv")},
            headers=headers,
            timeout=300,
        )
        answer.raise_for_status()
        accepted_in = time.monotonic() - posted
        report = answer.json()
        import_id = report["import_id"]
        print(
            f"{len(data) / 1e6:.1f} MB CSV, {report['rows_accepted']} rows accepted "
            f"({report['rows_rejected']} rejected) in {accepted_in:.1f}s"
        )
        body: dict[str, Any] = {}
        last = 0.0
        while True:
            body = httpx.get(f"{api}/api/imports/{import_id}", headers=headers, timeout=30).json()
            if body["status"] == "completed":
                break
            if time.monotonic() - last > 60:
                last = time.monotonic()
                p = body["progress"]
                print(
                    f"  {time.monotonic() - posted:6.0f}s: done {p['done']}, failed "
                    f"{p['failed']}, remaining {p['remaining']}, {p['leads_per_minute']}/min, "
                    f"eta {p['estimated_seconds_remaining']}s",
                    flush=True,
                )
            time.sleep(2)
        elapsed = time.monotonic() - posted
        profile = run_profile(database, import_id)
        limits = sandbox_calls(sandbox)
        calls = call_counts(limits) - call_counts(before)
        units = gmail_units(limits) - gmail_units(before)
        engine.dispose()
    finally:
        stack.send_signal(signal.SIGTERM)
        stack.wait(120)

    leads = report["rows_accepted"]
    progress = body["progress"]
    hubspot, searches, kinds = mix(calls)
    per_lead = {"hubspot": hubspot / leads, "search": searches / leads, "gmail": units / leads}
    bounds = {
        "HubSpot 190/10s": HUBSPOT_PER_10S * 6 / per_lead["hubspot"],
        "HubSpot search 4/s": SEARCHES_PER_SECOND * 60 / per_lead["search"]
        if per_lead["search"]
        else float("inf"),
        "Gmail 15,000 units/min": GMAIL_UNITS_PER_MINUTE / per_lead["gmail"],
    }
    bound_name, bound = min(bounds.items(), key=lambda item: item[1])
    rate = leads / elapsed * 60
    print("\nwhere the runs spent their time (Dagster's event log):")
    for line in profile:
        print(f"  {line}")
    print("\ncalls during the import (from the sandbox):")
    for kind, count in kinds.most_common():
        print(f"  {count:7d}  {kind}")
    print(
        f"\ncall mix per lead: {per_lead['hubspot']:.3f} HubSpot requests "
        f"({per_lead['search']:.4f} searches), {per_lead['gmail']:.1f} Gmail units"
    )
    for name, value in bounds.items():
        print(f"  bound from {name}: {value:,.0f} leads/min")
    print(
        f"\n{leads} leads in {elapsed:.0f}s: {rate:.0f} leads/min = {rate / bound:.0%} of the "
        f"{bound:,.0f} leads/min the quotas allow ({bound_name} binds); "
        f"done {progress['done']}, failed {progress['failed']}"
    )
    portal: dict[str, Any] = next(
        (p for p in limits["portals"] if p["portalId"] == DEMO_PORTAL), {}
    )
    print(
        f"HubSpot: busiest {portal.get('windowMs', 10000) / 1000:.0f}s window "
        f"{portal.get('maxCallsInWindow')} calls (limit {portal.get('limit')}); "
        f"429s: {limits['rejected'] or 'none'}"
    )
    sender: dict[str, Any] = max(limits["gmail"]["users"], key=lambda u: u["units"], default={})
    print(
        f"Gmail: busiest 60s window {sender.get('maxUnitsInWindow')} units "
        f"(budget {GMAIL_UNITS_PER_MINUTE:,}); 429s: {limits['gmail']['rejected'] or 'none'}"
    )


if __name__ == "__main__":
    main()
