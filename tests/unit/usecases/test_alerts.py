"""The alert rules that need no database: keys that stay stable and bounded, when dead letters
alert, links into the Dagster UI, and the canary's interval read from its cron."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sales_agent_pipeline.usecases.alerting import Report
from sales_agent_pipeline.usecases.alerts import (
    Links,
    cron_interval,
    dead_letter_alerts,
    run_failed,
)

LINKS = Links("https://dagster.example.test/")
WHEN = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def test_a_run_failure_is_keyed_by_job_and_tenant_never_by_run() -> None:
    first = run_failed(
        job="process_formlead",
        tenant="1000",
        run_id="run-a",
        failed_at=WHEN,
        message="Execution of run failed.",
        links=LINKS,
    )
    second = run_failed(
        job="process_formlead",
        tenant="1000",
        run_id="run-b",
        failed_at=WHEN + timedelta(minutes=1),
        message=None,
        links=LINKS,
    )
    mixed = run_failed(
        job="process_formlead",
        tenant=None,
        run_id="run-c",
        failed_at=WHEN,
        message=None,
        links=LINKS,
    )
    assert first.key == second.key == "run-failed:process_formlead:1000"
    assert mixed.key == "run-failed:process_formlead:all"
    assert first.link == "https://dagster.example.test/runs/run-a"
    assert "run-a" not in first.key
    assert first.details["failed_at"] == WHEN.isoformat()
    assert first.severity == "error"


def test_dead_letters_alert_when_they_rise_and_stay_until_none_is_left() -> None:
    def keys(counts: dict[int, int], previous: dict[int, int], firing: set[str]) -> list[str]:
        return [a.key for a in dead_letter_alerts(counts, previous, firing, LINKS)]

    assert keys({1000: 2}, {1000: 0}, set()) == ["dead-letters:1000"]
    assert keys({1000: 2}, {}, set()) == ["dead-letters:1000"]  # unknown before: from none
    assert keys({1000: 2}, {1000: 2}, set()) == []  # not growing, not firing
    assert keys({1000: 1}, {1000: 2}, {"dead-letters:1000"}) == ["dead-letters:1000"]
    assert keys({}, {1000: 2}, {"dead-letters:1000"}) == []  # none left: it clears
    assert keys({1000: 3, 2000: 1}, {1000: 3, 2000: 0}, set()) == ["dead-letters:2000"]
    [alert] = dead_letter_alerts({1000: 3}, {1000: 1}, set(), LINKS)
    assert alert.details == {"portal_id": 1000, "dead_letters": 3, "previous": 1}
    assert (
        alert.link
        == "https://dagster.example.test/locations/sales_agent_pipeline/jobs/replay_dead_letters"
    )


@pytest.mark.parametrize(
    ("cron", "minutes"),
    [
        ("*/10 * * * *", 10),
        ("*/7 * * * *", 7),  # :56 to :00 is 4 minutes, :49 to :56 is 7
        ("5 * * * *", 60),
        ("0,30 9-17 * * *", 15 * 60 + 30),  # 17:30 to 09:00 the next day
        ("15 3 * * *", 24 * 60),
        ("*/5 */2 * * *", 65),  # 00:55 to 02:00
    ],
)
def test_the_canary_interval_is_the_longest_gap_of_its_cron(cron: str, minutes: int) -> None:
    assert cron_interval(cron) == timedelta(minutes=minutes)


@pytest.mark.parametrize(
    "cron", ["0 9 * * 1-5", "0 0 1 * *", "@hourly", "*/0 * * * *", "61 * * * *", "a b c d e"]
)
def test_a_cron_without_a_daily_pattern_has_no_interval(cron: str) -> None:
    assert cron_interval(cron) is None


def test_links_point_into_the_dagster_ui() -> None:
    assert LINKS.run("abc") == "https://dagster.example.test/runs/abc"
    assert LINKS.workflow("w-1") == (
        "https://dagster.example.test/assets/lead_followup?view=partitions&partition=w-1"
    )
    assert (
        LINKS.sensor("s") == "https://dagster.example.test/locations/sales_agent_pipeline/sensors/s"
    )


def test_a_report_says_what_a_tick_did() -> None:
    report = Report(opened=["a"], sent=["slack trigger a", "pagerduty trigger a"])
    report.merge(Report(failed=["pagerduty resolve b: HTTP 429"], cleared=[]))
    assert report.line() == (
        "1 opened, 0 cleared, 2 notification(s) sent, 1 failed (sent again next tick)"
    )
