"""The runner on the fakes: each lead's trail and outcome, the retry policy, grouping."""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Sequence
from typing import Any

import pytest
from sqlalchemy.exc import OperationalError, ProgrammingError

from sales_agent_pipeline.domain.enums import ErrorClass, StepStatus, WorkflowStatus
from sales_agent_pipeline.domain.errors import (
    BreakerOpen,
    GrantRevoked,
    LeadRejected,
    PermanentError,
    TransientError,
    WriteInProgress,
)
from sales_agent_pipeline.workflow.outcome import Done, RetryAfter, Stopped
from sales_agent_pipeline.workflow.runner import RetryPolicy, StepRunner, backoff_seconds
from sales_agent_pipeline.workflow.services import Services
from sales_agent_pipeline.workflow.state import LeadBatch, LeadState
from sales_agent_pipeline.workflow.step import Step, numbered
from tests.fakes.services import FakeWorld, form_payload
from tests.fakes.trail import FakeTrail

LOG = FakeWorld().services().log


def emails(n: int) -> list[dict[str, Any]]:
    return [form_payload(f"lead{i}@co{i}.example") for i in range(n)]


def step_of(work: Any, **options: Any) -> Step:
    """A toy step at number 4 of some table."""
    filler = [Step(f"s{i}", "filler", work) for i in range(3)]
    return numbered([*filler, Step("toy", "a toy step", work, **options)])[-1]


def runner(trail: FakeTrail, attempt: int = 0, **options: Any) -> StepRunner:
    return StepRunner(trail, LOG, attempt=attempt, rng=random.Random(1), **options)


def fail_for(bad: str, error: Exception) -> Any:
    def work(services: Services, state: LeadState, _: None) -> dict[str, Any]:
        if state.item.hubspot_submission_id == bad:
            raise error
        return {"reason": None, "threads": ()}

    return work


def test_each_lead_gets_the_steps_output_and_a_started_and_succeeded_event() -> None:
    world, trail = FakeWorld(), FakeTrail()
    batch = world.batch(*emails(3))

    def work(services: Services, state: LeadState, _: None) -> dict[str, Any]:
        return {"toy_output": state.item.hubspot_submission_id.upper()}

    outcome = runner(trail).run(step_of(work), batch, world.services())

    assert isinstance(outcome, Done)
    assert [s.model_extra for s in outcome.batch.leads] == [
        {"toy_output": "SUB-0"},
        {"toy_output": "SUB-1"},
        {"toy_output": "SUB-2"},
    ]
    for state in batch.leads:
        assert trail.of(state.workflow_id) == [
            ("toy", StepStatus.STARTED),
            ("toy", StepStatus.SUCCEEDED),
        ]
    assert {e.number for e in trail.events} == {4}


def test_a_permanent_error_stops_that_lead_only_naming_the_step() -> None:
    world, trail = FakeWorld(), FakeTrail()
    batch = world.batch(*emails(2))
    step = step_of(fail_for("sub-0", PermanentError("HubSpot said 400", http_status=400)))

    outcome = runner(trail).run(step, batch, world.services())

    assert isinstance(outcome, Done)
    failed, ok = outcome.batch.leads
    assert failed.outcome is WorkflowStatus.FAILED
    assert failed.reason == "step 4 toy: HubSpot said 400"
    assert trail.ended == {failed.workflow_id: WorkflowStatus.FAILED}
    assert ok.active
    assert outcome.batch.active == [ok]


def test_a_rejected_lead_ends_rejected() -> None:
    world, trail = FakeWorld(), FakeTrail()
    batch = world.batch(*emails(2))
    step = step_of(fail_for("sub-1", LeadRejected("no email", field="email")))

    outcome = runner(trail).run(step, batch, world.services())

    assert isinstance(outcome, Done)
    assert outcome.batch.leads[1].outcome is WorkflowStatus.REJECTED
    assert trail.ended[batch.leads[1].workflow_id] is WorkflowStatus.REJECTED


def test_every_lead_failing_stops_the_run_with_the_step_and_the_workflows() -> None:
    world, trail = FakeWorld(), FakeTrail()
    batch = world.batch(*emails(1))
    step = step_of(fail_for("sub-0", ValueError("a bug of ours")))

    outcome = runner(trail).run(step, batch, world.services())

    assert isinstance(outcome, Stopped)
    assert outcome.description == "step 4 toy: a bug of ours"
    assert outcome.details == {
        "step": "toy",
        "workflows": str(batch.leads[0].workflow_id),
        "error_class": "permanent",
        "alert": False,
    }
    assert outcome.retryable


