"""Exactly-once external writes: when a write may run, must be looked for, or must wait.

The rules, judged on an idempotency record as an attempt finds it under its row lock, and
the one flow that applies them (`run_once`). PostgreSQL keeps the records in production
(db/effects.py), a dict in the unit tests (tests/fakes/effects.py): both run this flow, so
the tests exercise the rules the product uses.

A write is uncertain once a call for it ended without an answer we can trust (a timeout, a
5xx after the vendor committed, a crash): the object may exist. Before any new write it is
looked up by its marker; vendors' search indexes trail their writes (HubSpot's by seconds
to minutes), so a miss only counts once the lag window has passed since the write.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Generic, Protocol, TypeVar

from pydantic import BaseModel

from sales_agent_pipeline.domain.enums import IdempotencyStatus
from sales_agent_pipeline.domain.errors import (
    BreakerOpen,
    ConfigurationError,
    PermanentError,
    TransientError,
    WriteInProgress,
)

M = TypeVar("M", bound=BaseModel)
R = TypeVar("R")

# Longer than any one vendor call can take (timeouts, 429 waits, a token refresh), so a
# live attempt never loses its lease; a crashed one frees it after this long.
DEFAULT_LEASE_SECONDS = 600.0
# How long a vendor's search may miss an object written before it (HubSpot: seconds to
# minutes), with margin.
DEFAULT_LAG_WINDOW_SECONDS = 300.0
# The first look-up of an uncertain write comes this soon, each later one about twice as
# long after the write as the one before.
FIRST_LOOKUP_SECONDS = 2.0


class NotSent(TransientError):
    """A transient failure before the request left (a client-side rate limit stayed full):
    the vendor cannot have written anything, so the write is not uncertain."""


class Unreachable(NotSent):
    """The vendor could not be reached at all (the connection was refused or could not be
    made): no byte of the request left, so nothing was written, but unlike our own limits
    it does say the vendor is down (its circuit breaker counts it)."""


@dataclass(frozen=True)
class EffectPolicy:
    """A write's lease, and how long an uncertain write is looked for before another."""

    lease_seconds: float = DEFAULT_LEASE_SECONDS
    lag_window_seconds: float = DEFAULT_LAG_WINDOW_SECONDS


class Move(StrEnum):
    """What an attempt does with the record it opened."""

    DONE = "done"  # completed earlier: return the stored result
    BUSY = "busy"  # another owner's live lease: retry later, never write
    WRITE = "write"  # nothing can exist (new, refused, never called): write now
    LOOK = "look"  # an earlier call may have written: look for the object first


@dataclass(frozen=True)
class Found:
    """An idempotency record as an attempt finds it."""

    status: IdempotencyStatus
    lease_owner: str | None
    lease_expires_at: datetime | None
    write_attempts: int
    uncertain_since: datetime | None
    # When the record last changed: for a call that crashed, the moment it was counted.
    last_change: datetime


@dataclass(frozen=True)
class Opened:
    """The attempt's move, decided and applied (lease taken, attempt counted) in the
    transaction that opened the record."""

    move: Move
    now: datetime
    stored: dict[str, Any] | None = None
    # BUSY: seconds left of the other lease. LOOK: when the write became uncertain.
    lease_left: float = 0.0
    since: datetime | None = None


def judge(found: Found, owner: str, now: datetime) -> Opened:
    """The move for an existing record (a new one is always WRITE)."""
    if found.status is IdempotencyStatus.COMPLETED:
        return Opened(Move.DONE, now)
    expires = found.lease_expires_at
    if found.lease_owner != owner and expires is not None and expires > now:
        return Opened(Move.BUSY, now, lease_left=(expires - now).total_seconds())
    if found.status is IdempotencyStatus.PENDING and found.write_attempts > 0:
        return Opened(Move.LOOK, now, since=found.uncertain_since or found.last_change)
    # Failed (the vendor refused: nothing exists) or never called (made, then a crash).
    return Opened(Move.WRITE, now)


