"""The BreakerStore port in memory: rows keyed by (vendor, tenant), each replace applied only
over the version it was computed from, as the PostgreSQL store's UPDATE ... WHERE does."""

from __future__ import annotations

import itertools
import threading
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sales_agent_pipeline.domain.breaker import Breaker

_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


class FakeBreakerStore:
    """Breakers in a dict; `reads` and `writes` count the round trips a database would take."""

    def __init__(self) -> None:
        self.rows: dict[tuple[str, uuid.UUID], Breaker] = {}
        self.reads = 0
        self.writes = 0
        self._versions = itertools.count(1)
        self._lock = threading.Lock()

    def get(self, vendor: str, tenant_id: uuid.UUID) -> Breaker | None:
        """The stored breaker, or None."""
        with self._lock:
            self.reads += 1
            return self.rows.get((vendor, tenant_id))

    def replace(self, old: Breaker | None, new: Breaker) -> Breaker | None:
        """Store `new` over `old`'s version; None when the row moved on."""
        key = (new.vendor, new.tenant_id)
        with self._lock:
            self.writes += 1
            current = self.rows.get(key)
            if (current.updated_at if current else None) != (old.updated_at if old else None):
                return None
            stored = replace(new, updated_at=_EPOCH + timedelta(microseconds=next(self._versions)))
            self.rows[key] = stored
            return stored

    def of_tenant(self, tenant_id: uuid.UUID) -> list[Breaker]:
        """The tenant's breakers by vendor."""
        with self._lock:
            return sorted(
                (b for (_, tenant), b in self.rows.items() if tenant == tenant_id),
                key=lambda b: b.vendor,
            )