def test_a_transient_error_asks_for_the_step_again_and_the_retry_redoes_only_that_lead() -> None:
    world, trail = FakeWorld(), FakeTrail()
    batch = world.batch(*emails(3))
    calls: list[str] = []
    flaky = {"sub-1"}

    def work(services: Services, state: LeadState, _: None) -> dict[str, Any]:
        calls.append(state.item.hubspot_submission_id)
        if state.item.hubspot_submission_id in flaky:
            raise TransientError("429", http_status=429, retry_after_seconds=7)
        return {"toy_output": 1}

    step = step_of(work)
    first = runner(trail, policy=RetryPolicy(max_retries=2)).run(step, batch, world.services())

    assert isinstance(first, RetryAfter)
    assert first.seconds >= 7  # never sooner than the vendor's Retry-After
    assert first.max_retries == 2
    assert isinstance(first.error, TransientError)
    assert trail.of(batch.leads[1].workflow_id)[-1] == ("toy", StepStatus.RETRYING)

    flaky.clear()
    calls.clear()
    second = runner(trail, attempt=1, policy=RetryPolicy(max_retries=2)).run(
        step, batch, world.services()
    )
    assert isinstance(second, Done)
    assert calls == ["sub-1"]
    assert [s.model_extra for s in second.batch.leads] == [{"toy_output": 1}] * 3


def test_transient_errors_past_the_last_retry_send_the_lead_to_the_dead_letter_queue() -> None:
    world, trail = FakeWorld(), FakeTrail()
    batch = world.batch(*emails(2))
    step = step_of(fail_for("sub-0", TransientError("503", http_status=503)))

    outcome = runner(trail, attempt=2, policy=RetryPolicy(max_retries=2)).run(
        step, batch, world.services()
    )

    assert isinstance(outcome, Done)
    failed = outcome.batch.leads[0]
    assert failed.outcome is WorkflowStatus.DEAD_LETTER
    assert failed.reason == "step 4 toy: still failing after 2 retries: 503"
    assert failed.error_class is ErrorClass.TRANSIENT


def test_a_revoked_grant_sends_the_lead_back_to_wait_and_a_run_of_waiting_leads_stops() -> None:
    world, trail = FakeWorld(), FakeTrail()
    batch = world.batch(*emails(1))
    step = step_of(fail_for("sub-0", GrantRevoked("portal 4242 must install the app again")))

    outcome = runner(trail).run(step, batch, world.services())

    assert isinstance(outcome, Stopped)
    assert not outcome.retryable
    assert outcome.details["waiting"] == str(batch.leads[0].workflow_id)
    assert outcome.details["alert"] is True
    assert trail.held == {batch.leads[0].workflow_id: "portal 4242 must install the app again"}
    assert not trail.ended


def test_an_open_breaker_sends_the_lead_back_to_wait_without_an_alert() -> None:
    world, trail = FakeWorld(), FakeTrail()
    batch = world.batch(*emails(2))

    def work(services: Services, state: LeadState, _: None) -> dict[str, Any]:
        raise BreakerOpen("crm", "crm calls stopped for 30s", retry_after_seconds=30)

    step = step_of(work)

    outcome = runner(trail, attempt=3).run(step, batch, world.services())

    assert isinstance(outcome, Stopped)
    assert not outcome.retryable
    assert outcome.details["error_class"] == "transient"
    assert outcome.details["alert"] is False
    assert set(trail.held) == {lead.workflow_id for lead in batch.leads}
    assert not trail.ended


def test_a_held_write_makes_its_lead_wait_on_its_own_while_the_rest_of_the_run_goes_on() -> None:
    world, trail = FakeWorld(), FakeTrail()
    batch = world.batch(*emails(3))
    held = WriteInProgress(
        "draft: an earlier write may exist, not found yet", retry_after_seconds=8
    )
    step = step_of(fail_for("sub-1", held))

    outcome = runner(trail).run(step, batch, world.services())

    # The run is not held in step retries for the look-up's minutes: the others finish the
    # step, and the held lead goes back to the queue, launched again no sooner than 8 s.
    assert isinstance(outcome, Done)
    waiting = outcome.batch.leads[1]
    assert waiting.outcome is WorkflowStatus.QUEUED
    assert waiting.error_class is ErrorClass.TRANSIENT
    assert [lead.outcome for lead in outcome.batch.leads[::2]] == [None, None]
    assert trail.held == {waiting.workflow_id: str(held)}
    assert trail.not_before == {waiting.workflow_id: 8}
    assert not trail.ended


def test_a_held_write_of_a_lead_alone_in_its_run_retries_the_step() -> None:
    world, trail = FakeWorld(), FakeTrail()
    batch = world.batch(*emails(1))
    step = step_of(fail_for("sub-0", WriteInProgress("another attempt", retry_after_seconds=5)))

    outcome = runner(trail).run(step, batch, world.services())

    assert isinstance(outcome, RetryAfter)
    assert outcome.seconds >= 5
    assert not trail.held
    assert trail.of(batch.leads[0].workflow_id)[-1] == ("toy", StepStatus.RETRYING)


def test_a_skip_reason_ends_the_lead_skipped_after_its_output_is_kept() -> None:
    world, trail = FakeWorld(), FakeTrail()
    batch = world.batch(*emails(1))

    def work(services: Services, state: LeadState, _: None) -> dict[str, Any]:
        return {"toy_output": 5, "skip_reason": "repeat submitter"}

    outcome = runner(trail).run(step_of(work), batch, world.services())

    assert isinstance(outcome, Done)
    state = outcome.batch.leads[0]
    assert (state.outcome, state.reason) == (WorkflowStatus.SKIPPED, "repeat submitter")
    assert trail.of(state.workflow_id)[-2:] == [
        ("toy", StepStatus.SUCCEEDED),
        ("toy", StepStatus.SKIPPED),
    ]


