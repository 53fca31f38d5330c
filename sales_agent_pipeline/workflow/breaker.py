"""Circuit breakers around the vendor ports: per vendor and tenant, shared by every process
through the BreakerStore port.

After `failure_threshold` consecutive transient failures (5xx, timeouts, lost connections)
the breaker opens: calls raise BreakerOpen before any request is made, so the lead waits
(queued, the attempt not counted) instead of burning its retries on a vendor that is down.
After the cool-down (doubling with each trip in a row, capped) one caller takes the probe
(half-open, under a lease); its success closes the breaker, its failure opens it again for
longer. A 429 is not a failure here: the vendor answered and said when to come back, which
the runner's backoff honours; opening the tenant's breaker over a per-second rate window
would stop it far longer than the vendor asked.

The hot path stays in memory: a closed breaker is re-read at most every `cache_seconds`
per process, and the store is written only on a failure, on the first success after
failures, and on the probe's transitions.
"""

from __future__ import annotations

import enum
import inspect
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, TypeVar, cast

import structlog

from sales_agent_pipeline.domain.breaker import Breaker
from sales_agent_pipeline.domain.effects import NotSent, Unreachable
from sales_agent_pipeline.domain.enums import BreakerState
from sales_agent_pipeline.domain.errors import (
    BreakerOpen,
    PipelineError,
    TransientError,
    WriteInProgress,
)
from sales_agent_pipeline.ports.breaker import BreakerStore
from sales_agent_pipeline.settings import Settings

log = structlog.get_logger(__name__)

T = TypeVar("T")
P = TypeVar("P")
Key = tuple[str, uuid.UUID]

# Answers that say the vendor is up but pacing us (Google answers some quota overruns 403).
RATE_LIMITED = frozenset({429, 403})
# A change that lost its race is recomputed from the new row this many times at most.
_CHANGE_ATTEMPTS = 5


class Verdict(enum.Enum):
    """What a call's outcome says of the vendor."""

    UP = "up"
    DOWN = "down"
    UNKNOWN = "unknown"


def verdict(error: BaseException | None) -> Verdict:
    """A success or a vendor's refusal (4xx, 429) shows it up; a transient failure counts
    against it; our own errors (a breaker, a held write lease, our client-side rate limit
    staying full, a bug) say nothing of it."""
    if error is None:
        return Verdict.UP
    if isinstance(error, Unreachable):
        return Verdict.DOWN  # nothing sent, but because the vendor could not be reached
    if isinstance(error, BreakerOpen | WriteInProgress | NotSent):
        return Verdict.UNKNOWN
    if isinstance(error, TransientError):
        return Verdict.UP if error.http_status in RATE_LIMITED else Verdict.DOWN
    if isinstance(error, PipelineError):
        return Verdict.UP
    return Verdict.UNKNOWN


@dataclass(frozen=True)
class BreakerPolicy:
    """When breakers open, for how long, and how long a process trusts its copy."""

    failure_threshold: int = 5
    cooldown_seconds: float = 30.0
    cooldown_max_seconds: float = 600.0
    probe_lease_seconds: float = 60.0
    cache_seconds: float = 2.0

    @classmethod
    def from_settings(cls, settings: Settings) -> BreakerPolicy:
        """The policy the settings configure."""
        return cls(
            failure_threshold=settings.breaker_failure_threshold,
            cooldown_seconds=settings.breaker_cooldown_seconds,
            cooldown_max_seconds=settings.breaker_cooldown_max_seconds,
            probe_lease_seconds=settings.breaker_probe_lease_seconds,
            cache_seconds=settings.breaker_cache_seconds,
        )

    def cooldown(self, trips: int) -> timedelta:
        """The cool-down of the `trips`-th opening in a row: doubling, capped."""
        doublings = min(max(trips - 1, 0), 30)
        return timedelta(
            seconds=min(self.cooldown_seconds * 2**doublings, self.cooldown_max_seconds)
        )


@dataclass(frozen=True)
class Wait:
    """No call now: the breaker lets calls through again in `seconds` at the earliest."""

    seconds: float
    until: datetime


def admission(breaker: Breaker | None, now: datetime) -> Wait | bool:
    """Whether a call may go (False), must take the probe first (True), or must wait."""
    if breaker is None or breaker.state is BreakerState.CLOSED:
        return False
    until = breaker.open_until if breaker.state is BreakerState.OPEN else breaker.probe_until
    if until is not None and until > now:
        return Wait((until - now).total_seconds(), until)
    # Open past its cool-down, or a probe whose holder died: this caller probes.
    return True


def probing(breaker: Breaker, owner: str, now: datetime, policy: BreakerPolicy) -> Breaker:
    """Half-open, the probe held by `owner` for the lease."""
    return replace(
        breaker,
        state=BreakerState.HALF_OPEN,
        probe_owner=owner,
        probe_until=now + timedelta(seconds=policy.probe_lease_seconds),
    )


