"""Step 6: how past leads like this one went in our own database, and the angle to take."""

from __future__ import annotations

from collections.abc import Sequence

from sales_agent_pipeline.domain.lead import Lead
from sales_agent_pipeline.domain.workflow import PastLead, SimilarPatterns
from sales_agent_pipeline.ports.history import LeadHistory


def summarise_patterns(lead: Lead, history: Sequence[PastLead]) -> SimilarPatterns:
    """Count outcomes and pick the angle the evidence supports."""
    same_domain = [past for past in history if past.email_domain == lead.email_domain]
    sent = sum(past.draft_sent for past in history)
    completed = sum(past.task_completed for past in history)
    if same_domain:
        angle = (
            f"returning account: {len(same_domain)} earlier lead(s) from {lead.email_domain}; "
            "acknowledge the existing conversation"
        )
    elif history and (sent or completed) and lead.industry:
        angle = (
            f"proven in {lead.industry}: {sent + completed} of {len(history)} similar leads "
            "engaged; lead with a peer example"
        )
    elif lead.interest:
        angle = "first contact: answer what they asked about, then offer time"
    else:
        angle = "first contact: short intro with one relevant example"
    return SimilarPatterns(
        matches=len(history),
        drafts_sent=sent,
        tasks_completed=completed,
        same_domain=len(same_domain),
        angle=angle,
    )


def find_similar_patterns(history: LeadHistory, lead: Lead) -> SimilarPatterns:
    """Look up similar past leads and summarise them."""
    return summarise_patterns(lead, history.similar_leads(lead))
