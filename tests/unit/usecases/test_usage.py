"""The usage report's pure parts: the default range and the totals over its days."""

from __future__ import annotations

from datetime import date

from sales_agent_pipeline.db.repositories.usage import UsageDay
from sales_agent_pipeline.usecases.usage import DEFAULT_DAYS, default_range, totals

TODAY = date(2026, 11, 30)


def test_the_default_range_ends_today_and_covers_thirty_days() -> None:
    assert default_range(None, None, TODAY) == (date(2026, 11, 1), TODAY)
    assert (TODAY - default_range(None, None, TODAY)[0]).days + 1 == DEFAULT_DAYS
    # A last day given moves the default first day with it; given days are kept as they are.
    assert default_range(None, date(2026, 10, 31), TODAY) == (date(2026, 10, 2), date(2026, 10, 31))
    assert default_range(date(2026, 11, 20), None, TODAY) == (date(2026, 11, 20), TODAY)
    assert default_range(date(2026, 12, 5), None, TODAY) == (date(2026, 12, 5), TODAY)


def test_totals_sum_every_counter_key_by_key_dated_with_the_first_day() -> None:
    days = [
        UsageDay(
            date(2026, 11, 1),
            leads_received=3,
            workflows={"succeeded": 2, "failed": 1},
            drafts=2,
            vendor_calls={"hubspot": 10},
            quota_units={"gmail": 30},
        ),
        UsageDay(date(2026, 11, 2)),
        UsageDay(
            date(2026, 11, 3),
            leads_received=1,
            workflows={"succeeded": 1, "rejected": 0},
            drafts=1,
            sends=1,
            tasks=2,
            vendor_calls={"hubspot": 5, "google": 7},
        ),
    ]
    assert totals(days) == UsageDay(
        date(2026, 11, 1),
        leads_received=4,
        workflows={"succeeded": 3, "failed": 1, "rejected": 0},
        drafts=3,
        sends=1,
        tasks=2,
        vendor_calls={"hubspot": 15, "google": 7},
        quota_units={"gmail": 30},
    )
    assert totals([UsageDay(TODAY)]) == UsageDay(TODAY)
