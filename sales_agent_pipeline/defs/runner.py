"""The audit record around every step: per lead, events, errors, outcome, retries.

One run carries one lead or many. Each lead keeps its own trail and outcome: a lead's
permanent error stops that lead only; transient errors retry the op (Dagster's
RetryRequested), and the leads the op already finished are taken from their events.
"""

from __future__ import annotations

import functools
import random
import time
import traceback
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from dagster import Failure, MetadataValue, OpExecutionContext, RetryRequested
from sqlalchemy.orm import Session, sessionmaker

from sales_agent_pipeline.connectors.hubspot_oauth import GrantRevoked
from sales_agent_pipeline.db.repositories import audit, workflows
from sales_agent_pipeline.domain.enums import ErrorClass, StepStatus, WorkflowStatus
from sales_agent_pipeline.domain.errors import LeadRejected, PipelineError, TransientError
from sales_agent_pipeline.workflow.state import LeadBatch, LeadState

BACKOFF_CAP_SECONDS = 60.0

STEPS: tuple[str, ...] = (
    "validate_payload",
    "resolve_contact",
    "resolve_company",
    "search_gmail_threads",
    "read_thread_context",
    "find_similar_patterns",
    "hunt_drive_assets",
    "propose_meeting_slots",
    "plan_next_step",
    "write_draft",
    "create_gmail_draft",
    "create_hubspot_task",
    "record_audit",
)

# A step returns the LeadState fields it fills in.
StepWork = Callable[[LeadState], dict[str, Any]]


@functools.cache
def _lead_pool(workers: int) -> ThreadPoolExecutor:
    """The run process's threads for concurrent steps, shared by every op of the run.

    One pool for the process rather than one per op: the Google clients keep a service per
    thread (httplib2 is not thread-safe), and building one costs more than a call.
    """
    return ThreadPoolExecutor(max_workers=workers, thread_name_prefix="lead")


def backoff_seconds(
    attempt: int, retry_after: float | None, rng: random.Random, base: float = 1.0
) -> float:
    """Exponential backoff with jitter, never shorter than the server's Retry-After."""
    ceiling = min(BACKOFF_CAP_SECONDS, base * 2**attempt)
    return max(retry_after or 0.0, rng.uniform(ceiling / 2, ceiling))


def _classify(error: BaseException) -> tuple[ErrorClass, int | None]:
    if isinstance(error, PipelineError):
        return error.error_class, error.http_status
    # Our own bug or an unclassified library error: never retried blindly.
    return ErrorClass.PERMANENT, None


def _restore(state: LeadState, details: dict[str, Any]) -> LeadState:
    if "outcome" in details:
        error_class = details.get("error_class")
        return state.model_copy(
            update={
                "outcome": WorkflowStatus(details["outcome"]),
                "reason": details.get("reason"),
                "error_class": ErrorClass(error_class) if error_class else None,
            }
        )
    merged = {**state.model_dump(mode="json"), **details.get("output", {})}
    return LeadState.model_validate(merged)


