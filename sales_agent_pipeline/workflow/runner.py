"""Runs one step of the table over a run's leads: the audit trail around each lead's work,
its outcome, and the retry policy. It knows no orchestrator: it returns an Outcome.

One run carries one lead or many. Each lead keeps its own trail and outcome: a lead's
permanent error stops that lead only; transient errors ask for the step again after a
backoff, and the leads the step already finished are taken from their events.
"""

from __future__ import annotations

import functools
import logging
import random
import time
import traceback
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass

import structlog

from sales_agent_pipeline import tracing
from sales_agent_pipeline.db.errors import as_transient
from sales_agent_pipeline.domain.enums import ErrorClass, WorkflowStatus
from sales_agent_pipeline.domain.errors import (
    BreakerOpen,
    GrantRevoked,
    LeadRejected,
    PipelineError,
    TransientError,
    WriteInProgress,
)
from sales_agent_pipeline.ports.trail import Trail
from sales_agent_pipeline.workflow.outcome import Done, Outcome, RetryAfter, Stopped
from sales_agent_pipeline.workflow.services import Log, Services
from sales_agent_pipeline.workflow.state import LeadBatch, LeadState
from sales_agent_pipeline.workflow.step import Step

BACKOFF_CAP_SECONDS = 60.0
# Our log lines about a lead carry its workflow id (bound per lead; the field's name).
log = structlog.get_logger(__name__)
_stdlib_log = logging.getLogger(__name__)


@functools.cache
def _lead_pool(workers: int) -> ThreadPoolExecutor:
    """The process's threads for concurrent steps, shared by every step of the run.

    One pool for the process rather than one per step: the Google clients keep a service
    per thread (httplib2 is not thread-safe), and building one costs more than a call.
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


def _restore(state: LeadState, details: dict[str, object]) -> LeadState:
    if "outcome" in details:
        error_class = details.get("error_class")
        return state.model_copy(
            update={
                "outcome": WorkflowStatus(str(details["outcome"])),
                "reason": details.get("reason"),
                "error_class": ErrorClass(str(error_class)) if error_class else None,
            }
        )
    output = details.get("output", {})
    assert isinstance(output, dict)
    merged = {**state.model_dump(mode="json"), **output}
    return LeadState.model_validate(merged)


def _ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)


_FAILED = frozenset({WorkflowStatus.FAILED.value, WorkflowStatus.DEAD_LETTER.value})


def _outcome(before: LeadState, after: LeadState, error: TransientError | None) -> str:
    """What became of a lead in a step, in a word: succeeded, retrying, or its new outcome
    (skipped, rejected, failed, dead_letter, queued)."""
    if error is not None:
        return "retrying"
    if after.outcome is not None and after.outcome != before.outcome:
        return after.outcome.value
    return "succeeded"


def _error_class(after: LeadState, error: TransientError | None) -> str | None:
    if error is not None:
        return error.error_class.value
    return after.error_class.value if after.error_class is not None else None


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how soon a step with transient errors runs again."""

    max_retries: int = 4
    base_seconds: float = 1.0


