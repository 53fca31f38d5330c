"""Step 4: the threads we already have with the prospect, newest first."""

from __future__ import annotations

from sales_agent_pipeline.domain.lead import Lead
from sales_agent_pipeline.domain.models import ThreadSummary
from sales_agent_pipeline.ports.vendors import Mail


def search_gmail_threads(mail: Mail, lead: Lead, max_results: int = 5) -> list[ThreadSummary]:
    """Threads from or to the prospect's address."""
    return mail.search_threads(lead.email, max_results=max_results)
