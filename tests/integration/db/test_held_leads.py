"""A lead sent back to wait with a not-before time, on real PostgreSQL: the launch queries
leave it alone until then, and then launch it like any waiting lead."""

from __future__ import annotations

import random
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import Engine, update
from sqlalchemy.orm import Session, sessionmaker

from sales_agent_pipeline.db.models import Tenant, Workflow
from sales_agent_pipeline.db.repositories import outbox, workflows
from sales_agent_pipeline.db.session import make_session_factory
from sales_agent_pipeline.domain.enums import WorkflowStatus
from tests.conftest import accept_lead


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


def test_a_lead_held_until_later_is_launched_only_once_that_time_has_come(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:
        tenant = Tenant(portal_id=random.randint(10**6, 10**9), name="Held Co")
        session.add(tenant)
        session.flush()
        held, free = (
            accept_lead(session, tenant, f"{name}@held-{tenant.id.hex[:8]}.example").workflow_id
            for name in ("held", "free")
        )
        session.execute(
            update(Workflow)
            .where(Workflow.id.in_((held, free)))
            .values(created_at=Workflow.created_at - timedelta(minutes=1))
        )
        run = f"run-{uuid.uuid4()}"
        assert workflows.claim(session, [held], run)
        assert workflows.hold(
            session, held, "draft: an earlier write may exist", run_id=run, not_before_seconds=60
        )

    def launchable() -> set[uuid.UUID]:
        with sessions.begin() as session:
            claimed = outbox.claim_awaiting(session, timedelta(seconds=1), limit=10_000)
            ids = {item.workflow_id for item in claimed}
            outbox.release_launch(session, list(ids))  # only asking which would be launched
            ids |= set(outbox.claim_launch(session, [held, free]))
            outbox.release_launch(session, list(ids))
        return ids & {held, free}

    with sessions() as session:
        row = session.get_one(Workflow, held)
        assert row.status == WorkflowStatus.QUEUED.value
        assert row.attempts == 0  # the held attempt is given back
    assert launchable() == {free}

    with sessions.begin() as session:
        session.execute(
            update(Workflow)
            .where(Workflow.id == held)
            .values(next_redrive_at=Workflow.next_redrive_at - timedelta(seconds=61))
        )
    assert launchable() == {held, free}
