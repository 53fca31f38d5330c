"""Usage counters one tenant's connectors add to as they call the vendors.

Counted in memory (a lock and a dict add per call) and drained by the caller into the
tenant's daily `tenant_usage` rows in one statement, never a database write per call.

Each request sent is also counted by its answer, `vendor_requests.<vendor>.<operation>.
<status>`: the API's /metrics sums them over tenants and days as
`sales_agent_vendor_requests_total` (db/repositories/metrics.py).
"""

from __future__ import annotations

import threading
from collections import Counter

from sales_agent_pipeline.domain.effects import Unreachable

# The counter names tenant_usage keeps ("<what>.<vendor>").
HUBSPOT_CALLS = "vendor_calls.hubspot"
GOOGLE_CALLS = "vendor_calls.google"
GMAIL_QUOTA_UNITS = "quota_units.gmail"
VENDOR_REQUESTS = "vendor_requests"

# tenant_usage.metric is a String(64): a longer name would fail the whole flush.
MAX_METRIC_CHARS = 64
# How deep a wrapped exception's causes are looked through for the answer's status.
_CAUSE_DEPTH = 6
_UNREACHABLE_NAMES = frozenset({"NewConnectionError", "ConnectError", "ConnectionRefusedError"})


def request_metric(vendor: str, operation: str, status: str) -> str:
    """The counter of one request: `vendor_requests.<vendor>.<operation>.<status>`, the
    operation cut short (never the status) so the name fits tenant_usage's column."""
    room = MAX_METRIC_CHARS - len(VENDOR_REQUESTS) - len(vendor) - len(status) - 3
    return f"{VENDOR_REQUESTS}.{vendor}.{operation[: max(room, 1)]}.{status}"


def request_status(error: BaseException) -> str:
    """The answer a failed request got, as the metric's status label: the HTTP status
    ("429", "503"), else `unreachable` (no connection), `timeout`, or `error`.

    Looks through our classified error and the SDK's exception it wraps (`__cause__`):
    our errors keep the status as `http_status`, HubSpot's ApiException as `status`,
    googleapiclient's HttpError and the model SDKs' errors as `status_code`.
    """
    seen: BaseException | None = error
    for _ in range(_CAUSE_DEPTH):
        if seen is None:
            break
        if isinstance(seen, Unreachable | ConnectionRefusedError) or (
            type(seen).__name__ in _UNREACHABLE_NAMES
        ):
            return "unreachable"
        for attribute in ("http_status", "status_code", "status"):
            status = getattr(seen, attribute, None)
            if isinstance(status, int) and 100 <= status <= 599:
                return str(status)
        if isinstance(seen, TimeoutError) or "Timeout" in type(seen).__name__:
            return "timeout"
        seen = seen.__cause__ or seen.__context__
    return "error"


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
