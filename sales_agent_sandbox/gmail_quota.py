"""Gmail's per-user quota: units per method, and a rolling minute per mailbox.

Google documents a cost in quota units for each method and a budget of 15,000 units per
user per minute; a request past it is answered 429 rateLimitExceeded. The sandbox counts
every user's units and the busiest minute seen, and refuses past the budget when one is
configured (`gmail_units_per_minute`; off by default, as the tests rarely want it).
"""

from __future__ import annotations

import re
import threading
import time
from collections import deque
from typing import Any

WINDOW_SECONDS = 60.0

# developers.google.com/gmail/api/reference/quota, by (HTTP method, path under the user).
_COSTS: tuple[tuple[str, re.Pattern[str], int], ...] = tuple(
    (method, re.compile(pattern), cost)
    for method, pattern, cost in (
        ("GET", r"/labels$", 1),
        ("POST", r"/labels$", 5),
        ("DELETE", r"/labels/[^/]+$", 5),
        ("GET", r"/threads$", 10),
        ("GET", r"/threads/[^/]+$", 10),
        ("POST", r"/threads/[^/]+/modify$", 10),
        ("POST", r"/messages/[^/]+/modify$", 5),
        ("POST", r"/drafts$", 10),
        ("GET", r"/drafts$", 5),
        ("GET", r"/drafts/[^/]+$", 5),
        ("PUT", r"/drafts/[^/]+$", 15),
        ("DELETE", r"/drafts/[^/]+$", 10),
        ("POST", r"/drafts/send$", 100),
        ("POST", r"/messages/send$", 100),
        ("GET", r"/messages(/[^/]+)?$", 5),
        ("GET", r"/profile$", 1),
        ("GET", r"/history$", 2),
        ("POST", r"/watch$", 100),
        ("POST", r"/stop$", 50),
    )
)
_USER_PATH = re.compile(r"^(?:/upload)?/gmail/v1/users/([^/]+)(/.*)$")


def gmail_cost(method: str, path: str) -> tuple[str, int] | None:
    """The user a Gmail request is for and its cost in units; None for other paths."""
    found = _USER_PATH.match(path)
    if found is None:
        return None
    user, rest = found.groups()
    for verb, pattern, cost in _COSTS:
        if verb == method and pattern.search(rest):
            return user, cost
    return user, 5


class GmailQuota:
    """Units per user in a rolling minute: what was spent, the busiest minute, refusals."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """Forget every user's units."""
        with self._lock:
            self._windows: dict[str, deque[tuple[float, int]]] = {}
            self._in_window: dict[str, int] = {}
            self.units: dict[str, int] = {}
            self.peak: dict[str, int] = {}
            self.rejected = 0

    def admit(self, user: str, units: int, per_minute: int | None) -> bool:
        """Count the request's units; False (and nothing counted) past the budget."""
        now = time.monotonic()
        with self._lock:
            window = self._windows.setdefault(user, deque())
            used = self._in_window.get(user, 0)
            while window and now - window[0][0] >= WINDOW_SECONDS:
                used -= window.popleft()[1]
            if per_minute is not None and used + units > per_minute:
                self._in_window[user] = used
                self.rejected += 1
                return False
            window.append((now, units))
            used += units
            self._in_window[user] = used
            self.units[user] = self.units.get(user, 0) + units
            self.peak[user] = max(self.peak.get(user, 0), used)
            return True

    def snapshot(self) -> dict[str, Any]:
        """Units per user, the busiest minute of each, and the requests refused."""
        with self._lock:
            return {
                "windowSeconds": WINDOW_SECONDS,
                "users": [
                    {"user": user, "units": self.units[user], "maxUnitsInWindow": self.peak[user]}
                    for user in sorted(self.units)
                ],
                "rejected": self.rejected,
            }
