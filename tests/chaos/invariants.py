"""What must hold after any fault: every acknowledged lead has exactly one workflow, which
finished, with one draft (or one sent email) and one task, in our tables and at the vendors.

One check for every scenario. Leads are named the way they were acknowledged: a webhook
delivery by its submission id (HubSpot's formSubmissionId; a re-delivery carries the same
one), an imported row by its email. At the sandbox each effect is found by the marker our
writes carry: the draft's or sent message's Message-ID and the task body's
`[sales-agent workflow <id>]`, never by our own ids, so a duplicate written behind our back
(an uncertain write redone) is counted too.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Collection
from dataclasses import dataclass, field

import httpx
from sqlalchemy import or_, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from sales_agent_pipeline.connectors.gmail_mime import marker_message_id
from sales_agent_pipeline.db.models import DraftEmail, FormSubmission, HubspotTask, Workflow
from sales_agent_pipeline.domain.enums import SubmissionSource, WorkflowStatus
from sales_agent_pipeline.steps.create_hubspot_task import task_marker
from tests.e2e.conftest import RunningStack

# Finished states. dead_letter is not one: a lead there still waits for a re-drive.
TERMINAL = {
    WorkflowStatus.SUCCEEDED.value,
    WorkflowStatus.FAILED.value,
    WorkflowStatus.SKIPPED.value,
    WorkflowStatus.REJECTED.value,
}


@dataclass(frozen=True)
class Lead:
    """One workflow of an acknowledged lead, with what our tables say it produced."""

    key: str
    workflow_id: uuid.UUID
    status: str
    reason: str | None
    email: str
    gmail_id: str | None
    task_id: str | None
    run_id: str | None
    attempts: int


@dataclass
class Outcome:
    """The check's findings; `problems` is empty when every invariant holds."""

    statuses: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        head = f"statuses {dict(self.statuses)}; {len(self.problems)} problem(s)"
        return "\n".join([head, *self.problems[:40]])


def _leads(
    engine: Engine, submission_ids: Collection[str], imported: Collection[str]
) -> list[Lead]:
    """Every workflow of these submission ids and imported emails, with its outputs."""
    key_of_import = FormSubmission.email
    query = (
        select(
            FormSubmission.hubspot_submission_id,
            FormSubmission.source,
            key_of_import,
            Workflow.id,
            Workflow.status,
            Workflow.failure_reason,
            Workflow.dagster_run_id,
            Workflow.attempts,
            DraftEmail.gmail_draft_id,
            DraftEmail.gmail_message_id,
            DraftEmail.sent,
            HubspotTask.hubspot_task_id,
        )
        .join(Workflow, Workflow.form_submission_id == FormSubmission.id)
        .outerjoin(DraftEmail, DraftEmail.workflow_id == Workflow.id)
        .outerjoin(HubspotTask, HubspotTask.workflow_id == Workflow.id)
        .where(
            or_(
                FormSubmission.hubspot_submission_id.in_(list(submission_ids)),
                (FormSubmission.source == SubmissionSource.IMPORT.value)
                & FormSubmission.email.in_(list(imported)),
            )
        )
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return [
        Lead(
            key=row.email if row.source == SubmissionSource.IMPORT.value else row[0],
            workflow_id=row.id,
            status=row.status,
            reason=row.failure_reason,
            email=row.email,
            gmail_id=row.gmail_message_id if row.sent else row.gmail_draft_id,
            task_id=row.hubspot_task_id,
            run_id=row.dagster_run_id,
            attempts=row.attempts,
        )
        for row in rows
    ]


def settled(
    engine: Engine,
    submission_ids: Collection[str],
    imported: Collection[str] = (),
    timeout: float = 120,
) -> list[Lead]:
    """The leads once none is running, queued or dead-lettered (or as they are at the
    timeout: the check then names what is still open)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            leads = _leads(engine, submission_ids, imported)
        except OperationalError:
            # Our own pooled connections died with a PostgreSQL restart; the pool has
            # dropped them, so the next attempt opens new ones.
            assert time.monotonic() < deadline, "PostgreSQL did not come back"
            time.sleep(1)
            continue
        if all(lead.status in TERMINAL for lead in leads) or time.monotonic() > deadline:
            return leads
        time.sleep(1)


def _sandbox_effects(stack: RunningStack) -> tuple[Counter[str], Counter[str], Counter[str]]:
    """Messages (drafts and sent) per Message-ID, tasks per marker-bearing body, contacts
    per email: everything the sandbox holds."""
    gmail = httpx.get(f"{stack.sandbox}/_sandbox/state?section=gmail", timeout=60).json()
    messages: Counter[str] = Counter(
        (message["headers"].get("Message-ID") or "").strip()
        for box in gmail["gmail"].values()
        for message in box["messages"]
        if {"DRAFT", "SENT"} & set(message["labelIds"])
    )
    tasks = Counter(
        task["properties"].get("hs_task_body") or ""
        for task in httpx.get(f"{stack.sandbox}/_sandbox/tasks", timeout=60).json()
    )
    contacts = Counter(
        (contact["properties"].get("email") or "").lower()
        for contact in httpx.get(f"{stack.sandbox}/_sandbox/contacts", timeout=60).json()
    )
    return messages, tasks, contacts


def check_exactly_once(
    stack: RunningStack,
    engine: Engine,
    submission_ids: Collection[str],
    imported: Collection[str] = (),
    timeout: float = 120,
) -> Outcome:
    """Wait (bounded) for these leads to finish, then check each has one workflow that
    succeeded, one draft or sent email and one task in our tables and at the sandbox, and
    one contact at the sandbox."""
    outcome = Outcome()
    leads = settled(engine, submission_ids, imported, timeout)
    by_key: dict[str, list[Lead]] = defaultdict(list)
    for lead in leads:
        by_key[lead.key].append(lead)
    for key in [*submission_ids, *imported]:
        if len(by_key.get(key, [])) != 1:
            outcome.problems.append(f"{key}: {len(by_key.get(key, []))} workflows, not 1")
    messages, tasks, contacts = _sandbox_effects(stack)
    task_markers = Counter[str]()
    for body, count in tasks.items():
        start = body.rfind("[sales-agent workflow ")
        if start >= 0:
            task_markers[body[start : body.index("]", start) + 1]] += count
    for lead in leads:
        outcome.statuses[lead.status] += 1
        where = (
            f"{lead.key} (workflow {lead.workflow_id}, {lead.status}, run {lead.run_id}, "
            f"attempt {lead.attempts})"
        )
        if lead.status != WorkflowStatus.SUCCEEDED.value:
            outcome.problems.append(f"{where}: not succeeded: {lead.reason}")
            continue
        if lead.gmail_id is None or lead.task_id is None:
            outcome.problems.append(f"{where}: our tables lack the draft or the task")
        at_gmail = messages[marker_message_id(str(lead.workflow_id))]
        at_hubspot = task_markers[task_marker(str(lead.workflow_id))]
        if (at_gmail, at_hubspot) != (1, 1):
            outcome.problems.append(
                f"{where}: {at_gmail} messages, {at_hubspot} tasks at the sandbox"
            )
        if contacts[lead.email.lower()] != 1:
            outcome.problems.append(f"{where}: {contacts[lead.email.lower()]} contacts")
    return outcome


def open_workflows(engine: Engine) -> Counter[str]:
    """Workflows of any lead that have not finished (dead-lettered ones included)."""
    with engine.connect() as conn:
        statuses = conn.execute(select(Workflow.status)).scalars().all()
    return Counter(status for status in statuses if status not in TERMINAL)
