"""A row of the step table: everything the runner and the shells need to know of a step."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sales_agent_pipeline.workflow.services import Services
from sales_agent_pipeline.workflow.state import LeadBatch, LeadState

# A step's work on one lead: the LeadState fields it fills in (plus "skip_reason" to end
# the lead early without error). The third argument is what the step's prefetch returned.
Work = Callable[[Services, LeadState, Any], dict[str, Any]]
# Work done once for all the run's leads before the per-lead work (a batch API call).
Prefetch = Callable[[Services, Sequence[LeadState]], Any]


def no_prefetch(services: Services, leads: Sequence[LeadState]) -> None:
    """Most steps fetch nothing for the batch as a whole."""


@dataclass(frozen=True)
class Step:
    """One step: its name (the op's, the audit's), its work and how the runner schedules it."""

    name: str
    description: str
    work: Work
    # Whether the run's leads may take this step at once (STEP_CONCURRENCY threads): a bool,
    # or a function of the batch (sends take turns to keep the daily cap).
    concurrent: bool | Callable[[Services, LeadBatch], bool] = False
    # Leads with the same key go one after the other (e.g. one company's leads).
    group: Callable[[LeadState], object] | None = None
    prefetch: Prefetch = no_prefetch
    # The ports the step calls the vendors through: the shell flushes their usage counters.
    vendors: frozenset[str] = field(default_factory=frozenset)
    # The run tags the step's results set (e.g. the tenant, the mode).
    tags: Callable[[LeadBatch], dict[str, str]] | None = None
    # The op's output metadata from the step's results (plain values).
    metadata: Callable[[LeadBatch], dict[str, Any]] | None = None
    # Set by the table: the step's place, 1-based.
    number: int = 0

    def is_concurrent(self, services: Services, batch: LeadBatch) -> bool:
        """Whether this batch's leads may take the step at once."""
        if callable(self.concurrent):
            return self.concurrent(services, batch)
        return self.concurrent


def numbered(steps: Sequence[Step]) -> tuple[Step, ...]:
    """The steps with their numbers set from their places; names must be unique."""
    names = [step.name for step in steps]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"step names must be unique: {', '.join(duplicates)}")
    return tuple(replace(step, number=number) for number, step in enumerate(steps, 1))
