"""The safety net: received work nobody launched gets runs; dead runs are re-queued."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from dagster import (
    DagsterInstance,
    DagsterRun,
    DagsterRunStatus,
    RunRequest,
    SensorResult,
    SkipReason,
    build_sensor_context,
)
from sqlalchemy import Engine, update
from sqlalchemy.orm import Session

from sales_agent_pipeline import run_tags
from sales_agent_pipeline.db.models import Workflow
from sales_agent_pipeline.db.urls import libpq_dsn
from sales_agent_pipeline.defs.resources import DatabaseResource, SettingsResource
from sales_agent_pipeline.defs.sensors import received_leads_sensor, stuck_workflows_sensor
from sales_agent_pipeline.defs.stuck import PAGE
from tests.integration.pipeline.conftest import Lead


def resources(engine: Engine) -> dict[str, Any]:
    return {
        "database": DatabaseResource(url=libpq_dsn(engine.url)),
        "settings": SettingsResource(),
    }


def age(engine: Engine, *leads: Lead, seconds: int = 60, **values: Any) -> None:
    with Session(engine) as session, session.begin():
        session.execute(
            update(Workflow)
            .where(Workflow.id.in_([lead.workflow_id for lead in leads]))
            .values(
                created_at=Workflow.created_at - timedelta(seconds=seconds),
                updated_at=Workflow.updated_at - timedelta(seconds=seconds),
                **values,
            )
        )


def tick(sensor: Any, instance: DagsterInstance, engine: Engine) -> Any:
    with build_sensor_context(instance=instance, resources=resources(engine)) as context:
        return sensor(context)


def test_the_sensor_launches_waiting_leads_once_and_batches_a_backlog(
    submit: Any, engine: Engine, instance: DagsterInstance, monkeypatch: Any, pipeline_env: None
) -> None:
    monkeypatch.setenv("SENSOR_BATCH_SIZE", "3")
    from sales_agent_pipeline.settings import get_settings

    get_settings.cache_clear()
    # Earlier tests of this worker may have left received work behind: not this test's.
    with Session(engine) as session, session.begin():
        session.execute(
            update(Workflow)
            .where(Workflow.run_requested_at.is_(None))
            .values(run_requested_at=Workflow.created_at)
        )
    fresh = submit("fresh@acme-robotics.example")
    waiting = [submit(f"waiting{i}@acme-robotics.example") for i in range(4)]
    age(engine, *waiting)

    result = tick(received_leads_sensor, instance, engine)
    assert isinstance(result, SensorResult)
    requests: list[RunRequest] = list(result.run_requests or [])
    launched: list[str] = []
    for request in requests:
        assert request.tags[run_tags.TRIGGER] == "sensor"
        if request.partition_key:
            launched.append(request.partition_key)
        else:
            start = request.tags["dagster/asset_partition_range_start"]
            end = request.tags["dagster/asset_partition_range_end"]
            launched.extend([start, end])
    keys = {str(lead.workflow_id) for lead in waiting}
    assert set(launched) <= keys
    assert len(requests) == 2  # a range of three, then a single run
    assert str(fresh.workflow_id) not in launched  # still inside the grace period
    assert result.dynamic_partitions_requests is not None
    added = result.dynamic_partitions_requests[0]
    assert set(added.partition_keys) == keys

    # Claimed: the next tick (or the API's own launch) leaves them alone.
    again = tick(received_leads_sensor, instance, engine)
    assert isinstance(again, SkipReason)
    get_settings.cache_clear()


def test_a_dead_run_is_requeued_then_failed_after_the_attempts(
    submit: Any, engine: Engine, instance: DagsterInstance, pipeline_env: None
) -> None:
    lead = submit("stuck@acme-robotics.example")
    gone = str(uuid.uuid4())  # a run id the instance never heard of
    age(
        engine,
        lead,
        seconds=120,
        status="running",
        dagster_run_id=gone,
        run_requested_at=Workflow.created_at,
        attempts=1,
    )
    tick(stuck_workflows_sensor, instance, engine)
    with Session(engine) as session:
        workflow = session.get_one(Workflow, lead.workflow_id)
        assert (workflow.status, workflow.run_requested_at) == ("queued", None)
        assert workflow.failure_reason is not None
        assert "re-queued" in workflow.failure_reason

    age(
        engine,
        lead,
        seconds=120,
        status="running",
        run_requested_at=Workflow.created_at,
        attempts=3,
    )
    tick(stuck_workflows_sensor, instance, engine)
    with Session(engine) as session:
        workflow = session.get_one(Workflow, lead.workflow_id)
    assert workflow.status == "failed"
    assert workflow.failure_reason is not None
    assert "without finishing after 3 attempt(s)" in workflow.failure_reason


def test_a_dead_run_is_found_behind_hundreds_of_live_ones(
    submit: Any, engine: Engine, instance: DagsterInstance, pipeline_env: None
) -> None:
    # An import's hundreds of leads run (their run alive) and are older: a sweep that looked
    # at one page of the oldest only would never reach the stuck lead behind them.
    live = DagsterRun(job_name="process_formlead", status=DagsterRunStatus.STARTED)
    instance.add_run(live)
    busy = [submit(f"busy{i}@acme-robotics.example") for i in range(PAGE + 5)]
    age(
        engine,
        *busy,
        seconds=600,
        status="running",
        dagster_run_id=live.run_id,
        run_requested_at=Workflow.created_at,
        attempts=1,
    )
    stuck = submit("behind@acme-robotics.example")
    age(
        engine,
        stuck,
        seconds=120,
        status="running",
        dagster_run_id=str(uuid.uuid4()),
        run_requested_at=Workflow.created_at,
        attempts=1,
    )
    tick(stuck_workflows_sensor, instance, engine)
    with Session(engine) as session:
        assert session.get_one(Workflow, stuck.workflow_id).status == "queued"
        statuses = {session.get_one(Workflow, lead.workflow_id).status for lead in busy}
    assert statuses == {"running"}
