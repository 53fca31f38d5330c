"""The rules of exactly-once writes: which failures wrote nothing, when a record may be
written, looked for or must wait, and how the look-ups space out over the lag window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sales_agent_pipeline.domain.effects import (
    Found,
    Move,
    NotSent,
    judge,
    lookup_wait,
    nothing_written,
)
from sales_agent_pipeline.domain.enums import IdempotencyStatus
from sales_agent_pipeline.domain.errors import (
    BreakerOpen,
    ConfigurationError,
    PermanentError,
    TransientError,
    WriteInProgress,
)

NOW = datetime(2026, 11, 24, 9, tzinfo=UTC)


@pytest.mark.parametrize(
    ("error", "written"),
    [
        (PermanentError("400 bad owner", http_status=400), False),
        (ConfigurationError("401", http_status=401), False),
        (TransientError("429", http_status=429), False),
        (NotSent("client-side limit full"), False),
        (BreakerOpen("crm", "open", retry_after_seconds=30), False),
        (WriteInProgress("leased"), False),
        (TransientError("HubSpot 502", http_status=502), True),
        (TransientError("timed out"), True),
        (ValueError("answer we could not read"), True),
    ],
)
def test_only_refusals_and_calls_never_made_surely_wrote_nothing(
    error: Exception, written: bool
) -> None:
    assert nothing_written(error) is not written


def found(**fields: object) -> Found:
    values: dict[str, object] = {
        "status": IdempotencyStatus.PENDING,
        "lease_owner": None,
        "lease_expires_at": None,
        "write_attempts": 0,
        "uncertain_since": None,
        "last_change": NOW - timedelta(minutes=1),
    }
    values.update(fields)
    return Found(**values)  # type: ignore[arg-type]


def test_the_move_depends_on_status_lease_and_calls_made() -> None:
    live = NOW + timedelta(minutes=5)
    assert judge(found(status=IdempotencyStatus.COMPLETED), "a", NOW).move is Move.DONE
    busy = judge(found(lease_owner="b", lease_expires_at=live, write_attempts=1), "a", NOW)
    assert (busy.move, busy.lease_left) == (Move.BUSY, 300.0)
    # The same owner, or an expired lease: taken over, and a call made is looked for.
    mine = judge(found(lease_owner="a", lease_expires_at=live, write_attempts=1), "a", NOW)
    assert (mine.move, mine.since) == (Move.LOOK, NOW - timedelta(minutes=1))
    expired = found(lease_owner="b", lease_expires_at=NOW, write_attempts=1, uncertain_since=NOW)
    assert (judge(expired, "a", NOW).move, judge(expired, "a", NOW).since) == (Move.LOOK, NOW)
    assert judge(found(status=IdempotencyStatus.FAILED, write_attempts=3), "a", NOW).move is (
        Move.WRITE
    )
    assert judge(found(), "a", NOW).move is Move.WRITE  # never called


def test_look_ups_space_out_and_end_with_the_window() -> None:
    waits = []
    age = 0.0
    while (wait := lookup_wait(NOW, NOW + timedelta(seconds=age), 300)) is not None:
        waits.append(wait)
        age += wait
    assert waits[0] == 2.0
    assert waits == sorted(waits[:-1]) + waits[-1:]  # growing, but for the last
    assert 300 <= age <= 302
    assert len(waits) <= 10  # a few searches over five minutes, not one a second