class StepRunner:
    """Runs the table's steps over a batch with the audit trail, outcomes and retry policy.

    `attempt` is the shell's retry number of the step (0 the first time).
    """

    def __init__(
        self,
        trail: Trail,
        log: Log,
        *,
        attempt: int = 0,
        policy: RetryPolicy | None = None,
        concurrency: int = 1,
        rng: random.Random | None = None,
        trace: tracing.RunTrace | None = None,
    ) -> None:
        self.trail = trail
        self.log = log
        self.attempt = attempt
        self.policy = policy or RetryPolicy()
        self.concurrency = concurrency
        self.rng = rng or random.Random()  # noqa: S311 (jitter, not security)
        # The run's trace (None: tracing is off): each lead's work in a step is a span.
        self.trace = trace
        # What the shell bound for its log lines (the run id), for the leads' threads.
        self._bound: dict[str, object] = {}

    def run(self, step: Step, batch: LeadBatch, services: Services) -> Outcome:
        """Apply the step's work to every active lead, its prefetch first.

        With `concurrency` above 1 (and a concurrent step) the leads' work overlaps on that
        many threads (their vendor calls and commits wait on the network, not the CPU);
        each lead keeps its own events, outcome and place in the batch. Leads with the
        same `group` value go one after the other, in batch order (leads of one company,
        say); by default each lead is a group of its own.
        """
        ids = [state.workflow_id for state in batch.active]
        # What a retry of this step in this run already finished; the rest start now.
        done = self.trail.begin(step.name, step.number, ids) if ids else {}
        results = list(batch.leads)
        todo: list[int] = []
        for index, state in enumerate(batch.leads):
            if not state.active:
                continue
            if state.workflow_id in done:
                results[index] = _restore(state, done[state.workflow_id])
            else:
                todo.append(index)

        self._bound = {
            k: v for k, v in structlog.contextvars.get_contextvars().items() if k != "workflow_id"
        }
        prefetched = None
        if todo:
            with (
                tracing.prefetch_span(
                    self.trace, step.name, [batch.leads[i].workflow_id for i in todo]
                )
                if self.trace is not None
                else nullcontext()
            ):
                prefetched = step.prefetch(services, [batch.leads[i] for i in todo])

        def work(state: LeadState) -> dict[str, object]:
            return step.work(services, state, prefetched)

        groups: dict[object, list[int]] = {}
        for index in todo:
            key = step.group(batch.leads[index]) if step.group else index
            groups.setdefault(key, []).append(index)

        # A lead whose write is held (another attempt's lease, or an earlier write not yet
        # visible to the vendor's search) waits on its own when it shares the run: the
        # others go on instead of retrying the step with it for minutes.
        shared = len(todo) > 1

        def one_group(indexes: list[int]) -> list[tuple[int, LeadState, TransientError | None]]:
            return [
                (index, *self._lead(step, batch.leads[index], work, shared=shared))
                for index in indexes
            ]

        workers = self.concurrency if step.is_concurrent(services, batch) else 1
        if workers > 1 and len(groups) > 1:
            done_groups = _lead_pool(workers).map(one_group, groups.values())
        else:
            done_groups = map(one_group, groups.values())
        transient: list[tuple[int, LeadState, TransientError]] = []
        for outcomes in done_groups:
            for index, state, error in outcomes:
                results[index] = state
                if error is not None:
                    transient.append((index, state, error))
        if transient:
            retry = self._transient(step, transient, results)
            if retry is not None:
                return retry
        after = LeadBatch(leads=tuple(results))
        return self._stopped_if_nothing_left(step, batch, after) or Done(after)

    def _lead(
        self,
        step: Step,
        state: LeadState,
        work: Callable[[LeadState], dict[str, object]],
        *,
        shared: bool = False,
    ) -> tuple[LeadState, TransientError | None]:
        """One lead through the step: its events, and its new state or why it stopped.

        Every log line meanwhile carries the lead's workflow id; with tracing on, the work
        is a span (its vendor calls are children). `shared`: other leads of the run take
        the step too; a held write then makes this lead wait for a later run rather than
        hold theirs back."""
        started = time.perf_counter()
        # Tokens rather than structlog's bound_contextvars (which copies the whole context
        # twice): this runs for every lead and step.
        tokens = structlog.contextvars.bind_contextvars(
            **self._bound, workflow_id=str(state.workflow_id)
        )
        try:
            if self.trace is None:
                after, error = self._lead_work(step, state, work, shared=shared)
                outcome = _outcome(state, after, error)
            else:
                with tracing.step_span(
                    self.trace, step.number, step.name, state.workflow_id, self.attempt + 1
                ) as span:
                    after, error = self._lead_work(step, state, work, shared=shared)
                    outcome = _outcome(state, after, error)
                    tracing.step_outcome(
                        span,
                        outcome,
                        _error_class(after, error),
                        outcome in _FAILED or error is not None,
                    )
            # One line per lead and step: DEBUG when it went on, INFO when it did not. The
            # level is checked first: a dropped line then costs no processor.
            level = logging.DEBUG if outcome == "succeeded" else logging.INFO
            if _stdlib_log.isEnabledFor(level):
                log.log(
                    level,
                    "step.finished",
                    step=step.name,
                    step_number=step.number,
                    outcome=outcome,
                    ms=_ms(started),
                )
        finally:
            structlog.contextvars.reset_contextvars(**tokens)
        return after, error

    def _lead_work(
        self,
        step: Step,
        state: LeadState,
        work: Callable[[LeadState], dict[str, object]],
        *,
        shared: bool,
    ) -> tuple[LeadState, TransientError | None]:
        started = time.perf_counter()
        try:
            update = work(state)
        except LeadRejected as error:
            return self._stop(step, state, error, WorkflowStatus.REJECTED, _ms(started)), None
        except GrantRevoked as error:
            return self.wait(step, state, error.message, _ms(started)), None
        except BreakerOpen as error:
            # The vendor is down for this tenant: no call was made, and the lead waits for
            # the breaker rather than burning its retries. Transient: nobody need act.
            waited = self.wait(step, state, error.message, _ms(started), ErrorClass.TRANSIENT)
            return waited, None
        except WriteInProgress as error:
            if not shared:
                return state, self._retrying(step, state, error, started)
            # Nothing was written; the sensors launch the lead again once the lease or the
            # look-up's wait is over (workflows.next_redrive_at), this attempt not counted.
            waited = self.wait(
                step,
                state,
                error.message,
                _ms(started),
                ErrorClass.TRANSIENT,
                not_before_seconds=error.retry_after_seconds,
            )
            return waited, None
        except Exception as error:
            # A vendor's 429/5xx, or the database's connection failing (a restart): retried.
            transient = error if isinstance(error, TransientError) else as_transient(error)
            if transient is None:
                return self._stop(step, state, error, WorkflowStatus.FAILED, _ms(started)), None
            if transient is not error:
                transient.__cause__ = error
            return state, self._retrying(step, state, transient, started)
        ms = _ms(started)
        skip = update.pop("skip_reason", None)
        new_state = state.model_copy(update=update)
        output = new_state.model_dump(mode="json", include=set(update))
        self.trail.succeeded(state.workflow_id, step.number, step.name, ms, output)
        if skip:
            self.trail.skipped(state.workflow_id, step.number, step.name, str(skip))
            return new_state.model_copy(
                update={"outcome": WorkflowStatus.SKIPPED, "reason": str(skip)}
            ), None
        return new_state, None

    def _retrying(
        self, step: Step, state: LeadState, error: TransientError, started: float
    ) -> TransientError:
        """The retrying event of a lead whose step runs again after a backoff."""
        self.trail.retrying(
            state.workflow_id,
            step.number,
            step.name,
            error,
            http_status=error.http_status,
            retry_after=error.retry_after_seconds,
            ms=_ms(started),
            attempt=self.attempt + 1,
        )
        return error

    def _stop(
        self,
        step: Step,
        state: LeadState,
        error: BaseException,
        outcome: WorkflowStatus,
        ms: int,
    ) -> LeadState:
        error_class, http_status = _classify(error)
        reason = f"step {step.number} {step.name}: {error}"
        self.trail.stopped(
            state.workflow_id,
            step.number,
            step.name,
            error,
            outcome=outcome,
            reason=reason,
            error_class=error_class,
            http_status=http_status,
            trace="".join(traceback.format_exception(error)),
            ms=ms,
            attempt=self.attempt + 1,
        )
        return state.model_copy(
            update={"outcome": outcome, "reason": reason, "error_class": error_class}
        )

    def wait(
        self,
        step: Step,
        state: LeadState,
        reason: str,
        ms: int | None = None,
        error_class: ErrorClass = ErrorClass.CONFIGURATION,
        *,
        not_before_seconds: float | None = None,
    ) -> LeadState:
        """Stop a lead without failing it: its tenant cannot run now (HubSpot refused the
        grant, the tenant was disabled, or a vendor's circuit breaker is open). It goes back
        to wait for a run, this attempt not counted, and the sensors launch it once the
        tenant is re-authorised or enabled, or the breaker lets calls through."""
        self.trail.waiting(
            state.workflow_id,
            step.number,
            step.name,
            reason,
            ms,
            not_before_seconds=not_before_seconds,
        )
        self.log.warning(f"{step.name}: workflow {state.workflow_id} waits: {reason}")
        return state.model_copy(
            update={
                "outcome": WorkflowStatus.QUEUED,
                "reason": reason,
                "error_class": error_class,
            }
        )

    def _transient(
        self,
        step: Step,
        transient: list[tuple[int, LeadState, TransientError]],
        results: list[LeadState],
    ) -> RetryAfter | None:
        """Ask for the step again while retries remain; then the leads go to the dead-letter
        queue, from where they are re-driven later (a vendor's outage outlasts a run's
        retries)."""
        retries = self.policy.max_retries
        if self.attempt < retries:
            wait = backoff_seconds(
                self.attempt,
                max((e.retry_after_seconds or 0.0) for _, _, e in transient),
                self.rng,
                self.policy.base_seconds,
            )
            message = (
                f"{step.name}: {len(transient)} lead(s) hit transient errors; retry "
                f"{self.attempt + 1}/{retries} in {wait:.1f}s: {transient[0][2]}"
            )
            self.log.warning(message)
            return RetryAfter(
                seconds=wait, max_retries=retries, error=transient[0][2], message=message
            )
        for index, state, error in transient:
            exhausted = TransientError(
                f"still failing after {retries} retries: {error}",
                http_status=error.http_status,
                vendor_message=error.vendor_message,
            )
            results[index] = self._stop(step, state, exhausted, WorkflowStatus.DEAD_LETTER, 0)
        return None

    def _stopped_if_nothing_left(
        self, step: Step, before: LeadBatch, after: LeadBatch
    ) -> Stopped | None:
        if after.active:
            return None
        stopped_here = [
            state
            for old, state in zip(before.leads, after.leads, strict=True)
            if old.active and not state.active
        ]
        waiting = [state for state in stopped_here if state.outcome is WorkflowStatus.QUEUED]
        failed_here = [
            state
            for state in stopped_here
            if state.outcome in (WorkflowStatus.FAILED, WorkflowStatus.DEAD_LETTER)
        ]
        if waiting and not failed_here:
            configuration = any(s.error_class is ErrorClass.CONFIGURATION for s in waiting)
            return waiting_outcome(
                step.name,
                {s.workflow_id: s.reason or "" for s in waiting},
                ErrorClass.CONFIGURATION if configuration else ErrorClass.TRANSIENT,
            )
        if not failed_here:
            return None
        # Every lead of the run failed: the run fails, naming the step and the vendor's answer.
        first = failed_here[0]
        configuration = any(s.error_class is ErrorClass.CONFIGURATION for s in failed_here)
        return Stopped(
            description=first.reason or "",
            details={
                "step": step.name,
                "workflows": ", ".join(str(s.workflow_id) for s in failed_here),
                "error_class": first.error_class.value if first.error_class else "permanent",
                "alert": configuration,
            },
        )


def waiting_outcome(
    step: str,
    waiting: dict[uuid.UUID, str],
    error_class: ErrorClass = ErrorClass.CONFIGURATION,
) -> Stopped:
    """A run whose remaining leads all wait for their tenant (re-authorisation, enabling,
    or an open breaker): a failed run in the UI with the reason, though no workflow failed.
    Only a configuration wait (someone must act) raises the alert."""
    reasons = sorted(set(waiting.values()))
    return Stopped(
        description=f"{len(waiting)} lead(s) wait, none failed: " + "; ".join(reasons),
        details={
            "step": step,
            "waiting": ", ".join(str(w) for w in waiting),
            "error_class": error_class.value,
            "alert": error_class is ErrorClass.CONFIGURATION,
        },
        retryable=False,
    )
