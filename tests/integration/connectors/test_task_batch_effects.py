"""Batch task creation against the sandbox and PostgreSQL: a 207, a 500 after commit and
a timeout after commit, with HubSpot's search lagging, leave exactly one task per lead."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from sales_agent_pipeline.connectors.factory import build_crm
from sales_agent_pipeline.connectors.hubspot import HubSpotCRM
from sales_agent_pipeline.db.effects import PostgresEffectStore
from sales_agent_pipeline.db.models import IdempotencyKey
from sales_agent_pipeline.db.session import make_session_factory
from sales_agent_pipeline.domain.errors import WriteInProgress
from sales_agent_pipeline.domain.models import NewTask
from sales_agent_pipeline.settings import Settings
from sales_agent_pipeline.steps.create_hubspot_task import create_hubspot_task, task_marker
from sales_agent_pipeline.workflow.batched import create_tasks
from tests.integration.db.test_effects import workflows
from tests.sandbox.conftest import Admin

LOG = logging.getLogger("tests.task_batch")
BATCH_CREATE = "/crm/v3/objects/tasks/batch/create"
LAG_SECONDS = 1.5


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


def planned(crm: HubSpotCRM, admin: Admin, ids: list[uuid.UUID]) -> dict[uuid.UUID, NewTask]:
    owner = admin.seed(owners=[{"email": "ada@ourco.example", "firstName": "Ada"}])["owners"][0]
    contact = crm.upsert_contact("jane@acme.example", {"firstname": "Jane"}).id
    return {
        workflow_id: NewTask(
            subject=f"Follow up {n}",
            body=f"Call back {task_marker(str(workflow_id))}",
            due_at=datetime(2030, 1, 9, 9, tzinfo=UTC),
            owner_id=owner,
            contact_id=contact,
        )
        for n, workflow_id in enumerate(ids)
    }


def statuses(sessions: sessionmaker[Session], ids: list[uuid.UUID]) -> dict[str, str]:
    with sessions() as session:
        rows = session.execute(
            select(IdempotencyKey.key, IdempotencyKey.status).where(
                IdempotencyKey.key.in_([str(i) for i in ids])
            )
        ).all()
    return {str(key): str(status) for key, status in rows}


@pytest.mark.parametrize(
    "fault",
    [{"status": 500}, {"timeoutSeconds": 3.0}],
    ids=["500-after-commit", "timeout-after-commit"],
)
def test_a_failed_batch_is_found_per_lead_once_the_index_catches_up(
    fault: dict[str, float],
    make_settings: Callable[..., Settings],
    admin: Admin,
    sessions: sessionmaker[Session],
) -> None:
    admin.config(search_lag_seconds=LAG_SECONDS)
    crm = build_crm(make_settings(hubspot_timeout_seconds=1.0))
    ids = workflows(sessions, 3)
    tasks = planned(crm, admin, ids)
    admin.fault(pathPattern=BATCH_CREATE, afterCommit=True, **fault)
    store = PostgresEffectStore(sessions, owner="run-a")

    assert create_tasks(store, crm, tasks, LOG) == {}
    assert len(admin.tasks()) == 3  # HubSpot made them; the answer was lost

    # Each lead looks for its task; the search lags, so it waits instead of creating.
    for workflow_id, task in tasks.items():
        with pytest.raises(WriteInProgress):
            create_hubspot_task(crm, store.for_workflow(workflow_id), str(workflow_id), task)
    assert len(admin.tasks()) == 3

    time.sleep(LAG_SECONDS + 0.2)
    made = [
        create_hubspot_task(crm, store.for_workflow(workflow_id), str(workflow_id), task)
        for workflow_id, task in tasks.items()
    ]
    assert sorted(t.id for t in made) == sorted(str(t["id"]) for t in admin.tasks())
    assert [t.body for t in made] == [t.body for t in tasks.values()]
    assert set(statuses(sessions, ids).values()) == {"completed"}


def test_a_207_completes_the_created_and_the_refused_one_is_made_alone(
    make_settings: Callable[..., Settings], admin: Admin, sessions: sessionmaker[Session]
) -> None:
    admin.config(search_lag_seconds=60.0)  # no look-up could find anything here
    crm = build_crm(make_settings())
    ids = workflows(sessions, 3)
    tasks = planned(crm, admin, ids)
    good = tasks[ids[1]]
    tasks[ids[1]] = good.model_copy(update={"contact_id": "999999999"})  # refused

    made = create_tasks(PostgresEffectStore(sessions, owner="run-a"), crm, tasks, LOG)

    assert set(made) == {ids[0], ids[2]}
    assert statuses(sessions, ids) == {
        str(ids[0]): "completed",
        str(ids[1]): "failed",
        str(ids[2]): "completed",
    }
    store = PostgresEffectStore(sessions, owner="run-a")
    alone = create_hubspot_task(crm, store.for_workflow(ids[1]), str(ids[1]), good)
    again = create_hubspot_task(crm, store.for_workflow(ids[0]), str(ids[0]), tasks[ids[0]])
    assert again == made[ids[0]]
    assert sorted(str(t["id"]) for t in admin.tasks()) == sorted(
        [made[ids[0]].id, alone.id, made[ids[2]].id]
    )