def test_prefetch_runs_once_for_the_leads_still_to_do_and_its_result_reaches_the_work() -> None:
    world, trail = FakeWorld(), FakeTrail()
    batch = world.batch(*emails(3))
    seen: list[list[str]] = []

    def prefetch(services: Services, leads: Sequence[LeadState]) -> dict[uuid.UUID, int]:
        seen.append([s.item.hubspot_submission_id for s in leads])
        return {s.workflow_id: i for i, s in enumerate(leads)}

    def work(services: Services, state: LeadState, found: dict[uuid.UUID, int]) -> dict[str, Any]:
        return {"toy_output": found[state.workflow_id]}

    outcome = runner(trail).run(step_of(work, prefetch=prefetch), batch, world.services())

    assert seen == [["sub-0", "sub-1", "sub-2"]]
    assert isinstance(outcome, Done)
    assert [s.model_extra for s in outcome.batch.leads] == [{"toy_output": i} for i in range(3)]


def test_leads_of_one_group_take_turns_while_groups_overlap() -> None:
    world, trail = FakeWorld(), FakeTrail()
    batch = world.batch(*emails(4))
    lock = threading.Lock()
    running: dict[str, int] = {}
    most: dict[str, int] = {}
    order: dict[str, list[str]] = {}

    def group(state: LeadState) -> object:
        return "even" if int(state.item.hubspot_submission_id[-1]) % 2 == 0 else "odd"

    def work(services: Services, state: LeadState, _: None) -> dict[str, Any]:
        key = str(group(state))
        with lock:
            running[key] = running.get(key, 0) + 1
            most[key] = max(most.get(key, 0), running[key])
            order.setdefault(key, []).append(state.item.hubspot_submission_id)
            together = sum(running.values())
            most["all"] = max(most.get("all", 0), together)
        time.sleep(0.05)
        with lock:
            running[key] -= 1
        return {}

    step = step_of(work, concurrent=True, group=group)
    outcome = runner(trail, concurrency=4).run(step, batch, world.services())

    assert isinstance(outcome, Done)
    assert (most["even"], most["odd"]) == (1, 1)
    assert most["all"] == 2
    assert order == {"even": ["sub-0", "sub-2"], "odd": ["sub-1", "sub-3"]}


def test_a_step_that_is_not_concurrent_takes_one_lead_at_a_time() -> None:
    world, trail = FakeWorld(), FakeTrail()
    batch = world.batch(*emails(3))
    threads: set[str] = set()

    def work(services: Services, state: LeadState, _: None) -> dict[str, Any]:
        threads.add(threading.current_thread().name)
        return {}

    outcome = runner(trail, concurrency=4).run(step_of(work), batch, world.services())

    assert isinstance(outcome, Done)
    assert threads == {threading.current_thread().name}


def test_leads_that_stopped_before_are_left_alone() -> None:
    world, trail = FakeWorld(), FakeTrail()
    batch = world.batch(*emails(2))
    stopped = batch.leads[0].model_copy(update={"outcome": WorkflowStatus.REJECTED})
    batch = LeadBatch(leads=(stopped, batch.leads[1]))
    calls: list[str] = []

    def work(services: Services, state: LeadState, _: None) -> dict[str, Any]:
        calls.append(state.item.hubspot_submission_id)
        return {}

    outcome = runner(trail).run(step_of(work), batch, world.services())

    assert calls == ["sub-1"]
    assert isinstance(outcome, Done)
    assert outcome.batch.leads[0] == stopped


@pytest.mark.parametrize("attempt", [0, 1, 3, 10])
def test_backoff_grows_with_jitter_up_to_the_cap_and_honours_retry_after(attempt: int) -> None:
    rng = random.Random(attempt)
    ceiling = min(60.0, 2**attempt)
    wait = backoff_seconds(attempt, None, rng)
    assert ceiling / 2 <= wait <= ceiling
    assert backoff_seconds(attempt, 90.0, rng) == 90.0


def test_a_lost_database_connection_is_retried_and_a_bad_statement_is_not() -> None:
    world, trail = FakeWorld(), FakeTrail()
    batch = world.batch(*emails(2))
    restart = OperationalError(
        "SELECT 1", {}, Exception("terminating connection due to administrator command")
    )
    bug = ProgrammingError("SELEC 1", {}, Exception('syntax error at or near "SELEC"'))

    def work(services: Services, state: LeadState, _: None) -> dict[str, Any]:
        raise restart if state.item.hubspot_submission_id == "sub-0" else bug

    outcome = runner(trail).run(step_of(work), batch, world.services())

    assert isinstance(outcome, RetryAfter)
    assert str(outcome.error) == (
        "database unavailable: terminating connection due to administrator command"
    )
    restarted, broken = batch.leads
    assert trail.of(restarted.workflow_id)[-1] == ("toy", StepStatus.RETRYING)
    assert trail.ended == {broken.workflow_id: WorkflowStatus.FAILED}
