"""Usage counters one tenant's connectors add to as they call the vendors.

Counted in memory (a lock and a dict add per call) and drained by the caller into the
tenant's daily `tenant_usage` rows in one statement, never a database write per call.
"""

from __future__ import annotations

import threading
from collections import Counter

# The counter names tenant_usage keeps ("<what>.<vendor>").
HUBSPOT_CALLS = "vendor_calls.hubspot"
GOOGLE_CALLS = "vendor_calls.google"
GMAIL_QUOTA_UNITS = "quota_units.gmail"


class UsageMeter:
    """Thread-safe counters for one tenant: vendor calls sent and Gmail quota units."""

    def __init__(self) -> None:
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def add(self, metric: str, value: int = 1) -> None:
        """Count `value` more of `metric`."""
        if value:
            with self._lock:
                self._counts[metric] += value

    def drain(self) -> dict[str, int]:
        """What was counted since the last drain, and start again from zero."""
        with self._lock:
            counts = dict(self._counts)
            self._counts.clear()
        return counts

    def restore(self, counts: dict[str, int]) -> None:
        """Put drained counts back (their write failed; the next drain carries them)."""
        with self._lock:
            self._counts.update(counts)
