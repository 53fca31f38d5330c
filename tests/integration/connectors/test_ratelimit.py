"""Client-side limits shared by threads: the sandbox counts what actually arrived."""

from __future__ import annotations

import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import delete

from sales_agent_pipeline.connectors.factory import build_crm, build_mail, hubspot_quota_key
from sales_agent_pipeline.connectors.ratelimit import (
    HUBSPOT_SEARCH_WINDOW_SECONDS,
    HUBSPOT_WINDOW_SECONDS,
    QuotaUnits,
)
from sales_agent_pipeline.db.models import QuotaBucket
from sales_agent_pipeline.db.quota import PostgresQuota
from sales_agent_pipeline.db.session import make_engine
from sales_agent_pipeline.domain.models import OutgoingMail


def _calls(admin) -> dict:
    return admin.state("calls")["calls"]


def _peak(calls: dict) -> int:
    # Newer sandboxes also count calls they rejected; older ones only admitted calls.
    peaks = calls.get("peakAttemptsInWindow") or calls["peakInWindow"]
    return max(int(v) for v in peaks.values())


def test_500_calls_from_8_threads_stay_inside_the_window(make_settings, admin):
    ours = 250
    # The server allows a little more than we do: any overrun would show as a 429.
    admin.config(rate_limit_max=ours + 10, search_per_second=100)
    crm = build_crm(make_settings(hubspot_requests_per_10s=ours), throttle_attempts=1)
    contact = crm.upsert_contact("jane@acme.example", {"firstname": "Jane"})

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda _: crm.get_contact(contact.id), range(499)))
    elapsed = time.monotonic() - started

    assert len(results) == 499
    assert all(r.id == contact.id for r in results)
    calls = _calls(admin)
    assert calls["rejected"] == {}
    assert _peak(calls) <= ours
    # 500 calls at 250 per 10 s: the second half had to wait for the window to roll.
    assert elapsed >= 9.5


def test_searches_keep_to_the_per_second_limit(make_settings, admin):
    admin.config(rate_limit_max=1000, search_per_second=4)
    crm = build_crm(make_settings(hubspot_searches_per_second=4), throttle_attempts=1)
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=4) as pool:
        found = list(pool.map(lambda i: crm.find_company_by_name(f"Nobody {i}"), range(13)))
    elapsed = time.monotonic() - started
    assert found == [None] * 13
    assert "SECONDLY" not in _calls(admin)["rejected"]
    assert elapsed >= 3.0


def test_gmail_quota_units_are_shared_by_threads(make_settings, admin):
    # 5 units/s is a budget of 300 units a window; a 2-s window keeps the test short.
    quota = QuotaUnits(5, window_seconds=2.0)
    mail = build_mail(make_settings(), quota=quota)
    message = OutgoingMail(to=("pat@prospect.example",), subject="Hi", text_body="Hello")
    started = time.monotonic()

    def send(_: int) -> tuple[str, float]:
        sent = mail.send_message(message)
        return sent.message_id, time.monotonic() - started

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(send, range(4)))
    assert len({message_id for message_id, _ in results}) == 4
    finished = sorted(at for _, at in results)
    # Three 100-unit sends fit the budget at once; the fourth waits for the first to leave
    # the window, however the threads were scheduled.
    assert finished[2] < 1.5
    assert finished[3] >= 2.0


def test_two_processes_share_the_portals_10s_window_through_the_database(
    make_settings, admin, database_url
):
    ours = 20
    # The server allows a little more than we do: any overrun would show as a 429.
    admin.config(rate_limit_max=ours + 5, search_per_second=2)
    settings = make_settings(hubspot_requests_per_10s=ours, hubspot_searches_per_second=2)
    key = f"test:{hubspot_quota_key(settings)}:{uuid.uuid4().hex[:8]}"
    # Two engines with pools of their own and two CRMs: two run processes of one portal.
    engines = [make_engine(database_url, pool_size=4) for _ in range(2)]
    try:
        crms = [
            build_crm(
                settings,
                throttle_attempts=1,
                quotas=(
                    PostgresQuota(
                        engine, key=key, limit=ours, window_seconds=HUBSPOT_WINDOW_SECONDS
                    ),
                    PostgresQuota(
                        engine,
                        key=f"{key}:search",
                        limit=2,
                        window_seconds=HUBSPOT_SEARCH_WINDOW_SECONDS,
                    ),
                ),
            )
            for engine in engines
        ]
        contact = crms[0].upsert_contact("jane@acme.example", {"firstname": "Jane"})
        started = time.monotonic()
        with ThreadPoolExecutor(max_workers=6) as pool:
            # Six searches (two a second between both processes) among 29 reads.
            found = list(
                pool.map(
                    lambda i: (
                        crms[i % 2].find_company_by_name(f"Nobody {i}")
                        if i % 5 == 0
                        else crms[i % 2].get_contact(contact.id)
                    ),
                    range(29),
                )
            )
        elapsed = time.monotonic() - started
    finally:
        with engines[0].begin() as conn:
            conn.execute(delete(QuotaBucket).where(QuotaBucket.key.in_([key, f"{key}:search"])))
        for engine in engines:
            engine.dispose()

    assert [c.id for i, c in enumerate(found) if i % 5] == [contact.id] * 23
    assert [c for i, c in enumerate(found) if i % 5 == 0] == [None] * 6
    calls = _calls(admin)
    # Neither the 10-s window nor the searches' second was overrun.
    assert calls["rejected"] == {}
    assert _peak(calls) <= ours
    # 30 calls at 20 per window: the last ten waited for the first ones to leave it, though
    # each process alone made only 15.
    assert elapsed >= 9.5
