"""How a step ended for the run: the shells turn it into their own terms (Dagster's return,
RetryRequested or Failure)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sales_agent_pipeline.workflow.state import LeadBatch


@dataclass(frozen=True)
class Done:
    """The step ended; the leads still active go on to the next step."""

    batch: LeadBatch


@dataclass(frozen=True)
class RetryAfter:
    """Some leads hit transient errors: run the step again after `seconds`.

    The leads the step already finished are taken from their events on the retry.
    """

    seconds: float
    max_retries: int
    error: BaseException
    message: str


@dataclass(frozen=True)
class Stopped:
    """The run cannot go on: every lead failed here, or every remaining lead waits for its
    tenant. `details` are plain strings and flags for the run's metadata."""

    description: str
    details: dict[str, str | bool] = field(default_factory=dict)
    # A run whose leads wait is not retried: the sensors launch them when the tenant can run.
    retryable: bool = True


Outcome = Done | RetryAfter | Stopped
