"""Where the vendors' circuit breakers are kept, shared by every process."""

from __future__ import annotations

import uuid
from typing import Protocol

from sales_agent_pipeline.domain.breaker import Breaker


class BreakerStore(Protocol):
    """The breakers' rows: read one, and replace it only if nobody changed it meanwhile.

    The state machine (workflow/breaker.py) decides; the store only keeps the rows and
    makes each change atomic, so no lock is held while a vendor is called.
    """

    def get(self, vendor: str, tenant_id: uuid.UUID) -> Breaker | None:
        """The stored breaker, or None when it never failed (closed)."""
        ...

    def replace(self, old: Breaker | None, new: Breaker) -> Breaker | None:
        """Store `new` if the row is still `old` (None: no row yet); the stored breaker
        with its new version, or None when another process changed it first."""
        ...

    def of_tenant(self, tenant_id: uuid.UUID) -> list[Breaker]:
        """Every stored breaker of the tenant, by vendor."""
        ...
