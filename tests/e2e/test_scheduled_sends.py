"""SEND mode at night, through the real processes (`sales-agent up`: the API, the Dagster
daemon and code server, the sandbox): a lead arriving outside its window is drafted and
scheduled (visible in the database and the API), nothing is mailed; when its time comes
the due-sends sensor's run sends it, exactly once.

Time is made controllable, not waited for: the send window is one minute a day
(03:00-03:01, so the lead is all but surely outside it), and the test then moves the
scheduled send's due time to a few seconds ahead, as the night passing would.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from sales_agent_pipeline.cli.demo import DEMO_PORTAL
from sales_agent_pipeline.db.models import (
    DraftEmail,
    ScheduledSend,
    Tenant,
    WorkflowEvent,
)
from sales_agent_pipeline.db.repositories.api_keys import issue_key
from tests.e2e.conftest import RunningStack, deliver, finished

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack_env() -> dict[str, str]:
    """SEND mode, a one-minute window, a due-sends sensor ticking every 5 s."""
    return {
        "WORKFLOW_MODE": "SEND",
        "SEND_WINDOW_START": "03:00",
        "SEND_WINDOW_END": "03:01",
        "DUE_SENDS_INTERVAL_SECONDS": "5",
    }


@pytest.fixture(scope="module")
def admin_key(engine: Engine) -> dict[str, str]:
    with Session(engine) as session, session.begin():
        tenant = session.scalars(select(Tenant).where(Tenant.portal_id == DEMO_PORTAL)).one()
        # The demo tenant follows the global mode (SEND here), with room in its cap.
        tenant.mode = None
        tenant.daily_send_cap = max(tenant.daily_send_cap, 50)
        issued = issue_key(session, tenant.id, name="e2e-scheduled", admin=True)
    return {"Authorization": f"Bearer {issued.key}"}


def sent_to(stack: RunningStack, email: str) -> int:
    items = httpx.get(f"{stack.sandbox}/_sandbox/sent", timeout=5).json()
    return sum(email in item["to"] for item in items)


def drafts_to(stack: RunningStack, email: str) -> int:
    items = httpx.get(f"{stack.sandbox}/_sandbox/drafts", timeout=5).json()
    return sum(email in (item["to"] or "") for item in items)


def scheduled_row(engine: Engine, workflow_id: str) -> ScheduledSend | None:
    with Session(engine) as session:
        return session.get(ScheduledSend, uuid.UUID(workflow_id))


def wait_for_status(engine: Engine, workflow_id: str, status: str, timeout: float) -> ScheduledSend:
    deadline = time.monotonic() + timeout
    while True:
        row = scheduled_row(engine, workflow_id)
        if row is not None and row.status == status:
            return row
        assert time.monotonic() < deadline, f"scheduled send still {row and row.status}"
        time.sleep(0.5)


def test_a_send_lead_at_night_is_scheduled_then_sent_once_in_its_window(
    stack: RunningStack, engine: Engine, admin_key: dict[str, str]
) -> None:
    email = f"night.owl.{uuid.uuid4().hex[:6]}@acme-robotics.example"
    response = deliver(stack, email, industry="Robotics")
    assert response.status_code == 202
    workflow_id = response.json()["workflow_id"]
    assert finished(engine, workflow_id, timeout=120).status == "succeeded"

    # Drafted and scheduled, not sent.
    row = scheduled_row(engine, workflow_id)
    assert row is not None
    assert row.status == "scheduled"
    assert row.due_at > datetime.now(UTC)
    assert drafts_to(stack, email) == 1
    assert sent_to(stack, email) == 0
    detail = httpx.get(
        f"{stack.api}/api/workflows/{workflow_id}", headers=admin_key, timeout=10
    ).json()
    shown = detail["scheduled_send"]
    assert shown["status"] == "scheduled"
    assert datetime.fromisoformat(shown["due_at"]) == row.due_at
    assert shown["time_zone"] == row.time_zone

    # The night passes: the send is due in a few seconds; the sensor's run sends it.
    with Session(engine) as session, session.begin():
        session.execute(
            update(ScheduledSend)
            .where(ScheduledSend.workflow_id == uuid.UUID(workflow_id))
            .values(due_at=datetime.now(UTC) + timedelta(seconds=3))
        )
    sent = wait_for_status(engine, workflow_id, "sent", timeout=120)
    assert sent.attempts == 1
    assert sent.dagster_run_id is not None
    assert sent_to(stack, email) == 1
    with Session(engine) as session:
        draft = session.scalars(
            select(DraftEmail).where(DraftEmail.workflow_id == uuid.UUID(workflow_id))
        ).one()
        events = session.scalars(
            select(WorkflowEvent).where(
                WorkflowEvent.workflow_id == uuid.UUID(workflow_id),
                WorkflowEvent.event_type == "scheduled_send_sent",
            )
        ).all()
    assert (draft.sent, draft.mode) == (True, "SEND")
    assert [event.dagster_run_id for event in events] == [sent.dagster_run_id]

    # Later ticks find nothing due: still one email.
    time.sleep(12)
    assert sent_to(stack, email) == 1
    after = httpx.get(
        f"{stack.api}/api/workflows/{workflow_id}", headers=admin_key, timeout=10
    ).json()
    assert after["scheduled_send"]["status"] == "sent"
    assert after["scheduled_send"]["sent_at"] is not None
