"""Step 13: label the thread in Gmail so the owner sees what the agent touched."""

from __future__ import annotations

from sales_agent_pipeline.domain.errors import PermanentError
from sales_agent_pipeline.domain.workflow import MailOutcome
from sales_agent_pipeline.ports.vendors import Mail

LABEL = "Sales Agent"


def label_thread(mail: Mail, outcome: MailOutcome | None, label: str = LABEL) -> str | None:
    """Add the agent's label to the draft's or sent message's thread; returns the thread id."""
    if outcome is None or outcome.thread_id is None:
        return None
    try:
        mail.add_thread_label(outcome.thread_id, mail.ensure_label(label).id)
    except PermanentError as exc:
        # Gmail refuses a label id it no longer has (400): the remembered label was deleted
        # by the owner since. Find or create it again, once.
        if exc.http_status not in (400, 404):
            raise
        mail.add_thread_label(outcome.thread_id, mail.ensure_label(label, cached=False).id)
    return outcome.thread_id
