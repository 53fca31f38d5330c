"""The workflow's audit trail as the runner writes it: step events, errors and outcomes."""

from __future__ import annotations

import uuid
from typing import Any, Protocol

from sales_agent_pipeline.domain.enums import ErrorClass, WorkflowStatus


class Trail(Protocol):
    """One run's writes to its leads' trails; each call is one transaction."""

    def begin(
        self, step: str, number: int, workflow_ids: list[uuid.UUID]
    ) -> dict[uuid.UUID, dict[str, Any]]:
        """The step begins for the run's leads: what this run already decided for `step`,
        per lead (its final event's details), and a started event for each of the others,
        all in one transaction (one commit per step, not one per lead)."""
        ...

    def succeeded(
        self, workflow_id: uuid.UUID, number: int, step: str, ms: int, output: dict[str, Any]
    ) -> None:
        """The step finished for this lead with `output` (its new state fields, as JSON)."""
        ...

    def retrying(
        self,
        workflow_id: uuid.UUID,
        number: int,
        step: str,
        error: BaseException,
        *,
        http_status: int | None,
        retry_after: float | None,
        ms: int,
        attempt: int,
    ) -> None:
        """A transient error: the error and a retrying event."""
        ...

    def stopped(
        self,
        workflow_id: uuid.UUID,
        number: int,
        step: str,
        error: BaseException,
        *,
        outcome: WorkflowStatus,
        reason: str,
        error_class: ErrorClass,
        http_status: int | None,
        trace: str,
        ms: int,
        attempt: int,
    ) -> None:
        """The lead stops here (rejected or failed): the error, the event, the workflow's end."""
        ...

    def skipped(self, workflow_id: uuid.UUID, number: int, step: str, reason: str) -> None:
        """The lead ends early without error; the workflow is closed as skipped."""
        ...

    def waiting(
        self,
        workflow_id: uuid.UUID,
        number: int,
        step: str,
        reason: str,
        ms: int | None,
        *,
        not_before_seconds: float | None = None,
    ) -> None:
        """The lead goes back to wait for its tenant (not an attempt); with
        `not_before_seconds`, no run is launched for it sooner than that."""
        ...
