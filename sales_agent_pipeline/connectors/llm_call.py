"""What both model writers share: the request quota, and reading the structured answer."""

from __future__ import annotations

import json
import threading
from typing import Any, Protocol

from pydantic import ValidationError

from sales_agent_pipeline.connectors.ratelimit import SlidingWindows, UnitQuota
from sales_agent_pipeline.domain.drafting import DraftAnswer
from sales_agent_pipeline.domain.effects import NotSent
from sales_agent_pipeline.domain.errors import PermanentError, TransientError
from sales_agent_pipeline.domain.quotas import QUOTA_WINDOW_SECONDS

# A draft never waits long for a request slot: the template writer stands in sooner.
QUOTA_MAX_WAIT_SECONDS = 5.0
# The providers count requests per minute; the margin covers the time between our stamp
# and the server's, as for the other vendors' windows.
MINUTE_SECONDS = QUOTA_WINDOW_SECONDS


class Quota(Protocol):
    """A requests-per-minute window (db.quota.PostgresQuota across processes, or one
    process's MinuteWindow)."""

    def acquire(self, units: int, max_wait_seconds: float = ...) -> None:
        """Block until `units` fit in the window, then take them."""
        ...


class MinuteWindow:
    """Requests per minute inside one process: the fallback where no database is at hand
    (connector tests, the bench); the pipeline shares a PostgresQuota instead."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._windows = SlidingWindows({"requests": (max(1, per_minute), MINUTE_SECONDS)})

    def acquire(self, units: int, max_wait_seconds: float = QUOTA_MAX_WAIT_SECONDS) -> None:
        """Take `units` request slots, waiting at most `max_wait_seconds` for each."""
        for _ in range(max(1, units)):
            self._windows.acquire(("requests",), max_wait_seconds)


_windows: dict[tuple[str, int], MinuteWindow] = {}
_windows_lock = threading.Lock()


def minute_window(key: str, per_minute: int) -> MinuteWindow:
    """The process-wide window of one provider and key, named by its quota key."""
    with _windows_lock:
        found = _windows.get((key, per_minute))
        if found is None:
            found = _windows[(key, per_minute)] = MinuteWindow(per_minute)
        return found


def take_slot(quota: UnitQuota | Quota, operation: str) -> None:
    """One request slot, or NotSent: a full window means no request left (nothing to undo,
    and not the provider's fault, so its breaker does not count it)."""
    try:
        quota.acquire(1, QUOTA_MAX_WAIT_SECONDS)
    except TransientError as exc:
        if isinstance(exc, NotSent):
            raise
        raise NotSent(
            f"{operation} not sent: {exc}", retry_after_seconds=exc.retry_after_seconds
        ) from exc


def parse_answer(raw: Any, operation: str) -> DraftAnswer:
    """The structured answer from the model's JSON text (OpenAI) or tool input (Anthropic);
    PermanentError("malformed answer ...") when it is not one."""
    text = raw if isinstance(raw, str) else json.dumps(raw)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PermanentError(f"{operation}: malformed answer: not JSON ({exc.msg})") from exc
    if not isinstance(data, dict):
        raise PermanentError(f"{operation}: malformed answer: not an object")
    try:
        # Strict JSON validation: a string where a list belongs (or a number for a string)
        # is a wrong shape, not something to coerce.
        return DraftAnswer.model_validate_json(text, strict=True)
    except ValidationError as exc:
        fields = sorted({".".join(map(str, e["loc"])) or "answer" for e in exc.errors()})
        raise PermanentError(
            f"{operation}: malformed answer: wrong shape ({', '.join(fields)})"
        ) from exc
