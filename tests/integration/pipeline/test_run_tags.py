"""What an operator filters runs by in the Dagster UI, and what a failed run says."""

from __future__ import annotations

from typing import Any

from dagster import DagsterEventType, DagsterInstance, RunsFilter
from sqlalchemy import Engine

from sales_agent_pipeline import run_tags as tags
from sales_agent_pipeline.settings import get_settings
from tests.integration.pipeline.conftest import Lead
from tests.sandbox.conftest import Admin


def run_tags_of(instance: DagsterInstance, run_id: str) -> dict[str, str]:
    run = instance.get_run_by_id(run_id)
    assert run is not None
    return dict(run.tags)


def test_a_lead_run_is_tagged_with_tenant_workflow_domain_and_mode(
    sandbox: Admin, submit: Any, run: Any, instance: DagsterInstance, monkeypatch: Any
) -> None:
    monkeypatch.setenv("WORKFLOW_MODE", "SEND")
    get_settings.cache_clear()
    lead: Lead = submit("tagged@ledgerline.example")
    result = run(lead, trigger="sensor")
    assert result.success

    found = run_tags_of(instance, result.run_id)
    assert found[tags.TENANT] == "1000"
    assert found[tags.WORKFLOW_ID] == str(lead.workflow_id)
    assert found[tags.EMAIL_DOMAIN] == "ledgerline.example"
    assert found[tags.MODE] == "SEND"
    # The UI's tag filter finds it.
    filtered = instance.get_run_records(
        filters=RunsFilter(tags={tags.EMAIL_DOMAIN: "ledgerline.example", tags.MODE: "SEND"})
    )
    assert result.run_id in {record.dagster_run.run_id for record in filtered}


def test_a_batch_run_has_the_shared_tags_and_each_lead_its_own_draft(
    sandbox: Admin, submit: Any, run: Any, instance: DagsterInstance
) -> None:
    first = submit("one@northwind.example")
    second = submit("two@acme-robotics.example")
    result = run(first, second, trigger="sensor")
    assert result.success

    found = run_tags_of(instance, result.run_id)
    assert found[tags.TENANT] == "1000"
    assert found[tags.MODE] == "DRAFT_ONLY"
    assert tags.WORKFLOW_ID not in found
    assert tags.EMAIL_DOMAIN not in found

    # Each lead's partition shows its own draft, as after a run of its own.
    shown = {
        m.partition: m.metadata for m in result.asset_materializations_for_node("lead_followup")
    }
    assert set(shown) == {str(first.workflow_id), str(second.workflow_id)}
    for lead in (first, second):
        metadata = shown[str(lead.workflow_id)]
        assert metadata["recipient"].value == lead.email
        assert f"**To:** {lead.email}" in str(metadata["draft"].value)
        assert metadata["workflow_id"].value == str(lead.workflow_id)
        assert len(metadata["step_durations_ms"].value) == 13
        assert metadata["leads"].value == 2


def test_a_failed_run_names_the_step_and_the_vendors_answer(
    sandbox: Admin, submit: Any, run: Any, instance: DagsterInstance, engine: Engine
) -> None:
    lead = submit("refused.task@northwind.example")
    sandbox.fault(
        pathPattern="/crm/v3/objects/tasks",
        method="POST",
        status=400,
        count=1,
        message="Property values were not valid: hs_timestamp",
    )
    result = run(lead)
    assert not result.success

    failures = [
        event for event in result.all_events if event.event_type is DagsterEventType.STEP_FAILURE
    ]
    assert len(failures) == 1
    failure = failures[0].step_failure_data.user_failure_data
    assert failure is not None
    assert failure.description == (
        "step 12 create_hubspot_task: HubSpot create task failed: HTTP 400: "
        "Property values were not valid: hs_timestamp"
    )
    found = run_tags_of(instance, result.run_id)
    assert found[tags.WORKFLOW_ID] == str(lead.workflow_id)
    assert found[tags.MODE] == "DRAFT_ONLY"
