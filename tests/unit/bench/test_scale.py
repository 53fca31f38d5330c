"""The sizing arithmetic bench/scale.py prints: a reader who redoes the sums by hand gets
the same pods, connections and quota bounds, and the connection count agrees with the budget
`sales-agent up` enforces.

bench/ is a folder of scripts, not a package: its modules import each other by name, so the
folder goes on the path here.
"""

import math
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "bench"))

from scale_plan import (
    Assumptions,
    Cost,
    classify,
    connections,
    dequeue_rate,
    import_plan,
    peak_rate,
    plan,
    pods_for,
    quota_days,
    run_figures,
    vendor_mix,
)

from sales_agent_pipeline.db.budget import stack_budget
from sales_agent_pipeline.settings import Settings

COSTS = {
    "API": Cost(per_lead=0.003, idle_cores=0.01),
    "webserver": Cost(per_lead=0.005, idle_cores=0.02),
    "daemon": Cost(per_lead=0.02, idle_cores=0.05),
    "code server": Cost(per_lead=0.01, idle_cores=0.01),
    "run workers": Cost(per_lead=0.4, idle_cores=0.0),
    "PostgreSQL": Cost(per_lead=0.05, idle_cores=0.01),
}


def test_peak_is_the_daily_mean_times_the_factor() -> None:
    assert peak_rate(86_400, 10) == pytest.approx(10.0)
    assert peak_rate(100_000, 10) == pytest.approx(11.574, abs=1e-3)


def test_pods_round_up_at_the_target_utilisation_and_never_drop_to_zero() -> None:
    a = Assumptions(utilisation=0.6, pod_cpu=1.0)
    assert pods_for(0.0, a) == 1
    assert pods_for(0.6, a) == 1  # exactly full at 60%: one pod, not two
    assert pods_for(0.61, a) == 2
    assert pods_for(3.0, a) == 5


def test_connections_match_the_budget_up_enforces_for_the_same_processes() -> None:
    # One host: 8 runs, one API worker, one webserver (the budget's own shares).
    budget = stack_budget(Settings(_env_file=None), 8)
    assert connections(run_pods=8, api_pods=1, webservers=1) == budget.total


def test_a_run_pod_adds_its_app_pool_and_dagster_storages() -> None:
    assert connections(9, 1) - connections(8, 1) == 10 + 3 * (1 + 8)


def test_plan_at_100000_leads_a_day_by_hand() -> None:
    a = Assumptions(run_seconds=2.0, pod_start_seconds=10.0, pod_start_cpu=4.0)
    needs = {need.component: need for need in plan(100_000, COSTS, a)}
    peak = 100_000 / 86_400 * 10  # 11.57 leads/s
    assert needs["API"].cores == pytest.approx(0.01 + 0.003 * peak)
    assert needs["API"].pods == 1
    assert needs["daemon"].pods == 1
    assert needs["daemon"].cores == pytest.approx(0.05 + 0.02 * peak)  # 0.28: under 0.6
    assert needs["daemon"].note == "singleton"
    # Little's law: runs arriving at `peak` a second, each holding a pod 12 s.
    assert needs["run pods"].pods == math.ceil(peak * 12)
    assert needs["run pods"].cores == pytest.approx(peak * (0.4 + 4.0))
    assert needs["PostgreSQL"].cores == pytest.approx((0.01 + 0.05 * peak) / 0.6)
    assert needs["PostgreSQL"].note == f"{connections(math.ceil(peak * 12), 1)} conns"


def test_a_daemon_past_its_share_of_a_core_is_called_saturated() -> None:
    heavy = {**COSTS, "daemon": Cost(per_lead=0.1, idle_cores=0.05)}
    needs = {need.component: need for need in plan(100_000, heavy, Assumptions())}
    assert needs["daemon"].pods == 1  # a singleton whatever the load
    assert needs["daemon"].note.startswith("SATURATED")


def test_batched_runs_need_fewer_pods_and_less_start_up_cpu() -> None:
    single = {n.component: n for n in plan(100_000, COSTS, Assumptions(leads_per_run=1))}
    batched = {n.component: n for n in plan(100_000, COSTS, Assumptions(leads_per_run=10))}
    assert batched["run pods"].pods < single["run pods"].pods
    assert batched["run pods"].cores < single["run pods"].cores


def test_import_hours_and_cores_at_a_quota_bound_pace() -> None:
    hours, cores = import_plan(100_000, 400, COSTS, Assumptions(utilisation=0.5))
    assert hours == pytest.approx(100_000 / 400 / 60)
    assert cores["run workers"] == pytest.approx(0.4 * 400 / 60 / 0.5)


def test_vendor_mix_counts_each_vendor_per_lead() -> None:
    calls = {
        "POST /crm/v3/objects/contacts/batch/upsert": 10,
        "POST /crm/v3/objects/companies/search": 5,
        "GET /crm/v3/owners/": 5,
        "POST /calendar/v3/freeBusy": 10,
        "GET /drive/v3/files": 20,
        "GET /gmail/v1/users/me/threads": 10,
        "POST /_sandbox/faults": 3,
    }
    mix = vendor_mix(calls, gmail_units=300, leads=10)
    assert mix == {
        "hubspot": 2.0,
        "hubspot_search": 0.5,
        "gmail_units": 30.0,
        "calendar": 1.0,
        "drive": 2.0,
    }


def test_quota_days_divide_each_limit_by_the_calls_a_lead_makes() -> None:
    days = quota_days({"hubspot": 5.0, "gmail_units": 30.0})
    assert days["HubSpot private app, Professional (650,000 a day)"] == 130_000
    assert days["HubSpot burst, 190 per 10 s, all day"] == pytest.approx(190 * 8640 / 5)
    assert days["Gmail 15,000 units/min per user, all day"] == pytest.approx(720_000)


@pytest.mark.parametrize(
    ("cmdline", "component"),
    [
        ("/v/bin/python -m sales_agent_pipeline.codeserver -h 127.0.0.1 -p 4000", "code server"),
        ("/v/bin/python -m sales_agent_sandbox --host 127.0.0.1", "sandbox"),
        ("/v/bin/python /v/bin/dagster-daemon run -w /app/workspace.yaml", "daemon"),
        ("/v/bin/python /v/bin/dagster-webserver -h 127.0.0.1 -p 3000", "webserver"),
        ("/v/bin/python -m sales_agent_pipeline.webserver -h 0.0.0.0 -p 3000", "webserver"),
        ("/v/bin/python /v/bin/uvicorn sales_agent_api.app:create_app --factory", "API"),
        ("/v/bin/python /v/bin/sales-agent up", "supervisor"),
    ],
)
def test_each_process_of_the_stack_lands_in_its_component(cmdline: str, component: str) -> None:
    assert classify(cmdline) == component


def test_dequeue_rate_spans_first_creation_to_last_start() -> None:
    runs: list[dict[str, Any]] = [
        {"creationTime": 100.0, "startTime": 101.0, "endTime": 102.0},
        {"creationTime": 100.5, "startTime": 103.0, "endTime": 104.5},
        {"creationTime": 100.2, "startTime": 105.0, "endTime": None},
        {"creationTime": 99.0, "startTime": None, "endTime": None},  # never started
    ]
    rate, span = dequeue_rate(runs)
    assert rate == pytest.approx(3 / 6)
    assert span == pytest.approx(6.0)
    # Only finished runs have a wall time: (1 + 1.5) / 2 and waits (1 + 2.5) / 2.
    wall, waited = run_figures(runs)
    assert wall == pytest.approx(1.25)
    assert waited == pytest.approx(1.75)