def closed(breaker: Breaker) -> Breaker:
    """Calls flow again; the count of failures and trips starts over (the last error stays
    for operators)."""
    return replace(
        breaker,
        state=BreakerState.CLOSED,
        consecutive_failures=0,
        trips=0,
        opened_at=None,
        open_until=None,
        probe_owner=None,
        probe_until=None,
    )


def failed(
    breaker: Breaker | None, key: Key, error: str, now: datetime, policy: BreakerPolicy
) -> Breaker:
    """One more consecutive failure: the breaker opens at the threshold, or at once when
    the failure was the probe's, for the next cool-down."""
    base = breaker or Breaker(vendor=key[0], tenant_id=key[1])
    failures = base.consecutive_failures + 1
    if base.state is BreakerState.CLOSED and failures < policy.failure_threshold:
        return replace(base, consecutive_failures=failures, last_error=error)
    trips = base.trips + 1
    return replace(
        base,
        state=BreakerState.OPEN,
        consecutive_failures=failures,
        trips=trips,
        opened_at=now,
        open_until=now + policy.cooldown(trips),
        probe_owner=None,
        probe_until=None,
        last_error=error,
    )


def released(breaker: Breaker, now: datetime) -> Breaker:
    """The probe ended saying nothing of the vendor (our own error): open, due for another
    probe at once."""
    return replace(
        breaker, state=BreakerState.OPEN, open_until=now, probe_owner=None, probe_until=None
    )


@dataclass(frozen=True)
class _Copy:
    breaker: Breaker | None
    expires: float


