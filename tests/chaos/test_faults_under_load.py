"""Faults while leads flow: one `sales-agent up`, a bulk import running underneath (100
leads; CHAOS_IMPORT_LEADS=1000 for the issue's figure), live leads and HubSpot-style
re-deliveries during each fault. Each scenario ends with the
same check (invariants.check_exactly_once) on the leads it acknowledged; the last one
checks every lead of the module and the import.

The scenarios run in this order on one stack (a stack per scenario would cost its start-up
each time, beyond the suite's budget): each leaves the stack healthy for the next.
`make chaos` runs them; docs/reliability.md lists each with its measured result.
"""

from __future__ import annotations

import os
import time
import uuid
from collections import Counter

import httpx
import pytest
from sqlalchemy.engine import Engine

from tests.chaos.invariants import check_exactly_once, open_workflows
from tests.chaos.load import LiveLeads, deliver_concurrently, lead_email
from tests.chaos.processes import SERVICES, Respawner
from tests.e2e.conftest import RunningStack
from tests.e2e.test_import_flow import admin_key, wait_import

pytestmark = [pytest.mark.e2e, pytest.mark.chaos]

__all__ = ["admin_key"]

# The issue asks for 1,000 leads (CHAOS_IMPORT_LEADS=1000, a multiple of 25): on two
# shared cores the import ran at ~60 leads/min under these faults, 17 minutes, far past
# the suite's budget; in CI, beside the other tests, 300 ran at ~25/min and did not finish
# in time. 100 finish while the scenarios run.
IMPORT_LEADS = int(os.environ.get("CHAOS_IMPORT_LEADS", "100"))
TAG = uuid.uuid4().hex[:6]
# Seconds the sandbox's search (HubSpot's index, Gmail's q=) trails its writes, from the
# storm to the end of the module.
SEARCH_LAG = 25


@pytest.fixture(scope="module")
def ledger() -> dict[str, str]:
    """Every webhook submission the module's scenarios got a 202 for: id -> email."""
    return {}


