"""The per-process usage counters of the vendor calls."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from sales_agent_pipeline.connectors.metering import UsageMeter


def test_a_meter_counts_from_many_threads_and_drains_once() -> None:
    meter = UsageMeter()

    def calls(_: int) -> None:
        for _ in range(1000):
            meter.add("vendor_calls.hubspot")
            meter.add("quota_units.gmail", 10)
        meter.add("vendor_calls.google", 0)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(calls, range(8)))
    assert meter.drain() == {"vendor_calls.hubspot": 8000, "quota_units.gmail": 80000}
    assert meter.drain() == {}
    meter.restore({"vendor_calls.hubspot": 3})
    meter.add("vendor_calls.hubspot")
    assert meter.drain() == {"vendor_calls.hubspot": 4}