class StepRunner:
    """Runs one step over a batch with the audit trail, outcomes and retry policy."""

    def __init__(
        self,
        context: OpExecutionContext,
        sessions: sessionmaker[Session],
        name: str,
        *,
        max_retries: int = 4,
        retry_base_seconds: float = 1.0,
        concurrency: int = 1,
        rng: random.Random | None = None,
        on_done: Callable[[], None] | None = None,
    ) -> None:
        self.context = context
        # Called when the step ends, however it ends (the tenants' usage counters are
        # written then: once per op, not once per call).
        self.on_done = on_done
        self.concurrency = concurrency
        self.max_retries = max_retries
        self.retry_base_seconds = retry_base_seconds
        self.sessions = sessions
        self.name = name
        self.number = STEPS.index(name) + 1
        self.run_id = context.run_id
        self.rng = rng or random.Random()  # noqa: S311 (jitter, not security)

    def _event_in(
        self, session: Session, state: LeadState, status: StepStatus, **values: Any
    ) -> None:
        audit.record_event(
            session,
            state.workflow_id,
            event_type=f"step_{status.value}",
            status=status,
            step_number=self.number,
            step_name=self.name,
            run_id=self.run_id,
            **values,
        )

    def _event(self, state: LeadState, status: StepStatus, **values: Any) -> None:
        with self.sessions.begin() as session:
            self._event_in(session, state, status, **values)

    def _error_in(
        self,
        session: Session,
        state: LeadState,
        error: BaseException,
        error_class: ErrorClass,
        http_status: int | None,
        trace: str | None,
    ) -> None:
        audit.record_error(
            session,
            state.workflow_id,
            error_class=error_class,
            error=error,
            step_number=self.number,
            step_name=self.name,
            traceback=trace,
            http_status=http_status,
            attempt=self.context.retry_number + 1,
        )

    def _stop(
        self, state: LeadState, error: BaseException, outcome: WorkflowStatus, ms: int
    ) -> LeadState:
        error_class, http_status = _classify(error)
        reason = f"step {self.number} {self.name}: {error}"
        trace = "".join(traceback.format_exception(error))
        with self.sessions.begin() as session:
            self._error_in(session, state, error, error_class, http_status, trace)
            self._event_in(
                session,
                state,
                StepStatus.FAILED,
                duration_ms=ms,
                details={
                    "outcome": outcome.value,
                    "reason": reason,
                    "error_class": error_class.value,
                    "http_status": http_status,
                },
            )
            workflows.finish(session, state.workflow_id, outcome, reason=reason)
        return state.model_copy(
            update={"outcome": outcome, "reason": reason, "error_class": error_class}
        )

    def skip(self, state: LeadState, reason: str) -> LeadState:
        """End a lead early without error (e.g. a throttled repeat submitter)."""
        with self.sessions.begin() as session:
            self._event_in(
                session,
                state,
                StepStatus.SKIPPED,
                details={"outcome": WorkflowStatus.SKIPPED.value, "reason": reason},
            )
            workflows.finish(session, state.workflow_id, WorkflowStatus.SKIPPED, reason=reason)
        return state.model_copy(update={"outcome": WorkflowStatus.SKIPPED, "reason": reason})

    def run(
        self, batch: LeadBatch, work: StepWork, *, group: Callable[[LeadState], object] = id
    ) -> LeadBatch:
        """Apply `work` to every active lead (see `_run`), then the `on_done` hook."""
        try:
            return self._run(batch, work, group=group)
        finally:
            if self.on_done is not None:
                self.on_done()

    def _run(
        self, batch: LeadBatch, work: StepWork, *, group: Callable[[LeadState], object] = id
    ) -> LeadBatch:
        """Apply `work` to every active lead; returns the batch with this step's outputs.

        With `concurrency` above 1 the leads' work overlaps on that many threads (their
        vendor calls and commits wait on the network, not the CPU); each lead keeps its own
        events, outcome and place in the batch. Leads with the same `group` value go one
        after the other, in batch order (leads of one company, say); by default each lead
        is a group of its own.
        """
        ids = [state.workflow_id for state in batch.active]
        with self.sessions() as session:
            done = audit.step_outcomes(session, self.run_id, self.name, ids)
        results = list(batch.leads)
        todo: list[int] = []
        for index, state in enumerate(batch.leads):
            if not state.active:
                continue
            if state.workflow_id in done:
                results[index] = _restore(state, done[state.workflow_id])
            else:
                todo.append(index)

        groups: dict[object, list[int]] = {}
        for index in todo:
            groups.setdefault(group(batch.leads[index]), []).append(index)

        def one_group(indexes: list[int]) -> list[tuple[int, LeadState, TransientError | None]]:
            return [(index, *self._lead(batch.leads[index], work)) for index in indexes]

        if self.concurrency > 1 and len(groups) > 1:
            done_groups = _lead_pool(self.concurrency).map(one_group, groups.values())
        else:
            done_groups = map(one_group, groups.values())
        outcomes = [outcome for outcomes in done_groups for outcome in outcomes]
        transient: list[tuple[int, LeadState, TransientError]] = []
        for index, state, error in outcomes:
            results[index] = state
            if error is not None:
                transient.append((index, state, error))
        if transient:
            self._handle_transient(transient, results)
        outcome = LeadBatch(leads=tuple(results))
        self._fail_if_nothing_left(batch, outcome)
        return outcome

    def _lead(self, state: LeadState, work: StepWork) -> tuple[LeadState, TransientError | None]:
        """One lead through the step: its events, and its new state or why it stopped."""
        self._event(state, StepStatus.STARTED)
        started = time.perf_counter()
        try:
            update = work(state)
        except TransientError as error:
            self._retrying(state, error, int((time.perf_counter() - started) * 1000))
            return state, error
        except LeadRejected as error:
            ms = int((time.perf_counter() - started) * 1000)
            return self._stop(state, error, WorkflowStatus.REJECTED, ms), None
        except GrantRevoked as error:
            ms = int((time.perf_counter() - started) * 1000)
            return self.wait(state, error.message, ms), None
        except Exception as error:
            ms = int((time.perf_counter() - started) * 1000)
            return self._stop(state, error, WorkflowStatus.FAILED, ms), None
        ms = int((time.perf_counter() - started) * 1000)
        skip = update.pop("skip_reason", None)
        new_state = state.model_copy(update=update)
        output = new_state.model_dump(mode="json", include=set(update))
        self._event(new_state, StepStatus.SUCCEEDED, duration_ms=ms, details={"output": output})
        return (self.skip(new_state, skip) if skip else new_state), None

    def wait(self, state: LeadState, reason: str, ms: int | None = None) -> LeadState:
        """Stop a lead without failing it: its tenant cannot run now (HubSpot refused the
        grant, or the tenant was disabled). It goes back to wait for a run, this attempt not
        counted, and the sensors launch it once the tenant is re-authorised or enabled."""
        with self.sessions.begin() as session:
            self._event_in(
                session,
                state,
                StepStatus.SKIPPED,
                duration_ms=ms,
                details={
                    "outcome": WorkflowStatus.QUEUED.value,
                    "reason": reason,
                    "waiting": True,
                },
            )
            workflows.hold(session, state.workflow_id, reason, run_id=self.run_id)
        self.context.log.warning(f"{self.name}: workflow {state.workflow_id} waits: {reason}")
        return state.model_copy(
            update={
                "outcome": WorkflowStatus.QUEUED,
                "reason": reason,
                "error_class": ErrorClass.CONFIGURATION,
            }
        )

    def _retrying(self, state: LeadState, error: TransientError, ms: int) -> None:
        with self.sessions.begin() as session:
            self._error_in(session, state, error, ErrorClass.TRANSIENT, error.http_status, None)
            self._event_in(
                session,
                state,
                StepStatus.RETRYING,
                duration_ms=ms,
                details={"error": str(error), "retry_after": error.retry_after_seconds},
            )

    def _handle_transient(
        self, transient: list[tuple[int, LeadState, TransientError]], results: list[LeadState]
    ) -> None:
        attempt = self.context.retry_number
        if attempt < self.max_retries:
            wait = backoff_seconds(
                attempt,
                max((e.retry_after_seconds or 0.0) for _, _, e in transient),
                self.rng,
                self.retry_base_seconds,
            )
            self.context.log.warning(
                f"{self.name}: {len(transient)} lead(s) hit transient errors; retry "
                f"{attempt + 1}/{self.max_retries} in {wait:.1f}s: {transient[0][2]}"
            )
            raise RetryRequested(max_retries=self.max_retries, seconds_to_wait=wait) from transient[
                0
            ][2]
        for index, state, error in transient:
            exhausted = TransientError(
                f"still failing after {self.max_retries} retries: {error}",
                http_status=error.http_status,
                vendor_message=error.vendor_message,
            )
            results[index] = self._stop(state, exhausted, WorkflowStatus.FAILED, 0)

    def _fail_if_nothing_left(self, before: LeadBatch, after: LeadBatch) -> None:
        stopped_here = [
            state
            for old, state in zip(before.leads, after.leads, strict=True)
            if old.active and not state.active
        ]
        if after.active:
            return
        waiting = [state for state in stopped_here if state.outcome is WorkflowStatus.QUEUED]
        failed_here = [state for state in stopped_here if state.outcome is WorkflowStatus.FAILED]
        if waiting and not failed_here:
            raise_waiting(self.name, {s.workflow_id: s.reason or "" for s in waiting})
        if not failed_here:
            return
        # Every lead of the run failed: the run fails, naming the step and the vendor's answer.
        first = failed_here[0]
        configuration = any(s.error_class is ErrorClass.CONFIGURATION for s in failed_here)
        raise Failure(
            description=first.reason,
            metadata={
                "step": MetadataValue.text(self.name),
                "workflows": MetadataValue.text(", ".join(str(s.workflow_id) for s in failed_here)),
                "error_class": MetadataValue.text(
                    first.error_class.value if first.error_class else "permanent"
                ),
                "alert": MetadataValue.bool(configuration),
            },
        )


def raise_waiting(step: str, waiting: dict[uuid.UUID, str]) -> None:
    """End a run whose remaining leads all wait for their tenant (re-authorisation, or
    enabling): a failed run in the UI with the reason, though no workflow failed."""
    reasons = sorted(set(waiting.values()))
    raise Failure(
        description=f"{len(waiting)} lead(s) wait, none failed: " + "; ".join(reasons),
        metadata={
            "step": MetadataValue.text(step),
            "waiting": MetadataValue.text(", ".join(str(w) for w in waiting)),
            "error_class": MetadataValue.text(ErrorClass.CONFIGURATION.value),
            "alert": MetadataValue.bool(True),
        },
        allow_retries=False,
    )
