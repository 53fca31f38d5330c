"""Step 13: label the thread in Gmail so the owner sees what the agent touched."""

from __future__ import annotations

from sales_agent_pipeline.connectors.protocols import Mail
from sales_agent_pipeline.domain.workflow import MailOutcome

LABEL = "Sales Agent"


def label_thread(mail: Mail, outcome: MailOutcome | None, label: str = LABEL) -> str | None:
    """Add the agent's label to the draft's or sent message's thread; returns the thread id."""
    if outcome is None or outcome.thread_id is None:
        return None
    label_id = mail.ensure_label(label).id
    mail.add_thread_label(outcome.thread_id, label_id)
    return outcome.thread_id
