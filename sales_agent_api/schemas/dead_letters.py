"""The dead-letter queue as the admin API shows it, and the actions on it."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, model_validator

from sales_agent_pipeline.domain.enums import WorkflowStatus

# Ids per call: a page of the listing's maximum, well within one statement's parameters.
MAX_IDS = 500


class DeadLetterView(BaseModel):
    """A workflow whose transient retries ran out: why, how often it was re-driven, and
    when the next automatic re-drive is due (null: it waits for a person)."""

    model_config = ConfigDict(from_attributes=True)

    workflow_id: uuid.UUID
    portal_id: int
    prospect_email: str
    error_class: str | None
    failure_reason: str | None
    redrives: int
    next_redrive_at: datetime | None = Field(description="null: no automatic re-drive is left")
    dead_since: datetime | None
    created_at: datetime


class DeadLetterList(BaseModel):
    """The tenant's dead letters, newest first."""

    items: list[DeadLetterView]


class ReplayRequest(BaseModel):
    """Which dead letters to replay: the ids given, or every one of the tenant's."""

    model_config = ConfigDict(extra="forbid")

    workflow_ids: list[uuid.UUID] = Field(default_factory=list, max_length=MAX_IDS)
    all: bool = Field(default=False, description="replay every dead letter of the tenant")

    @model_validator(mode="after")
    def _ids_or_all(self) -> ReplayRequest:
        if self.all == bool(self.workflow_ids):
            raise ValueError("give workflow_ids, or all: true (not both)")
        return self


class DiscardRequest(BaseModel):
    """Which dead letters to fail for good, and why (kept as their failure reason)."""

    model_config = ConfigDict(extra="forbid")

    workflow_ids: list[uuid.UUID] = Field(min_length=1, max_length=MAX_IDS)
    reason: str = Field(min_length=1, max_length=500, pattern=r"\S")


class DeadLetterReceipt(BaseModel):
    """What an action did: the workflows and their status now (queued: a run is asked for
    after the answer, and the sensor launches it if Dagster does not)."""

    workflow_ids: list[uuid.UUID]
    status: WorkflowStatus
