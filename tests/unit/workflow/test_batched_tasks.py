"""Batch task creation: results matched by trace id only, and whatever a batch leaves
uncertain (a 207's unmatched inputs, a timeout) found by the per-lead path, never made twice."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime

import pytest

from sales_agent_pipeline.domain.errors import TransientError, WriteInProgress
from sales_agent_pipeline.domain.models import NewTask, Task
from sales_agent_pipeline.steps.create_hubspot_task import (
    TASK_SCOPE,
    create_hubspot_task,
    task_marker,
)
from sales_agent_pipeline.workflow.batched import create_tasks
from tests.fakes import FakeCRM, FakeEffects

LOG = logging.getLogger("tests.batched")
DUE = datetime(2026, 11, 26, 14, tzinfo=UTC)


def planned(crm: FakeCRM, n: int, *, owner_id: str | None = None) -> dict[uuid.UUID, NewTask]:
    contact = crm.upsert_contact("jane@acme.example", {}).id
    ids = [uuid.uuid4() for _ in range(n)]
    return {
        workflow_id: NewTask(
            subject=f"Follow up {i}",
            body=f"Call back {task_marker(str(workflow_id))}",
            due_at=DUE,
            contact_id=contact,
            owner_id=owner_id,
        )
        for i, workflow_id in enumerate(ids)
    }


def per_lead(crm: FakeCRM, effects: FakeEffects, tasks: dict[uuid.UUID, NewTask]) -> list[Task]:
    return [create_hubspot_task(crm, effects, str(w), task) for w, task in tasks.items()]


def test_a_207_completes_the_created_and_leaves_the_refused_to_be_made_alone() -> None:
    crm, effects = FakeCRM(), FakeEffects()
    tasks = planned(crm, 3)
    refused = list(tasks)[1]
    tasks[refused] = tasks[refused].model_copy(update={"owner_id": "404"})  # no such owner

    made = create_tasks(effects, crm, tasks, LOG)

    assert set(made) == set(tasks) - {refused}
    record = effects.record(TASK_SCOPE, str(refused))
    assert record is not None
    assert record.status == "failed"
    # The lead's own step: the created ones are done, the refused one is made at once.
    tasks[refused] = tasks[refused].model_copy(update={"owner_id": None})
    first = next(iter(tasks))
    assert per_lead(crm, effects, tasks)[0] == made[first]
    assert (len(crm.tasks), crm.calls["create_task"], crm.calls["find_task_by_marker"]) == (3, 1, 0)


@pytest.mark.parametrize("after_write", [True, False], ids=["landed", "not-landed"])
def test_a_batch_that_timed_out_is_looked_up_per_lead_and_never_made_twice(
    after_write: bool,
) -> None:
    crm, effects = FakeCRM(search_lags=True), FakeEffects()
    tasks = planned(crm, 3)
    crm.fail_next("create_tasks", TransientError("HubSpot timed out"), after_write=after_write)

    assert create_tasks(effects, crm, tasks, LOG) == {}

    # Every record is uncertain: the leads look their task up instead of creating one.
    for workflow_id, task in tasks.items():
        with pytest.raises(WriteInProgress):
            create_hubspot_task(crm, effects, str(workflow_id), task)
    assert crm.calls["create_task"] == 0
    crm.index()
    effects.advance(301)
    made = per_lead(crm, effects, tasks)
    assert len(crm.tasks) == 3
    assert {t.id for t in made} == set(crm.tasks)
    assert crm.calls["create_task"] == (0 if after_write else 3)


def test_results_without_their_trace_id_are_matched_to_nothing() -> None:
    crm, effects = FakeCRM(search_lags=True), FakeEffects()
    crm.echo_trace_ids = False
    tasks = planned(crm, 2)

    assert create_tasks(effects, crm, tasks, LOG) == {}

    crm.index()
    made = per_lead(crm, effects, tasks)
    # Each lead got the task carrying its own marker, found by search, none made again.
    assert [t.body for t in made] == [t.body for t in tasks.values()]
    assert (len(crm.tasks), crm.calls["create_task"]) == (2, 0)
