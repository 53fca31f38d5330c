"""Usage: the report's default range and totals, and the meters' counts written once, or
kept in the meters when the write fails."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import cast

import pytest
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from sales_agent_pipeline.connectors.metering import GMAIL_QUOTA_UNITS, HUBSPOT_CALLS, UsageMeter
from sales_agent_pipeline.db.repositories.usage import UsageDay
from sales_agent_pipeline.usecases.usage import DEFAULT_DAYS, default_range, record_usage, totals

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


class Transactions:
    """Stands in for the database: counts the transactions opened and the statements run."""

    def __init__(self, fail: bool = False) -> None:
        self.opened = 0
        self.statements: list[object] = []
        self.fail = fail

    @contextmanager
    def __call__(self) -> Iterator[Session]:
        self.opened += 1
        if self.fail:
            raise OperationalError("INSERT", {}, Exception("connection refused"))
        yield cast(Session, self)

    def execute(self, statement: object) -> None:
        self.statements.append(statement)


def test_usage_is_recorded_in_one_transaction_and_only_when_counted() -> None:
    first, second, idle = UsageMeter(), UsageMeter(), UsageMeter()
    first.add(HUBSPOT_CALLS, 3)
    second.add(GMAIL_QUOTA_UNITS, 100)
    meters = {uuid.uuid4(): first, uuid.uuid4(): second, uuid.uuid4(): idle}
    database = Transactions()
    record_usage(database, meters)
    assert (database.opened, len(database.statements)) == (1, 2)
    assert first.drain() == second.drain() == {}
    # Nothing counted since: no transaction at all.
    record_usage(database, meters)
    assert database.opened == 1


def test_counts_a_failed_write_could_not_keep_go_back_to_their_meters() -> None:
    meter = UsageMeter()
    meter.add(HUBSPOT_CALLS, 2)
    with pytest.raises(OperationalError):
        record_usage(Transactions(fail=True), {uuid.uuid4(): meter})
    meter.add(HUBSPOT_CALLS)
    assert meter.drain() == {HUBSPOT_CALLS: 3}
