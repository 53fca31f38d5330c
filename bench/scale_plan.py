"""The arithmetic of bench/scale.py, apart so tests can check it: from CPU seconds per lead
and a vendor call mix to cores, pods, connections and the leads a vendor quota allows.

Pure functions over plain numbers: no process, no network, no database.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from sales_agent_pipeline.db import budget

SANDBOX = "sandbox"
SIZED = ("API", "webserver", "daemon", "code server", "run workers", "PostgreSQL")
# Which component a child of `sales-agent up` is, by its command line; the first match wins.
ROLES = (
    ("sales_agent_pipeline.codeserver", "code server"),
    ("sales_agent_sandbox", SANDBOX),
    ("dagster-daemon", "daemon"),
    ("webserver", "webserver"),
    ("uvicorn", "API"),
)
HUBSPOT_PATHS = ("/crm/", "/form-integrations/", "/marketing/", "/account-info/", "/owners/")


@dataclass(frozen=True)
class Assumptions:
    """What the arithmetic takes that the bench does not measure on this machine."""

    peak_factor: float = 10.0  # the busiest second's rate against the day's mean
    utilisation: float = 0.6  # the share of a pod's CPU request a component may use
    pod_cpu: float = 1.0  # CPU request of an API, webserver or daemon pod
    run_seconds: float = 1.5  # a run's wall time, start to end (measured: overrides)
    leads_per_run: float = 1.0  # live runs carry one lead unless a burst coalesces
    pod_start_seconds: float = 10.0  # a run pod: schedule, start the container, import
    pod_start_cpu: float = 4.0  # CPU of a fresh run process's imports (measured: overrides)


@dataclass(frozen=True)
class Cost:
    """A component's measured CPU: seconds per lead, and cores it uses with no load."""

    per_lead: float
    idle_cores: float


@dataclass(frozen=True)
class Need:
    """Cores and pods of one component at a load's peak."""

    component: str
    cores: float
    pods: int
    note: str = ""


def peak_rate(leads_per_day: float, peak_factor: float) -> float:
    """Leads a second in the busiest second: the day's mean times the peak factor."""
    return leads_per_day / 86_400 * peak_factor


def pods_for(cores: float, a: Assumptions) -> int:
    """Pods of `pod_cpu` each, at most `utilisation` busy, for these cores (at least 1)."""
    return max(1, math.ceil(cores / (a.pod_cpu * a.utilisation) - 1e-9))


def connections(run_pods: int, api_pods: int, webservers: int = 2, app_pool: int = 10) -> int:
    """Most PostgreSQL connections (db/budget.py's shares): a run pod's app pool plus
    Dagster's storages, each API pod's app pool (one worker), the webservers, the daemon, the
    code server's sensor ticks, and the headroom."""
    run = app_pool + budget.DAGSTER_STORAGES * (1 + budget.DAGSTER_RUN_POOL_OVERFLOW)
    web = budget.DAGSTER_STORAGES * (1 + budget.DAGSTER_WEBSERVER_POOL_OVERFLOW)
    code = app_pool + budget.CODE_SERVER_DAGSTER_CONNECTIONS
    return (
        run_pods * run
        + api_pods * app_pool
        + webservers * web
        + budget.DAEMON_CONNECTIONS
        + code
        + budget.HEADROOM
    )


def plan(leads_per_day: float, costs: Mapping[str, Cost], a: Assumptions) -> list[Need]:
    """Cores and pods per component for a daily volume at its peak (pure arithmetic)."""
    peak = peak_rate(leads_per_day, a.peak_factor)
    needs: list[Need] = []
    for name in ("API", "webserver", "daemon", "code server"):
        cost = costs[name]
        cores = cost.idle_cores + cost.per_lead * peak
        if name == "daemon":
            note = "singleton" if cores <= a.pod_cpu * a.utilisation else "SATURATED: batch"
            needs.append(Need(name, cores, 1, note))
        elif name == "code server":
            needs.append(Need(name, cores, 1, "sensors only (runs are pods)"))
        else:
            needs.append(Need(name, cores, pods_for(cores, a)))
    run = costs["run workers"]
    run_pods = max(1, math.ceil(peak * (a.run_seconds + a.pod_start_seconds) / a.leads_per_run))
    run_cores = peak * (run.per_lead + a.pod_start_cpu / a.leads_per_run)
    needs.append(Need("run pods", run_cores, run_pods, "concurrent, each a Dagster run"))
    pg = costs["PostgreSQL"]
    pg_cores = (pg.idle_cores + pg.per_lead * peak) / a.utilisation
    api_pods = next(n.pods for n in needs if n.component == "API")
    needs.append(Need("PostgreSQL", pg_cores, 1, f"{connections(run_pods, api_pods)} conns"))
    return needs


