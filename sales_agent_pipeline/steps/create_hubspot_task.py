"""Step 12: the owner's follow-up task, due in two business days in the owner's time zone."""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

from sales_agent_pipeline.domain.models import NewTask, Task, task_marker
from sales_agent_pipeline.domain.workflow import DraftContent, NextStep
from sales_agent_pipeline.ports.effects import Effects
from sales_agent_pipeline.ports.vendors import CRM
from sales_agent_pipeline.steps.business_days import BusinessCalendar

DUE_AT = time(9, 0)
# The idempotency scope of task creation, batched or not: one task per workflow.
TASK_SCOPE = "hubspot.task.create"


def task_due(now: datetime, timezone: str, calendar: BusinessCalendar, days: int = 2) -> datetime:
    """9:00 in the owner's zone, `days` business days after today there."""
    zone = ZoneInfo(timezone)
    day = calendar.add_business_days(now.astimezone(zone).date(), days)
    return datetime.combine(day, DUE_AT, tzinfo=zone)


def build_task(
    *,
    workflow_id: str,
    draft: DraftContent,
    plan: NextStep,
    draft_link: str | None,
    due_at: datetime,
    owner_id: str | None,
    contact_id: str,
    company_id: str | None,
    sent: bool,
) -> NewTask:
    """The task: what was prepared, why, where to find it."""
    verb = "Sent" if sent else "Review and send the prepared"
    lines = [
        f'{verb} follow-up to {draft.to}: "{draft.subject}".',
        f"Call to action: {plan.action.value.replace('_', ' ')} ({plan.reason}).",
    ]
    if draft_link:
        lines.append(f"Gmail: {draft_link}")
    lines.extend(["", draft.text_body[:1500], task_marker(workflow_id)])
    return NewTask(
        subject=f"Follow up with {draft.to}",
        body="\n".join(lines),
        due_at=due_at,
        priority="HIGH" if plan.slots else "MEDIUM",
        task_type="EMAIL",
        owner_id=owner_id,
        contact_id=contact_id,
        company_id=company_id,
    )


def create_hubspot_task(crm: CRM, effects: Effects, workflow_id: str, task: NewTask) -> Task:
    """Create the task once per workflow, whatever retries or re-runs happen."""
    return effects.once(
        TASK_SCOPE,
        workflow_id,
        lambda: crm.create_task(task),
        model=Task,
        recover=lambda: crm.find_task_by_marker(task_marker(workflow_id)),
    )