@pytest.fixture(scope="module")
def bulk_import(stack: RunningStack, admin_key: dict[str, str]) -> tuple[str, list[str]]:
    """A CSV of IMPORT_LEADS leads (25 per company) posted at the module's start; its id
    and its rows' emails. It runs underneath every scenario."""
    emails = [
        f"imp{n}.{TAG}@importco{n % (IMPORT_LEADS // 25)}-{TAG}.example"
        for n in range(IMPORT_LEADS)
    ]
    rows = [f"{address},Sam{n},Lee,Import Co {n % 40}" for n, address in enumerate(emails)]
    csv = "email,first name,last name,company\n" + "\n".join(rows) + "\n"
    answer = httpx.post(
        f"{stack.api}/api/imports",
        files={"file": ("leads.csv", csv.encode(), "text/csv")},
        headers=admin_key,
        timeout=60,
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["rows_accepted"] == IMPORT_LEADS
    return answer.json()["import_id"], emails


def services_alive(respawner: Respawner) -> list[str]:
    """The stack's services that have no live process."""
    dead = []
    for name in SERVICES:
        try:
            respawner.service(name)
        except LookupError:
            dead.append(name)
    return dead


def test_sigkill_of_a_run_worker_the_api_the_daemon_and_the_code_server_under_load(
    stack: RunningStack,
    engine: Engine,
    respawner: Respawner,
    bulk_import: tuple[str, list[str]],
    ledger: dict[str, str],
) -> None:
    with LiveLeads(stack, f"kill{TAG}") as leads:
        deadline = time.monotonic() + 60
        while not (workers := respawner.run_workers()):
            assert time.monotonic() < deadline, "no run worker started"
            time.sleep(0.2)
        # A run worker mid-run: the code server marks its run failed, the stuck-work sensor
        # re-queues its leads. Nothing restarts a run worker; the next run gets a new one.
        workers[0].kill()
        time.sleep(3)
        # `up` starts each again; the others run on meanwhile.
        respawner.wait_for_demo()
        down = {}
        for name in ("api", "dagster-daemon", "code-server"):
            down[name] = round(respawner.kill_and_wait(name), 1)
            time.sleep(3)
        time.sleep(2)
    ledger.update(leads.acknowledged)
    outcome = check_exactly_once(stack, engine, leads.acknowledged, timeout=300)
    print(f"kills (seconds down {down}): {leads.summary()}; {outcome.summary()}")
    assert not outcome.problems, outcome.summary()
    assert services_alive(respawner) == []


def test_postgresql_restart_under_load(
    stack: RunningStack, engine: Engine, respawner: Respawner, ledger: dict[str, str]
) -> None:
    with LiveLeads(stack, f"pg{TAG}") as leads:
        time.sleep(5)
        respawner.restart_postgres(down_for=5)
        time.sleep(10)
    ledger.update(leads.acknowledged)
    outcome = check_exactly_once(stack, engine, leads.acknowledged, timeout=300)
    print(f"postgres: {leads.summary()}; {outcome.summary()}")
    assert not outcome.problems, outcome.summary()
    assert services_alive(respawner) == []


STORM = [
    # First (the first matching rule answers): writes that commit but answer 500, the
    # uncertain writes: HubSpot's creates and Gmail's drafts (and drafts.send).
    {
        "pathPattern": "*/gmail/v1/users/*/drafts*",
        "method": "POST",
        "status": 500,
        "afterCommit": True,
        "probability": 0.3,
        "count": None,
    },
    {
        "pathPattern": "/crm/*",
        "method": "POST",
        "status": 500,
        "afterCommit": True,
        "probability": 0.15,
        "count": None,
    },
    # Then HubSpot's rate limits and Gmail's backend errors on anything.
    {"pathPattern": "/crm/*", "status": 429, "probability": 0.2, "count": None, "retryAfter": 1},
    {"pathPattern": "*/gmail/v1/*", "status": 503, "probability": 0.2, "count": None},
]


def test_429_and_5xx_storm_with_search_lag(
    stack: RunningStack, engine: Engine, ledger: dict[str, str]
) -> None:
    config = httpx.patch(
        f"{stack.sandbox}/_sandbox/config", json={"search_lag_seconds": SEARCH_LAG}, timeout=10
    )
    assert config.status_code == 200, config.text
    with LiveLeads(stack, f"storm{TAG}") as leads:
        for rule in STORM:
            added = httpx.post(f"{stack.sandbox}/_sandbox/faults", json=rule, timeout=10)
            assert added.status_code == 201, added.text
        time.sleep(40)
        hits = {
            r["pattern"] + str(r["status"]): r["hits"]
            for r in httpx.get(f"{stack.sandbox}/_sandbox/faults", timeout=10).json()["rules"]
        }
        httpx.delete(f"{stack.sandbox}/_sandbox/faults", timeout=10)
        time.sleep(5)
    ledger.update(leads.acknowledged)
    outcome = check_exactly_once(stack, engine, leads.acknowledged, timeout=300)
    print(f"storm: {len(leads.acknowledged)} leads, fault hits {hits}; {outcome.summary()}")
    assert all(hits.values()), f"a storm rule never fired: {hits}"
    assert not outcome.problems, outcome.summary()


SEND_CAP = 10


def test_send_mode_with_uncertain_sends_keeps_the_daily_cap_and_sends_each_lead_once(
    stack: RunningStack, engine: Engine, admin_key: dict[str, str], ledger: dict[str, str]
) -> None:
    # The demo tenant sends (the import's leads too, meanwhile) with a cap of SEND_CAP a
    # day; half of drafts.send calls answer 500 after sending, with search lag still on.
    settings = f"{stack.api}/api/admin/settings"
    changed = httpx.put(
        settings, json={"mode": "SEND", "daily_send_cap": SEND_CAP}, headers=admin_key, timeout=30
    )
    assert changed.status_code == 200, changed.text
    rule = {
        "pathPattern": "*/gmail/v1/users/*/drafts/send",
        "method": "POST",
        "status": 500,
        "afterCommit": True,
        "probability": 0.5,
        "count": None,
    }
    try:
        assert httpx.post(f"{stack.sandbox}/_sandbox/faults", json=rule, timeout=10).is_success
        fresh = {str(uuid.uuid4()): lead_email(f"send{TAG}", n) for n in range(2 * SEND_CAP)}
        answers = deliver_concurrently(stack, fresh, times=1)
        ledger.update(fresh)
        outcome = check_exactly_once(stack, engine, fresh, timeout=300)
    finally:
        httpx.delete(f"{stack.sandbox}/_sandbox/faults", timeout=10)
        httpx.put(settings, json={"mode": None}, headers=admin_key, timeout=30)
    sent = httpx.get(f"{stack.sandbox}/_sandbox/sent", timeout=30).json()
    print(f"send: {answers}, {len(sent)} sent; {outcome.summary()}")
    assert set(answers) == {202}, answers
    assert not outcome.problems, outcome.summary()
    assert len(sent) == SEND_CAP


def test_hubspot_style_redeliveries_create_nothing_twice(
    stack: RunningStack, engine: Engine, ledger: dict[str, str]
) -> None:
    # Every lead acknowledged so far, twice more at once; and new leads delivered three
    # times at once (a retry racing the first delivery).
    fresh = {str(uuid.uuid4()): lead_email(f"dup{TAG}", n) for n in range(20)}
    answers: Counter[int] = deliver_concurrently(stack, {**ledger, **fresh}, times=2)
    answers += deliver_concurrently(stack, fresh, times=1)
    assert set(answers) <= {200, 202}, answers
    ledger.update(fresh)
    outcome = check_exactly_once(stack, engine, ledger, timeout=300)
    print(f"re-deliveries: {answers}; {outcome.summary()}")
    assert not outcome.problems, outcome.summary()


def test_after_every_fault_each_acknowledged_lead_and_imported_row_ran_exactly_once(
    stack: RunningStack,
    engine: Engine,
    admin_key: dict[str, str],
    bulk_import: tuple[str, list[str]],
    ledger: dict[str, str],
) -> None:
    import_id, emails = bulk_import
    progress = wait_import(stack, admin_key, import_id)["progress"]
    outcome = check_exactly_once(stack, engine, ledger, emails, timeout=300)
    print(f"import {progress}; all: {outcome.summary()}")
    assert not outcome.problems, outcome.summary()
    assert progress["done"] == IMPORT_LEADS
    assert open_workflows(engine) == Counter()
    companies = httpx.get(f"{stack.sandbox}/_sandbox/state?section=hubspot", timeout=60).json()
    domains = Counter(
        company["properties"].get("domain")
        for portal in companies["hubspot"]["portals"].values()
        for company in portal["objects"].get("companies", [])
    )
    assert [d for d, n in domains.items() if n > 1 and TAG in (d or "")] == []