def import_plan(
    leads: int, leads_per_minute: float, costs: Mapping[str, Cost], a: Assumptions
) -> tuple[float, dict[str, float]]:
    """Hours an import takes at a quota-bound pace, and the cores it keeps busy meanwhile."""
    rate = leads_per_minute / 60
    cores = {name: costs[name].per_lead * rate / a.utilisation for name in costs}
    return leads / leads_per_minute / 60, cores


def vendor_mix(calls: Mapping[str, int], gmail_units: int, leads: int) -> dict[str, float]:
    """Per lead: HubSpot requests (and searches), Gmail units, Calendar and Drive calls,
    from the sandbox's per-endpoint counts ("METHOD /path")."""
    mix = dict.fromkeys(("hubspot", "hubspot_search", "gmail_units", "calendar", "drive"), 0.0)
    for key, count in calls.items():
        path = key.split(" ", 1)[1]
        if path.startswith(HUBSPOT_PATHS):
            mix["hubspot"] += count
            mix["hubspot_search"] += count if path.endswith("/search") else 0
        elif path.startswith("/calendar/"):
            mix["calendar"] += count
        elif path.startswith("/drive/"):
            mix["drive"] += count
    mix["gmail_units"] = float(gmail_units)
    return {name: value / max(1, leads) for name, value in mix.items()}


def quota_days(mix: Mapping[str, float]) -> dict[str, float]:
    """Leads a day one HubSpot portal or one Gmail mailbox allows, by each vendor limit."""
    per = {"HubSpot private app, Professional (650,000 a day)": 650_000 / mix["hubspot"]}
    per["HubSpot private app, Enterprise (1,000,000 a day)"] = 1_000_000 / mix["hubspot"]
    per["HubSpot burst, 190 per 10 s, all day"] = 190 * 8640 / mix["hubspot"]
    per["HubSpot OAuth app burst, 110 per 10 s, all day"] = 110 * 8640 / mix["hubspot"]
    per["Gmail 15,000 units/min per user, all day"] = 15_000 * 1440 / mix["gmail_units"]
    per["Gmail 6,000 units/min per user (projects from 2026-05)"] = 6000 * 1440 / mix["gmail_units"]
    return per


def classify(cmdline: str) -> str:
    """The component of a child of `sales-agent up`, from its command line."""
    return next((role for needle, role in ROLES if needle in cmdline), "supervisor")


def run_figures(runs: list[dict[str, Any]]) -> tuple[float, float]:
    """Mean wall time of the runs (start to end) and mean wait in the queue (creation to
    start), in seconds."""
    done = [r for r in runs if r["startTime"] and r["endTime"]]
    if not done:
        return float("nan"), float("nan")
    wall = sum(r["endTime"] - r["startTime"] for r in done) / len(done)
    return wall, sum(r["startTime"] - r["creationTime"] for r in done) / len(done)


def dequeue_rate(runs: list[dict[str, Any]]) -> tuple[float, float]:
    """Runs started a second, from the first run's creation to the last run's start, and
    that span in seconds (a run that never started does not count)."""
    started = [r["startTime"] for r in runs if r["startTime"]]
    span = max(started) - min(r["creationTime"] for r in runs)
    return len(started) / span, span


@dataclass
class Phase:
    """What one loaded phase measured."""

    leads: int
    seconds: float
    cpu: dict[str, float]
    mix: dict[str, float]
    bytes_per_lead: float
    calls: dict[str, int]  # the sandbox's count per endpoint ("METHOD /path") in the phase

    def per_lead(self, name: str) -> float:
        """CPU seconds per lead of a component (idle subtracted; never below 0)."""
        return max(0.0, self.cpu.get(name, 0.0)) / self.leads


