"""What flows from step to step: the run's leads, each carrying every step's output so far."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict, Field

from sales_agent_pipeline.domain.enums import ErrorClass, WorkflowStatus
from sales_agent_pipeline.domain.lead import Lead
from sales_agent_pipeline.domain.models import Task, ThreadSummary
from sales_agent_pipeline.domain.schedule import MeetingSlot, TimePreferences
from sales_agent_pipeline.domain.workflow import (
    AssetChoice,
    CompanyResult,
    ContactResult,
    DraftContent,
    MailOutcome,
    NextStep,
    SimilarPatterns,
    ThreadContext,
    WorkItem,
)


class LeadState(BaseModel):
    """One lead's progress through the run; `outcome` is set once it stops early.

    A step's output is a field here. A step added to the table without a field of its own
    keeps its output as an extra (JSON-shaped), so a new step needs no change to this class.
    """

    model_config = ConfigDict(frozen=True, extra="allow")

    item: WorkItem
    outcome: WorkflowStatus | None = None
    reason: str | None = None
    error_class: ErrorClass | None = None
    lead: Lead | None = None
    contact: ContactResult | None = None
    company: CompanyResult | None = None
    threads: tuple[ThreadSummary, ...] = ()
    context: ThreadContext | None = None
    patterns: SimilarPatterns | None = None
    assets: AssetChoice | None = None
    slots: tuple[MeetingSlot, ...] = ()
    preferences: TimePreferences | None = None
    plan: NextStep | None = None
    draft: DraftContent | None = None
    mail: MailOutcome | None = None
    task: Task | None = None

    @property
    def workflow_id(self) -> uuid.UUID:
        """The workflow this state belongs to."""
        return self.item.workflow_id

    @property
    def active(self) -> bool:
        """True while the lead still goes through the steps."""
        return self.outcome is None


class LeadBatch(BaseModel):
    """The leads one run carries: one for a live lead, many for a backlog or a backfill."""

    model_config = ConfigDict(frozen=True)

    leads: tuple[LeadState, ...] = Field(default_factory=tuple)

    @property
    def active(self) -> list[LeadState]:
        """The leads still going."""
        return [state for state in self.leads if state.active]
