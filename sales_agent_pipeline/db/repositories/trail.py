"""The runner's audit trail over PostgreSQL: one transaction per call."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from sales_agent_pipeline.db.repositories import audit, workflows
from sales_agent_pipeline.domain.enums import ErrorClass, StepStatus, WorkflowStatus


class PostgresTrail:
    """The trail of one Dagster run's leads (every event carries the run id); a lead sent
    to the dead-letter queue is re-driven after `redrive_delays` (DLQ_REDRIVE_DELAYS)."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        run_id: str,
        *,
        redrive_delays: Sequence[timedelta],
    ) -> None:
        self._sessions = sessions
        self._run_id = run_id
        self._redrive_delays = redrive_delays

    def _event(
        self,
        session: Session,
        workflow_id: uuid.UUID,
        number: int,
        step: str,
        status: StepStatus,
        **values: Any,
    ) -> None:
        audit.record_event(
            session,
            workflow_id,
            event_type=f"step_{status.value}",
            status=status,
            step_number=number,
            step_name=step,
            run_id=self._run_id,
            **values,
        )

    def begin(
        self, step: str, number: int, workflow_ids: list[uuid.UUID]
    ) -> dict[uuid.UUID, dict[str, Any]]:
        """What this run already decided for `step`, per lead; a started event for each
        other lead (one multi-row insert), in one transaction."""
        with self._sessions.begin() as session:
            done = audit.step_outcomes(session, self._run_id, step, workflow_ids)
            audit.record_started(
                session,
                [workflow_id for workflow_id in workflow_ids if workflow_id not in done],
                step_number=number,
                step_name=step,
                run_id=self._run_id,
            )
            return done

    def succeeded(
        self, workflow_id: uuid.UUID, number: int, step: str, ms: int, output: dict[str, Any]
    ) -> None:
        """The step finished for this lead."""
        with self._sessions.begin() as session:
            self._event(
                session,
                workflow_id,
                number,
                step,
                StepStatus.SUCCEEDED,
                duration_ms=ms,
                details={"output": output},
            )

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
        """A transient error and the retrying event."""
        with self._sessions.begin() as session:
            audit.record_error(
                session,
                workflow_id,
                error_class=ErrorClass.TRANSIENT,
                error=error,
                step_number=number,
                step_name=step,
                traceback=None,
                http_status=http_status,
                attempt=attempt,
            )
            self._event(
                session,
                workflow_id,
                number,
                step,
                StepStatus.RETRYING,
                duration_ms=ms,
                details={"error": str(error), "retry_after": retry_after},
            )

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
        """The error, the failed event and the workflow's end, in one transaction."""
        with self._sessions.begin() as session:
            audit.record_error(
                session,
                workflow_id,
                error_class=error_class,
                error=error,
                step_number=number,
                step_name=step,
                traceback=trace,
                http_status=http_status,
                attempt=attempt,
            )
            self._event(
                session,
                workflow_id,
                number,
                step,
                StepStatus.FAILED,
                duration_ms=ms,
                details={
                    "outcome": outcome.value,
                    "reason": reason,
                    "error_class": error_class.value,
                    "http_status": http_status,
                },
            )
            workflows.finish(
                session,
                workflow_id,
                outcome,
                reason=reason,
                error_class=error_class,
                redrive_delays=self._redrive_delays,
            )

    def skipped(self, workflow_id: uuid.UUID, number: int, step: str, reason: str) -> None:
        """The skipped event and the workflow closed as skipped."""
        with self._sessions.begin() as session:
            self._event(
                session,
                workflow_id,
                number,
                step,
                StepStatus.SKIPPED,
                details={"outcome": WorkflowStatus.SKIPPED.value, "reason": reason},
            )
            workflows.finish(session, workflow_id, WorkflowStatus.SKIPPED, reason=reason)

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
        """The waiting event; the workflow goes back to the queue for its tenant, and is
        not launched again for `not_before_seconds` when given."""
        with self._sessions.begin() as session:
            self._event(
                session,
                workflow_id,
                number,
                step,
                StepStatus.SKIPPED,
                duration_ms=ms,
                details={
                    "outcome": WorkflowStatus.QUEUED.value,
                    "reason": reason,
                    "waiting": True,
                },
            )
            workflows.hold(
                session,
                workflow_id,
                reason,
                run_id=self._run_id,
                not_before_seconds=not_before_seconds,
            )
