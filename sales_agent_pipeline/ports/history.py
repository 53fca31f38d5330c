"""The tenant's own past leads, as step 6 reads them."""

from __future__ import annotations

from typing import Protocol

from sales_agent_pipeline.domain.lead import Lead
from sales_agent_pipeline.domain.workflow import PastLead


class LeadHistory(Protocol):
    """Past workflows of the tenant; implemented over PostgreSQL."""

    def similar_leads(self, lead: Lead, limit: int = 50) -> list[PastLead]:
        """Past leads of the same domain, industry or job title, newest first."""
        ...
