"""Client-side rate limits shared by every thread of the process, and the 429 retry."""

from __future__ import annotations

import hashlib
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

from pyrate_limiter import InMemoryBucket, Limiter, Rate
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from sales_agent_pipeline.domain.errors import TransientError
from sales_agent_pipeline.domain.quotas import (
    DEFAULT_MAX_WAIT_SECONDS,
    HUBSPOT_SEARCH_WINDOW_SECONDS,
    HUBSPOT_WINDOW_SECONDS,
    QUOTA_WINDOW_SECONDS,
    WINDOW_MARGIN_SECONDS,
)

T = TypeVar("T")

# A 429 asking for a longer pause than this is handed to the orchestrator's retry.
MAX_429_WAIT_SECONDS = 15.0

# Gmail's per-method quota units (developers.google.com/gmail/api/reference/quota).
GMAIL_UNITS = {
    "labels.list": 1,
    "labels.create": 5,
    "threads.list": 10,
    "threads.get": 10,
    "threads.modify": 10,
    "drafts.create": 10,
    "drafts.get": 5,
    "drafts.list": 5,
    "drafts.update": 15,
    "drafts.send": 100,
    "messages.send": 100,
}


class SlidingWindows:
    """A blocking sliding-window log over several named windows, checked atomically.

    Not pyrate-limiter here: a HubSpot search counts in both the 10-s window and the
    per-second search window, while other calls count only in the first. A pyrate
    bucket applies all its rates to every item, and taking two limiters one after the
    other records the first slot before waiting on the second, so the server can see a
    burst. Checking and recording both windows under one lock avoids both problems.
    """

    def __init__(self, windows: dict[str, tuple[int, float]]) -> None:
        self._limits = dict(windows)
        self._logs: dict[str, deque[float]] = {name: deque() for name in windows}
        self._lock = threading.Lock()

    def acquire(
        self, names: Sequence[str], max_wait_seconds: float = DEFAULT_MAX_WAIT_SECONDS
    ) -> None:
        """Block until every named window has room, then take one slot in each."""
        deadline = time.monotonic() + max_wait_seconds
        while True:
            with self._lock:
                now = time.monotonic()
                wait = 0.0
                for name in names:
                    limit, seconds = self._limits[name]
                    log = self._logs[name]
                    while log and now - log[0] >= seconds:
                        log.popleft()
                    if len(log) >= limit:
                        wait = max(wait, log[len(log) - limit] + seconds - now)
                if wait <= 0:
                    for name in names:
                        self._logs[name].append(now)
                    return
            if now + wait > deadline:
                raise TransientError(
                    f"client-side rate limit {'/'.join(names)} full for {max_wait_seconds:g}s",
                    retry_after_seconds=wait,
                )
            time.sleep(wait)


class UnitQuota(Protocol):
    """A blocking quota of weighted units over a sliding window (Gmail's per-user units,
    HubSpot's requests per 10 s), in one process or shared by many."""

    def acquire(self, units: int, max_wait_seconds: float = DEFAULT_MAX_WAIT_SECONDS) -> None:
        """Block until `units` fit in the window, then take them."""
        ...


class QuotaUnits:
    """Gmail's per-user quota inside one process, on pyrate-limiter.

    The fallback where no database is at hand (connector tests, the connector bench):
    the pipeline's runs share `db.quota.PostgresQuota` across processes instead. A window
    of a minute (the budget is per minute) lets a burst use the whole budget, where a
    one-second window wasted what the quiet seconds between phases of a run left over.
    """

    def __init__(
        self, units_per_second: int, *, window_seconds: float = QUOTA_WINDOW_SECONDS
    ) -> None:
        self.units_per_second = units_per_second
        self.limit = units_per_second * 60
        self._limiter = Limiter(InMemoryBucket([Rate(self.limit, int(window_seconds * 1000))]))

    def acquire(self, units: int, max_wait_seconds: float = DEFAULT_MAX_WAIT_SECONDS) -> None:
        """Block until `units` fit in the window (a cost above the whole window is clamped)."""
        weight = max(1, min(units, self.limit))
        if not self._limiter.try_acquire("units", weight, blocking=True, timeout=max_wait_seconds):
            raise TransientError(
                f"client-side quota of {self.limit} units per window full "
                f"for {max_wait_seconds:g}s",
                retry_after_seconds=1.0,
            )


