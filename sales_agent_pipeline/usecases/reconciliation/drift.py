"""Drift: a succeeded workflow's task or draft changed outside the product.

Recorded once per kind as a workflow event; nothing is ever re-created.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime

import structlog
from sqlalchemy.orm import Session, sessionmaker

from sales_agent_pipeline.db.repositories import audit
from sales_agent_pipeline.db.repositories import reconciliation as repo
from sales_agent_pipeline.db.repositories.reconciliation import Outputs
from sales_agent_pipeline.domain.enums import StepStatus, TaskStatus
from sales_agent_pipeline.domain.errors import PipelineError
from sales_agent_pipeline.domain.models import Task
from sales_agent_pipeline.ports.vendors import CRM, Mail

log = structlog.get_logger(__name__)

TASK_COMPLETED = "drift.task_completed"
TASK_DELETED = "drift.task_deleted"
DRAFT_SENT = "drift.draft_sent"
DRAFT_DELETED = "drift.draft_deleted"


@dataclass
class DriftSummary:
    """What one pass checked and found."""

    checked: int = 0
    found: dict[str, int] = field(default_factory=dict)
    errors: int = 0


def _task_drift(tasks: Mapping[str, Task], outputs: Outputs) -> tuple[str, dict[str, str]] | None:
    task_id = outputs.hubspot_task_id
    if task_id is None or _noted_task(outputs):
        return None
    task = tasks.get(task_id)
    if task is None:
        return TASK_DELETED, {"hubspot_task_id": task_id}
    if task.status == TaskStatus.COMPLETED.value:
        return TASK_COMPLETED, {"hubspot_task_id": task_id}
    return None


def _noted_task(outputs: Outputs) -> bool:
    return bool({TASK_COMPLETED, TASK_DELETED} & outputs.noted)


def _draft_drift(
    mail: Mail, drafts: set[str], outputs: Outputs
) -> tuple[str, dict[str, str]] | None:
    draft_id = outputs.gmail_draft_id
    if draft_id is None or outputs.draft_sent or {DRAFT_SENT, DRAFT_DELETED} & outputs.noted:
        return None
    if draft_id in drafts:
        return None
    details = {"gmail_draft_id": draft_id}
    # The draft's Message-ID carries the workflow id: a send by hand keeps it.
    sent = (
        mail.find_sent_by_marker(outputs.draft_to, str(outputs.workflow_id))
        if outputs.draft_to
        else None
    )
    if sent is not None:
        return DRAFT_SENT, {**details, "gmail_message_id": sent.message_id}
    return DRAFT_DELETED, details


def check_drift(
    sessions: sessionmaker[Session],
    crm_for: Callable[[], CRM],
    mail_for: Callable[[], Mail],
    *,
    since: datetime,
    tenant_ids: Collection[uuid.UUID] | None = None,
    run_id: str | None = None,
) -> DriftSummary:
    """Look at the task and draft of each workflow that succeeded since `since`.

    `crm_for` and `mail_for` give the connectors of the tenant whose outputs these are
    (one tenant per call: its portal and its mailbox); they are built only when there is
    something to check.
    """
    summary = DriftSummary()
    with sessions() as session:
        candidates = repo.recent_outputs(session, since, tenant_ids)
    if not candidates:
        return summary
    try:
        crm, mail = crm_for(), mail_for()
    except PipelineError as exc:
        summary.errors += 1
        log.warning("reconciliation.drift_unchecked", error=exc.message)
        return summary
    wanted = [o.hubspot_task_id for o in candidates if o.hubspot_task_id and not _noted_task(o)]
    tasks: Mapping[str, Task] | None = None
    try:
        # One batch read per 100 tasks, not a call per task: the HubSpot budget is shared
        # with live leads.
        tasks = crm.get_tasks(wanted)
    except PipelineError as exc:
        summary.errors += 1
        log.warning("reconciliation.drift_tasks_unread", error=exc.message)
    drafts: set[str] | None = None
    try:
        # The mailbox's draft ids, 500 a page, rather than a drafts.get per workflow.
        drafts = mail.list_draft_ids() if candidates else set()
    except PipelineError as exc:
        summary.errors += 1
        log.warning("reconciliation.drift_drafts_unlisted", error=exc.message)
    for outputs in candidates:
        summary.checked += 1
        found: list[tuple[str, dict[str, str]]] = []
        probe = _task_drift(tasks, outputs) if tasks is not None else None
        if probe is not None:
            found.append(probe)
        try:
            probe = _draft_drift(mail, drafts, outputs) if drafts is not None else None
        except PipelineError as exc:
            summary.errors += 1
            log.warning(
                "reconciliation.drift_check_failed",
                workflow_id=str(outputs.workflow_id),
                error=exc.message,
            )
            probe = None
        if probe is not None:
            found.append(probe)
        if not found:
            continue
        with sessions.begin() as session:
            for event_type, details in found:
                audit.record_event(
                    session,
                    outputs.workflow_id,
                    event_type=event_type,
                    status=StepStatus.SUCCEEDED,
                    step_name="reconcile_drift",
                    details={**details, "note": "changed outside the product; not re-created"},
                    run_id=run_id,
                )
                summary.found[event_type] = summary.found.get(event_type, 0) + 1
        log.info(
            "reconciliation.drift",
            workflow_id=str(outputs.workflow_id),
            kinds=[kind for kind, _ in found],
        )
    return summary
