"""The dead-letter queue's re-drive schedule as DLQ_REDRIVE_DELAYS writes it."""

from datetime import timedelta

import pytest
from pydantic import ValidationError

from sales_agent_pipeline.domain.redrive import parse_delays
from sales_agent_pipeline.settings import Settings


def test_the_default_schedule_grows_to_a_day_and_lasts_about_two() -> None:
    delays = Settings(_env_file=None).dlq_redrive_delays
    assert delays[0] == timedelta(minutes=1)
    assert delays[-1] == timedelta(hours=24)
    assert list(delays) == sorted(delays)
    assert timedelta(days=1.5) < sum(delays, timedelta()) < timedelta(days=3)


def test_units_and_plain_seconds_are_read() -> None:
    assert parse_delays("90s, 2m,1.5h,1d,30") == (
        timedelta(seconds=90),
        timedelta(minutes=2),
        timedelta(hours=1.5),
        timedelta(days=1),
        timedelta(seconds=30),
    )
    assert parse_delays("") == ()


@pytest.mark.parametrize("bad", ["0m", "-1m", "5 minutes", "1w", "m"])
def test_a_part_that_is_not_a_positive_duration_is_named(
    bad: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DLQ_REDRIVE_DELAYS", f"1m,{bad}")
    with pytest.raises(ValidationError, match=repr(bad.strip().lower())):
        Settings(_env_file=None)


def test_the_schedule_is_bounded() -> None:
    with pytest.raises(ValueError, match="at most 20 re-drives"):
        parse_delays(",".join(["1m"] * 21))