class HubSpotLimits:
    """HubSpot's per-portal limits: a rolling 10-s window and the search rate.

    With `shared` quotas (kept in the database, one for every process calling the portal)
    both windows are those; without, they live in this process.
    """

    def __init__(
        self,
        requests_per_10s: int,
        searches_per_second: int,
        shared: tuple[UnitQuota, UnitQuota] | None = None,
    ) -> None:
        self._shared = shared
        self._windows = SlidingWindows(
            {
                "ten_secondly": (requests_per_10s, HUBSPOT_WINDOW_SECONDS),
                "search": (searches_per_second, HUBSPOT_SEARCH_WINDOW_SECONDS),
            }
        )

    def acquire(self, *, search: bool = False) -> None:
        """Take a slot for one call (a search also takes a search slot)."""
        if self._shared is None:
            self._windows.acquire(("ten_secondly", "search") if search else ("ten_secondly",))
            return
        requests, searches = self._shared
        if not search:
            requests.acquire(1)
            return
        # Two quotas cannot be taken at once: a slot is stamped when taken, so one taken
        # before a long wait on the other would let the server see a burst. Take the search
        # slot, then the request slot; when that waited, take a fresh search slot (the
        # first one only over-counts).
        searches.acquire(1)
        asked = time.monotonic()
        requests.acquire(1)
        if time.monotonic() - asked > WINDOW_MARGIN_SECONDS / 2:
            searches.acquire(1)


_registry: dict[tuple[object, ...], object] = {}
_registry_lock = threading.Lock()


def fingerprint(secret: str) -> str:
    """A short, stable name for a secret (a portal's token) that does not reveal it."""
    return hashlib.sha256(secret.encode()).hexdigest()[:16]


def hubspot_limits(key: str, requests_per_10s: int, searches_per_second: int) -> HubSpotLimits:
    """The process-wide limits of one portal, named by its quota key."""
    registry_key = ("hubspot", key, requests_per_10s, searches_per_second)
    with _registry_lock:
        found = _registry.get(registry_key)
        if not isinstance(found, HubSpotLimits):
            found = HubSpotLimits(requests_per_10s, searches_per_second)
            _registry[registry_key] = found
        return found


def gmail_quota(base_url: str, user: str, units_per_second: int) -> QuotaUnits:
    """The process-wide quota for one Gmail user."""
    key = ("gmail", base_url, user.lower(), units_per_second)
    with _registry_lock:
        found = _registry.get(key)
        if not isinstance(found, QuotaUnits):
            found = QuotaUnits(units_per_second)
            _registry[key] = found
        return found


def _throttled(exc: BaseException) -> bool:
    if not isinstance(exc, TransientError) or exc.http_status not in (429, 403):
        return False
    hint = exc.retry_after_seconds
    return hint is None or hint <= MAX_429_WAIT_SECONDS


def _wait(state: RetryCallState) -> float:
    outcome = state.outcome
    exc = outcome.exception() if outcome is not None else None
    hint = exc.retry_after_seconds if isinstance(exc, TransientError) else None
    # No hint (HubSpot's per-second search limit sends none): back off 1, 2, 4 s.
    return hint if hint is not None else float(min(2 ** (state.attempt_number - 1), 4))


def retry_throttled(call: Callable[[], T], attempts: int) -> T:
    """Run `call`, waiting what a 429 asks and trying again, `attempts` times at most."""
    retrying = Retrying(
        stop=stop_after_attempt(max(1, attempts)),
        retry=retry_if_exception(_throttled),
        wait=_wait,
        reraise=True,
    )
    return retrying(call)
