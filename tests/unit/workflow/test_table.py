"""The step table: the 13 steps run over the fakes end to end, and a 14th step is one work
function and one row."""

from __future__ import annotations

import random
from typing import Any

import pytest
from dagster import Definitions, GraphDefinition

from sales_agent_pipeline.defs.assets import lead_asset
from sales_agent_pipeline.domain.enums import StepStatus, WorkflowMode
from sales_agent_pipeline.workflow.outcome import Done
from sales_agent_pipeline.workflow.runner import StepRunner
from sales_agent_pipeline.workflow.services import Services
from sales_agent_pipeline.workflow.state import LeadBatch, LeadState
from sales_agent_pipeline.workflow.step import Step, numbered
from sales_agent_pipeline.workflow.table import STEP_TABLE, STEPS, markdown
from tests.fakes.services import FakeWorld, form_payload
from tests.fakes.trail import FakeTrail


def run_table(
    table: tuple[Step, ...], world: FakeWorld, batch: LeadBatch
) -> tuple[LeadBatch, FakeTrail]:
    """Every row in order, as the Dagster graph chains the ops."""
    trail = FakeTrail()
    services = world.services()
    runner = StepRunner(trail, services.log, concurrency=4, rng=random.Random(0))
    for step in table:
        outcome = runner.run(step, batch, services)
        assert isinstance(outcome, Done), outcome
        batch = outcome.batch
    return batch, trail


def test_the_table_numbers_its_steps_in_order_and_names_each_once() -> None:
    assert [step.number for step in STEP_TABLE] == list(range(1, 14))
    assert len(set(STEPS)) == 13
    with pytest.raises(ValueError, match="unique: write_draft"):
        numbered([*STEP_TABLE, Step("write_draft", "again", count_words)])


def test_a_lead_goes_through_the_13_steps_on_the_fakes() -> None:
    world = FakeWorld()
    batch = world.batch(
        form_payload(
            "Jane.Doe@Acme-Robotics.example",
            firstname="Jane",
            company="Acme Robotics",
            message="Can we talk about pricing?",
        )
    )

    final, trail = run_table(STEP_TABLE, world, batch)

    (state,) = final.leads
    assert state.active
    assert state.lead is not None
    assert state.lead.email == "jane.doe@acme-robotics.example"
    assert state.mail is not None
    assert state.mail.mode is WorkflowMode.DRAFT_ONLY
    assert state.mail.draft_id in world.mail.drafts
    assert state.task is not None
    assert state.task.id in world.crm.tasks
    assert world.records.finished == {state.workflow_id: WorkflowMode.DRAFT_ONLY}
    succeeded = [e.step for e in trail.events if e.status is StepStatus.SUCCEEDED]
    assert succeeded == list(STEPS)


def count_words(services: Services, state: LeadState, _: None) -> dict[str, Any]:
    """A toy 14th step: how long the draft is."""
    assert state.draft is not None
    return {"word_count": len(state.draft.text_body.split())}


def test_a_14th_step_is_one_function_and_one_row() -> None:
    table = numbered([*STEP_TABLE, Step("count_words", "Words in the draft.", count_words)])

    # The Dagster graph, the numbers and the docs follow the table...
    asset = lead_asset(table)
    graph = asset.node_def
    assert isinstance(graph, GraphDefinition)
    assert [node.name for node in graph.nodes_in_topological_order] == [*STEPS, "count_words"]
    from sales_agent_pipeline.definitions import defs

    Definitions.validate_loadable(Definitions(assets=[asset], resources=defs.resources))
    assert markdown(table).splitlines()[-1] == "14. `count_words`: Words in the draft."

    # ...and the runner runs it after the 13, its output audited like any step's.
    world = FakeWorld()
    final, trail = run_table(table, world, world.batch(form_payload("sam@beta.example")))
    (state,) = final.leads
    assert state.draft is not None
    assert state.model_extra == {"word_count": len(state.draft.text_body.split())}
    last = trail.events[-1]
    assert (last.number, last.step, last.status) == (14, "count_words", StepStatus.SUCCEEDED)
    assert last.details == {"output": {"word_count": state.model_extra["word_count"]}}