def lookup_wait(since: datetime, now: datetime, window_seconds: float) -> float | None:
    """After a look-up that missed: seconds to wait before the next one, or None when the
    lag window has passed and the object surely does not exist.

    The waits grow with the write's age (about doubling it), so a short index lag is
    caught soon and a long one costs few searches; the last comes just after the window.
    """
    age = (now - since).total_seconds()
    left = window_seconds - age
    if left <= 0:
        return None
    return min(left + 1.0, max(FIRST_LOOKUP_SECONDS, age))


def nothing_written(error: BaseException) -> bool:
    """True when the failed call surely wrote nothing: a refusal (4xx), bad credentials, a
    429, or a call never made (breaker open, another attempt's lease, a full client-side
    limit). Anything else (a timeout, a 5xx, an unknown error) may have written."""
    if isinstance(error, PermanentError | ConfigurationError | NotSent):
        return True
    if isinstance(error, BreakerOpen | WriteInProgress):
        return True
    # 429, or Google's rate-limit 403 (classified transient): refused before any work.
    return isinstance(error, TransientError) and error.http_status in (429, 403)


@dataclass(frozen=True)
class BatchWrite(Generic[R]):
    """What one batch write did, by each input's key (its trace id).

    `created` holds results matched to their input by trace id only; `refused` the inputs
    the vendor refused (nothing written) with its reason. An input in neither may or may
    not exist (an unmatched result, a per-item server error, a timeout): it is uncertain.
    """

    created: dict[str, R] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)


class EffectRecord(Protocol):
    """One (scope, key) record in its store, as one attempt sees it."""

    def open(self) -> Opened:
        """Create or lock the record and apply the move judged on it, in one transaction:
        WRITE takes the lease and counts the call, LOOK takes the lease."""
        ...

    def attempt(self) -> None:
        """A look-up found nothing past the lag window: count the call about to be made."""
        ...

    def complete(self, result: dict[str, Any]) -> None:
        """Store the result and free the lease."""
        ...

    def fail(self, message: str) -> None:
        """Nothing was written: mark the record failed (a later attempt writes) and free it."""
        ...

    def uncertain(self) -> None:
        """The call may have written: note since when, and free the lease."""
        ...

    def release(self) -> None:
        """Free the lease without changing anything else."""
        ...


def _in_progress(message: str, seconds: float) -> WriteInProgress:
    return WriteInProgress(message, retry_after_seconds=max(1.0, seconds))


def run_once(
    record: EffectRecord,
    action: Callable[[], M],
    *,
    model: type[M],
    recover: Callable[[], M | None] | None,
    policy: EffectPolicy,
    what: str,
) -> M:
    """Run `action` unless the record says it ran; look an uncertain write up first.

    Without `recover` an uncertain write cannot be looked for and is written again.
    """
    opened = record.open()
    if opened.move is Move.DONE:
        return model.model_validate(opened.stored)
    if opened.move is Move.BUSY:
        # A live attempt mostly ends within seconds: ask again about as long after as it
        # has held the lease, never later than the lease's end (a crashed holder's).
        held = policy.lease_seconds - opened.lease_left
        retry = min(opened.lease_left, max(FIRST_LOOKUP_SECONDS, held))
        raise _in_progress(f"{what}: another attempt is writing it", retry)
    if opened.move is Move.LOOK and recover is not None:
        try:
            found = recover()
        except BaseException:
            record.release()
            raise
        if found is not None:
            record.complete(found.model_dump(mode="json"))
            return found
        assert opened.since is not None
        wait = lookup_wait(opened.since, opened.now, policy.lag_window_seconds)
        if wait is not None:
            record.release()
            raise _in_progress(f"{what}: an earlier write may exist, not found yet", wait)
    if opened.move is Move.LOOK:
        record.attempt()
    try:
        result = action()
    except Exception as exc:
        if nothing_written(exc):
            record.fail(str(exc))
        else:
            record.uncertain()
        raise
    record.complete(result.model_dump(mode="json"))
    return result
