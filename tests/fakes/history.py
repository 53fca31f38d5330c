"""A tenant's past leads in memory, for step 6."""

from __future__ import annotations

from collections.abc import Iterable

from sales_agent_pipeline.domain.lead import Lead
from sales_agent_pipeline.domain.workflow import PastLead


class FakeLeadHistory:
    """The LeadHistory port over a list: past leads of the same email domain, industry or
    job title (any case), newest first."""

    def __init__(self, past: Iterable[PastLead] = ()) -> None:
        self.past = list(past)

    def similar_leads(self, lead: Lead, limit: int = 50) -> list[PastLead]:
        """Past leads like this one, newest first."""

        def same(mine: str | None, theirs: str | None) -> bool:
            return bool(mine and theirs and mine.lower() == theirs.lower())

        alike = [
            past
            for past in self.past
            if past.email_domain == lead.email_domain
            or same(lead.industry, past.industry)
            or same(lead.job_title, past.job_title)
        ]
        return sorted(alike, key=lambda past: past.created_at, reverse=True)[:limit]
