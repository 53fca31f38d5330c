"""The dead-letter queue through the real process_formlead job (in process, the sandbox over
HTTP, real PostgreSQL): a 503 storm outlasting a run's retries sends the lead to the queue
with its next re-drive; the sensor re-drives it only once due; after the storm a replay
completes it with exactly one draft and one task at the sandbox."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from dagster import DagsterInstance
from sqlalchemy import Engine, func
from sqlalchemy.orm import Session, sessionmaker

from sales_agent_pipeline.db.models import Workflow
from sales_agent_pipeline.defs.dead_letters import dead_letter_redrive_sensor
from sales_agent_pipeline.settings import get_settings
from sales_agent_pipeline.usecases.dead_letters import replay
from tests.integration.pipeline.conftest import Lead, set_workflow
from tests.integration.pipeline.test_process_formlead import drafts_to, tasks_for
from tests.integration.pipeline.test_sensors import tick
from tests.sandbox.conftest import Admin

EMAIL = "storm.buyer@acme-robotics.example"


@pytest.fixture
def no_breaker(monkeypatch: pytest.MonkeyPatch, pipeline_env: None) -> None:
    """This module is about the queue: the circuit breaker (which would make the lead wait
    instead) does not trip, and a 503 is known not to have written, so no look-up lag."""
    monkeypatch.setenv("BREAKER_FAILURE_THRESHOLD", "1000")
    monkeypatch.setenv("SEARCH_LAG_WINDOW_SECONDS", "0")
    get_settings.cache_clear()


def stored(engine: Engine, lead: Lead) -> Workflow:
    with Session(engine, expire_on_commit=False) as session:
        return session.get_one(Workflow, lead.workflow_id)


def redrive_wait(row: Workflow) -> float:
    assert row.next_redrive_at is not None
    assert row.completed_at is not None
    return (row.next_redrive_at - row.completed_at).total_seconds()


def test_a_503_storm_dead_letters_a_lead_and_a_replay_after_it_completes_it_once(
    no_breaker: None,
    sandbox: Admin,
    submit: Any,
    run: Any,
    engine: Engine,
    instance: DagsterInstance,
) -> None:
    lead = submit(EMAIL)
    sandbox.fault(pathPattern="/crm/v3/objects/tasks", method="POST", status=503, count=1000)

    assert not run(lead).success
    dead = stored(engine, lead)
    assert dead.status == "dead_letter"
    assert dead.error_class == "transient"
    assert dead.failure_reason is not None
    assert dead.failure_reason.startswith("step 12 create_hubspot_task: still failing after")
    assert abs(redrive_wait(dead) - 60) < 5  # the first of DLQ_REDRIVE_DELAYS
    assert tasks_for(sandbox, lead) == []
    assert len(drafts_to(sandbox, EMAIL)) == 1

    # Not due yet: the sensor leaves it where it is.
    tick(dead_letter_redrive_sensor, instance, engine)
    assert stored(engine, lead).status == "dead_letter"

    # Due while the storm goes on: re-driven, and back in the queue with the next delay.
    set_workflow(engine, lead.workflow_id, next_redrive_at=func.now() - timedelta(seconds=1))
    tick(dead_letter_redrive_sensor, instance, engine)
    redriven = stored(engine, lead)
    assert (redriven.status, redriven.redrives, redriven.run_requested_at) == ("queued", 1, None)
    assert not run(lead).success
    again = stored(engine, lead)
    assert again.status == "dead_letter"
    assert abs(redrive_wait(again) - 300) < 5

    # The storm ends; a person replays it through the same path.
    sandbox.clear_faults()
    with sessionmaker(engine).begin() as session:
        assert replay(session, [lead.workflow_id], tenant_id=None, actor="test") == [
            lead.workflow_id
        ]
    assert run(lead).success
    done = stored(engine, lead)
    assert (done.status, done.next_redrive_at, done.error_class) == ("succeeded", None, None)
    assert len(tasks_for(sandbox, lead)) == 1
    assert len(drafts_to(sandbox, EMAIL)) == 1


def test_the_replay_job_queues_the_chosen_dead_letters_and_refuses_others(
    no_breaker: None, submit: Any, engine: Engine, instance: DagsterInstance, tenant: Any
) -> None:
    from sales_agent_pipeline.definitions import defs

    job = defs.resolve_job_def("replay_dead_letters")
    letter, done = submit("dlq.job@acme-robotics.example"), submit("dlq.done@acme.example")
    set_workflow(engine, letter.workflow_id, status="dead_letter", error_class="transient")
    set_workflow(engine, done.workflow_id, status="succeeded")

    def launch(*leads: Lead) -> Any:
        config = {
            "workflow_ids": [str(lead.workflow_id) for lead in leads],
            "portal_id": tenant.portal_id,
            "requested_by": "Sam",
        }
        return job.execute_in_process(
            instance=instance,
            run_config={"ops": {"replay_chosen_dead_letters": {"config": config}}},
            raise_on_error=False,
        )

    refused = launch(letter, done)
    assert not refused.success
    assert stored(engine, letter).status == "dead_letter"

    replayed = launch(letter)
    assert replayed.success
    assert replayed.output_for_node("replay_chosen_dead_letters") == [str(letter.workflow_id)]
    assert stored(engine, letter).status == "queued"