class CircuitBreakers:
    """The process's breakers: guards vendor calls, keeping a short-lived copy of each."""

    def __init__(
        self,
        store: BreakerStore,
        policy: BreakerPolicy,
        clock: Callable[[], datetime],
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._policy = policy
        self._clock = clock
        self._monotonic = monotonic
        self._copies: dict[Key, _Copy] = {}
        self._lock = threading.Lock()
        self._process = f"{socket.gethostname()[:40]}:{os.getpid()}"

    def guard(self, vendor: str, ports: Callable[[uuid.UUID], P]) -> Callable[[uuid.UUID], P]:
        """The port factory with every call of each tenant's port behind its breaker."""

        def for_tenant(tenant_id: uuid.UUID) -> P:
            return cast(P, _Guarded(self, vendor, tenant_id, ports(tenant_id)))

        return for_tenant

    def guard_mailbox(
        self, vendor: str, ports: Callable[[uuid.UUID, str | None], P]
    ) -> Callable[[uuid.UUID, str | None], P]:
        """The per-mailbox port factory (a tenant's sender or its owners' mailboxes), every
        call behind the tenant's breaker of that vendor (one for all its mailboxes)."""

        def for_mailbox(tenant_id: uuid.UUID, mailbox: str | None) -> P:
            return cast(P, _Guarded(self, vendor, tenant_id, ports(tenant_id, mailbox)))

        return for_mailbox

    def call(self, vendor: str, tenant_id: uuid.UUID, action: Callable[[], T]) -> T:
        """Run one vendor call through the breaker: BreakerOpen (and no call) while it is
        open, the outcome recorded when it tells something new."""
        key = (vendor, tenant_id)
        probe = self._admit(key)
        try:
            result = action()
        except BaseException as error:
            self._settle(key, probe, verdict(error), error)
            raise
        self._settle(key, probe, Verdict.UP, None)
        return result

    def each(self, vendor: str, tenant_id: uuid.UUID, items: Iterator[T]) -> Iterator[T]:
        """A lazy iterator (pages fetched as it goes) whose every step is a guarded call."""
        while True:
            try:
                item = self.call(vendor, tenant_id, lambda: next(items))
            except StopIteration:
                return
            yield item

    def _admit(self, key: Key) -> str | None:
        """None when the call may go; the probe's owner when this call is the probe."""
        breaker = self._current(key)
        if breaker is None or breaker.state is BreakerState.CLOSED:
            return None  # the hot path: no clock, no store
        for _ in range(_CHANGE_ATTEMPTS):
            now = self._clock()
            decision = admission(breaker, now)
            if decision is False:
                return None
            assert breaker is not None  # no row is a closed breaker
            if isinstance(decision, Wait):
                raise BreakerOpen(
                    key[0],
                    f"the {key[0]} circuit breaker of tenant {key[1]} is "
                    f"{breaker.state.value} until "
                    f"{decision.until.isoformat(timespec='seconds')}: the lead waits",
                    retry_after_seconds=decision.seconds,
                )
            owner = f"{self._process}:{uuid.uuid4().hex[:12]}"
            stored = self._store.replace(breaker, probing(breaker, owner, now, self._policy))
            if stored is not None:
                self._remember(key, stored, breaker)
                return owner
            breaker = self._load(key)
        raise BreakerOpen(
            key[0],
            f"the {key[0]} circuit breaker of tenant {key[1]} is contended: the lead waits",
            retry_after_seconds=self._policy.cache_seconds,
        )

    def _settle(
        self, key: Key, probe: str | None, seen: Verdict, error: BaseException | None
    ) -> None:
        """Record what the call showed. Never raises: the vendor call's own result (a write
        that landed, or its error) must reach the caller whatever the store does."""
        if probe is None and seen is not Verdict.DOWN and not self._known_failures(key):
            return  # the hot path: a call through a closed breaker with nothing to record
        now = self._clock()
        text = None if error is None else f"{type(error).__name__}: {error}"
        change: Callable[[Breaker | None], Breaker | None]
        if probe is not None:

            def change(b: Breaker | None) -> Breaker | None:
                if b is None or b.state is not BreakerState.HALF_OPEN or b.probe_owner != probe:
                    return None  # the lease ran out and another caller took over
                if seen is Verdict.UP:
                    return closed(b)
                if seen is Verdict.DOWN:
                    return failed(b, key, text or "", now, self._policy)
                return released(b, now)

        elif seen is Verdict.DOWN:

            def change(b: Breaker | None) -> Breaker | None:
                closed_now = b is None or b.state is BreakerState.CLOSED
                return failed(b, key, text or "", now, self._policy) if closed_now else None

        elif seen is Verdict.UP:  # the first success after failures starts the count over

            def change(b: Breaker | None) -> Breaker | None:
                if b is None or b.state is not BreakerState.CLOSED or not b.consecutive_failures:
                    return None
                return replace(b, consecutive_failures=0)

        else:
            return
        try:
            self._change(key, change)
        # The store is down or refused: the call's own result matters more than the count.
        except Exception as problem:
            log.warning(
                "circuit breaker not updated",
                vendor=key[0],
                tenant_id=str(key[1]),
                error=str(problem),
            )

    def _change(self, key: Key, change: Callable[[Breaker | None], Breaker | None]) -> None:
        """Apply `change` to the stored row, recomputed from the new row when another
        process changed it first."""
        breaker = self._store.get(*key)
        for _ in range(_CHANGE_ATTEMPTS):
            new = change(breaker)
            if new is None:
                self._remember(key, breaker, breaker)
                return
            stored = self._store.replace(breaker, new)
            if stored is not None:
                self._remember(key, stored, breaker)
                return
            breaker = self._store.get(*key)

    def _known_failures(self, key: Key) -> bool:
        with self._lock:
            copy = self._copies.get(key)
        return (
            copy is not None and copy.breaker is not None and copy.breaker.consecutive_failures > 0
        )

    def _current(self, key: Key) -> Breaker | None:
        with self._lock:
            copy = self._copies.get(key)
        if copy is not None and self._monotonic() < copy.expires:
            return copy.breaker
        return self._load(key)

    def _load(self, key: Key) -> Breaker | None:
        breaker = self._store.get(*key)
        self._remember(key, breaker, breaker)
        return breaker

    def _remember(self, key: Key, breaker: Breaker | None, before: Breaker | None) -> None:
        """Keep the process's copy: an open breaker's until its cool-down ends (nothing can
        change it before), any other's for `cache_seconds`; log a change of state."""
        ttl = self._policy.cache_seconds
        if breaker is not None and breaker.state is BreakerState.OPEN and breaker.open_until:
            ttl = max(ttl, (breaker.open_until - self._clock()).total_seconds())
        with self._lock:
            self._copies[key] = _Copy(breaker, self._monotonic() + ttl)
        was = before.state if before else BreakerState.CLOSED
        now = breaker.state if breaker else BreakerState.CLOSED
        if breaker is not None and now is not was:
            _log_change(breaker, was)


def _log_change(breaker: Breaker, was: BreakerState) -> None:
    level = log.warning if breaker.state is BreakerState.OPEN else log.info
    level(
        f"circuit breaker {breaker.state.value}",
        vendor=breaker.vendor,
        tenant_id=str(breaker.tenant_id),
        was=was.value,
        failures=breaker.consecutive_failures,
        trips=breaker.trips,
        until=(breaker.open_until if breaker.state is BreakerState.OPEN else breaker.probe_until),
        last_error=breaker.last_error,
    )


class _Guarded:
    """A vendor port whose every method call goes through the tenant's breaker."""

    def __init__(self, breakers: CircuitBreakers, vendor: str, tenant_id: uuid.UUID, port: object):
        self._breakers = breakers
        self._vendor = vendor
        self._tenant_id = tenant_id
        self._port = port

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._port, name)
        if name.startswith("_") or not callable(attribute):
            return attribute

        def guarded(*args: Any, **kwargs: Any) -> Any:
            if inspect.isgeneratorfunction(attribute):
                # A lazy listing requests nothing until iterated: each page is the call.
                pages = attribute(*args, **kwargs)
                return self._breakers.each(self._vendor, self._tenant_id, pages)
            return self._breakers.call(
                self._vendor, self._tenant_id, lambda: attribute(*args, **kwargs)
            )

        return guarded