def report(
    live: Phase,
    bulk: Phase | None,
    idle: dict[str, float],
    a: Assumptions,
    args: Any,
    dequeue_per_second: float,
) -> None:
    """The tables: CPU per lead, the vendor mix, and the pods each load needs."""
    print("\nidle, % of a core: " + ", ".join(f"{k} {v * 100:.1f}" for k, v in idle.items()))
    print(f"\n{'component':14s} {'CPU s/lead':>11s} {'ms/lead':>9s} {'import ms/lead':>15s}")
    for name in (*SIZED, "supervisor", SANDBOX):
        imp = f"{bulk.per_lead(name) * 1000:15.1f}" if bulk else f"{'-':>15s}"
        print(f"{name:14s} {live.per_lead(name):11.4f} {live.per_lead(name) * 1000:9.1f} {imp}")
    print("(sandbox: the vendors' stand-in, excluded from sizing; supervisor: `sales-agent up`,")
    print(" not in production, where compose or Kubernetes restart the processes)")
    for label, phase in (("live", live), ("import", bulk)):
        if phase is None:
            continue
        mix = phase.mix
        print(
            f"\n{label}: {phase.leads} leads in {phase.seconds:.0f}s; per lead {mix['hubspot']:.2f}"
            f" HubSpot requests ({mix['hubspot_search']:.2f} searches), "
            f"{mix['gmail_units']:.1f} Gmail units, {mix['calendar']:.2f} Calendar, "
            f"{mix['drive']:.2f} Drive calls; databases +{phase.bytes_per_lead / 1024:.1f} KiB"
        )
        for endpoint, count in sorted(phase.calls.items(), key=lambda item: -item[1]):
            if count and not endpoint.split(" ", 1)[1].startswith(("/_sandbox", "/token")):
                print(f"  {count / phase.leads:6.2f} {endpoint}")
        for limit, per_day in quota_days(mix).items():
            print(f"  {limit}: {per_day:,.0f} leads a day")
    costs = {n: Cost(live.per_lead(n), idle.get(n, 0.0)) for n in SIZED}
    print(
        f"\nassumptions: peak = {a.peak_factor:g}x the day's mean rate; {a.utilisation:.0%} "
        f"utilisation of a pod's CPU request; API/webserver pods of {a.pod_cpu:g} CPU; a run "
        f"pod carries {a.leads_per_run:g} lead(s), takes {a.run_seconds:.1f}s (measured run) + "
        f"{a.pod_start_seconds:g}s to start (assumed) and {a.pod_start_cpu:.1f} CPU-s of "
        "imports (measured); the daemon is a singleton"
    )
    # A run of `batch` leads: the single-lead run plus each further lead's run-worker CPU (its
    # vendor waits overlap on the run's STEP_CONCURRENCY threads).
    batched = replace(
        a,
        leads_per_run=args.batch_leads,
        run_seconds=a.run_seconds + (args.batch_leads - 1) * costs["run workers"].per_lead,
    )
    for load in (int(x) for x in args.loads.split(",")):
        peak = peak_rate(load, a.peak_factor)
        for shape in (a, batched):
            runs = peak / shape.leads_per_run
            enough = "enough" if dequeue_per_second >= runs else "NOT enough: batch more"
            print(
                f"\n{load:,} leads/day, {shape.leads_per_run:g} lead(s) a run "
                f"({shape.run_seconds:.1f}s): peak {peak:.3f} leads/s, {runs:.3f} runs/s (the "
                f"daemon dequeued {dequeue_per_second:.2f} runs/s here: {enough})"
            )
            for n in plan(load, costs, shape):
                print(f"  {n.component:12s} {n.cores:7.3f} cores  {n.pods:4d} pod(s)  {n.note}")
    if bulk is not None:
        pace = 15_000 * args.import_share / bulk.mix["gmail_units"]
        bulk_costs = {n: Cost(bulk.per_lead(n), 0.0) for n in SIZED}
        hours, cores = import_plan(100_000, pace, bulk_costs, a)
        print(
            "\n100,000-lead import, one mailbox at Gmail's 15,000 units/min x "
            f"{args.import_share:g} share: {pace:.0f} leads/min, {hours:.1f} h; measured here "
            f"{bulk.leads / bulk.seconds * 60:.0f} leads/min; cores meanwhile: "
            + ", ".join(f"{k} {v:.2f}" for k, v in cores.items())
        )
