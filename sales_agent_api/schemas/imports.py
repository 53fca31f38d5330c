"""Bulk imports as the operator API shows them: the per-row report and the progress."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field


class ImportRow(BaseModel):
    """One data row of the file (numbered from 1, the header not counted)."""

    row: int
    email: str
    status: Literal["accepted", "rejected"]
    reason: str | None = Field(description="why the row was rejected; null when accepted")
    workflow_id: uuid.UUID | None = Field(description="the accepted lead's workflow")


class ImportCreated(BaseModel):
    """The stored import and what happened to each row."""

    import_id: uuid.UUID
    filename: str
    rows_total: int
    rows_accepted: int
    rows_rejected: int
    rows: list[ImportRow]


class ImportRejection(BaseModel):
    """A rejected row as the import keeps it."""

    row: int
    email: str
    reason: str | None


class ImportProgress(BaseModel):
    """Where the import's leads are, the rate so far and the time left at that rate."""

    done: int = Field(description="leads whose workflow succeeded (or was skipped)")
    failed: int = Field(description="leads whose workflow failed or was rejected")
    dead_letter: int = Field(
        description="leads in the dead-letter queue (transient errors outlasted their "
        "retries): re-driven automatically, then kept for a person"
    )
    remaining: int = Field(description="leads waiting for or in a run")
    running: int
    leads_per_minute: float | None = Field(description="null until a lead has finished")
    estimated_seconds_remaining: float | None = Field(
        description="remaining / rate so far; null until a lead has finished"
    )


class ImportDetail(BaseModel):
    """An import: its counts, its rejected rows and its leads' progress."""

    import_id: uuid.UUID
    filename: str
    status: Literal["accepted", "running", "completed", "failed"]
    created_at: datetime
    completed_at: datetime | None
    rows_total: int
    rows_accepted: int
    rows_rejected: int
    rejections: list[ImportRejection]
    progress: ImportProgress
