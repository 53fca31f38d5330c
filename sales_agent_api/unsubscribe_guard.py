"""What keeps the public unsubscribe endpoint's tokens private and its failures bounded:
a per-client count of bad tokens, and the token hidden from access lines and spans."""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Mapping
from typing import Any

from fastapi import Request

PREFIX = "/unsubscribe/"
# Failures (bad tokens) one client may cause per window before it is refused for a while.
MAX_FAILURES = 30
FAILURE_WINDOW_SECONDS = 60.0
# Clients remembered at once (the oldest forgotten first): memory stays bounded.
MAX_CLIENTS = 10_000


class FailureLimiter:
    """Bad-token attempts per client in a sliding window (this process's count)."""

    def __init__(self, limit: int = MAX_FAILURES, window: float = FAILURE_WINDOW_SECONDS) -> None:
        self.limit = limit
        self.window = window
        self._seen: OrderedDict[str, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def _recent(self, client: str, now: float) -> deque[float]:
        stamps = self._seen.get(client)
        if stamps is None:
            return deque()
        while stamps and stamps[0] <= now - self.window:
            stamps.popleft()
        return stamps

    def blocked(self, client: str) -> bool:
        """The client caused too many failures lately."""
        with self._lock:
            return len(self._recent(client, time.monotonic())) >= self.limit

    def failed(self, client: str) -> None:
        """Count one failure of the client."""
        now = time.monotonic()
        with self._lock:
            stamps = self._recent(client, now)
            stamps.append(now)
            self._seen[client] = stamps
            self._seen.move_to_end(client)
            while len(self._seen) > MAX_CLIENTS:
                self._seen.popitem(last=False)

    def clear(self) -> None:
        """Forget every client."""
        with self._lock:
            self._seen.clear()


def limiter(request: Request) -> FailureLimiter:
    """The app's failure counter (made on first use)."""
    state = request.app.state
    found = getattr(state, "unsubscribe_failures", None)
    if found is None:
        found = state.unsubscribe_failures = FailureLimiter()
    return found


def redact_path(path: str) -> str:
    """A request path as logs and spans may show it: an unsubscribe token hidden."""
    if path.startswith(PREFIX) and len(path) > len(PREFIX):
        return PREFIX + "[token]"
    return path


class HideTokens(logging.Filter):
    """uvicorn's access lines (client, method, path, version, status) without the token."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if (
            isinstance(args, tuple)
            and len(args) >= 3
            and isinstance(args[2], str)
            and args[2].startswith(PREFIX)
        ):
            record.args = (*args[:2], redact_path(args[2].split("?", 1)[0]), *args[3:])
        return True


def hide_tokens_in_access_log() -> None:
    """Install HideTokens on uvicorn's access logger once per process."""
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(existing, HideTokens) for existing in access.filters):
        access.addFilter(HideTokens())


def hide_token_in_span(span: Any, attributes: Mapping[str, Any]) -> None:
    """An unsubscribe request's span without its token (its path and URL attributes)."""
    for key in ("http.target", "url.path", "http.url", "url.full"):
        value = attributes.get(key)
        if isinstance(value, str) and PREFIX in value:
            head = value.split(PREFIX, 1)[0]
            span.set_attribute(key, f"{head}{PREFIX}[token]")
