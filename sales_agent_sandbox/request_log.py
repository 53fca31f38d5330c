"""The request log: every HubSpot and Google request, who it carried and what it touched.

A bounded ring of tuples (benches push thousands of requests a minute through it), turned
into JSON only when read. Tokens never appear: a HubSpot token is named by a short sha256
fingerprint, a Google caller by the subject its token acts as ("anonymous" without one).
"""

from __future__ import annotations

import itertools
from collections import deque
from datetime import UTC, datetime
from typing import Any

from .locked import LockedState

# (portal id or None, token fingerprint or None, app id or None) for HubSpot;
# the subject (None: anonymous) for Google.
HubSpotIdentity = tuple[int | None, str | None, int | None]
Entry = tuple[int, float, str, str, str, int, Any, dict[str, list[Any]] | None]


class RequestLog(LockedState):
    """The latest `request_log_size` vendor requests, numbered from 1 since the last reset."""

    def _clear(self) -> None:
        # Reset forgets every entry and restarts the numbering.
        self._entries: deque[Entry] = deque(maxlen=self._config.request_log_size)
        self._seq = 0

    def append(
        self,
        started: float,
        vendor: str,
        method: str,
        path: str,
        status: int,
        identity: Any,
        touched: dict[str, list[Any]] | None,
    ) -> None:
        """Record one finished request."""
        with self._lock:
            if self._entries.maxlen != self._config.request_log_size:
                self._entries = deque(self._entries, maxlen=self._config.request_log_size)
            self._seq += 1
            self._entries.append(
                (self._seq, started, vendor, method, path, status, identity, touched)
            )

    def read(
        self, after: int = 0, vendor: str | None = None, limit: int | None = None
    ) -> dict[str, Any]:
        """Entries numbered after `after` (oldest first), and the numbering's bounds."""
        with self._lock:
            last = self._seq
            oldest = self._entries[0][0] if self._entries else None
            # Numbers are consecutive: the wanted entries are the newest `last - after`.
            wanted = min(max(last - after, 0), len(self._entries))
            tail = list(itertools.islice(reversed(self._entries), wanted))
        tail.reverse()
        entries = [e for e in tail if not vendor or e[2] == vendor]
        if limit is not None:
            entries = entries[:limit]
        return {
            "requests": [_json(entry) for entry in entries],
            "lastSeq": last,
            # Entries before this one fell out of the ring: a reader that wants them all
            # must read more often (or raise request_log_size).
            "oldestSeq": oldest,
        }


def _json(entry: Entry) -> dict[str, Any]:
    seq, started, vendor, method, path, status, identity, touched = entry
    if vendor == "hubspot":
        portal_id, token, app_id = identity or (None, None, None)
        who: dict[str, Any] = {"portalId": portal_id, "token": token, "appId": app_id}
    else:
        who = {"subject": identity or "anonymous"}
    return {
        "seq": seq,
        "at": datetime.fromtimestamp(started, UTC).isoformat(timespec="milliseconds"),
        "vendor": vendor,
        "method": method,
        "path": path,
        "status": status,
        "identity": who,
        "touched": touched or {},
    }
