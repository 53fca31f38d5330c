"""Stop on reply through the real processes (`sales-agent up`: the API, the Dagster daemon
and code server, the sandbox): a SEND lead is mailed; the mailbox sync sensor reads the
sender's mailbox in full and watches it; the lead replies, the sandbox's Pub/Sub pushes to
the API's POST /webhook/gmail, and the sensor stops the workflow and completes its task."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from sales_agent_pipeline.cli.demo import DEMO_PORTAL, DEMO_SENDER
from sales_agent_pipeline.db.models import MailboxCursor, Tenant, Workflow, WorkflowEvent
from tests.e2e.conftest import RunningStack, deliver, finished

pytestmark = pytest.mark.e2e

TOPIC = "projects/sandbox-project/topics/gmail"
PUSH_TOKEN = "e2e-push-" + uuid.uuid4().hex


@pytest.fixture(scope="module")
def stack_env() -> dict[str, str]:
    """SEND at any hour, a Pub/Sub topic and its push token, a long poll (the push must do)."""
    return {
        "WORKFLOW_MODE": "SEND",
        "SEND_WINDOW_START": "00:00",
        "SEND_WINDOW_END": "00:00",
        "GMAIL_PUBSUB_TOPIC": TOPIC,
        "GMAIL_PUSH_TOKEN": PUSH_TOKEN,
        "MAILBOX_SYNC_SECONDS": "3600",
    }


@pytest.fixture(scope="module")
def sending(engine: Engine, stack: RunningStack) -> None:
    with Session(engine) as session, session.begin():
        tenant = session.scalars(select(Tenant).where(Tenant.portal_id == DEMO_PORTAL)).one()
        tenant.mode = None
        tenant.daily_send_cap = max(tenant.daily_send_cap, 50)
    response = httpx.post(
        f"{stack.sandbox}/_sandbox/pubsub/subscriptions",
        json={"topic": TOPIC, "pushEndpoint": f"{stack.api}/webhook/gmail?token={PUSH_TOKEN}"},
        timeout=5,
    )
    response.raise_for_status()


def wait(what: str, probe: Any, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found:
            return found
        assert time.monotonic() < deadline, f"{what}: not after {timeout}s"
        time.sleep(0.5)


def test_a_reply_pushed_by_gmail_stops_the_workflow(
    stack: RunningStack, engine: Engine, sending: None
) -> None:
    email = f"pat.{uuid.uuid4().hex[:6]}@ledgerline.example"
    accepted = deliver(stack, email)
    assert accepted.status_code == 202, accepted.text
    workflow_id = accepted.json()["workflow_id"]
    assert finished(engine, workflow_id).status == "succeeded"
    sent = [
        m for m in httpx.get(f"{stack.sandbox}/_sandbox/sent", timeout=5).json() if email in m["to"]
    ]
    assert len(sent) == 1

    def watched() -> MailboxCursor | None:
        with Session(engine) as session:
            cursor = session.scalars(
                select(MailboxCursor).where(MailboxCursor.mailbox == DEMO_SENDER)
            ).first()
            ready = cursor is not None and cursor.history_id and cursor.watch_expires_at
            return cursor if ready else None

    wait("the sensor's first read and watch of the mailbox", watched)
    reply = httpx.post(
        f"{stack.sandbox}/_sandbox/gmail/reply",
        json={"mailbox": DEMO_SENDER, "messageId": sent[0]["id"], "text": "Thursday works."},
        timeout=5,
    )
    reply.raise_for_status()

    def stopped() -> Workflow | None:
        with Session(engine, expire_on_commit=False) as session:
            row = session.get(Workflow, uuid.UUID(workflow_id))
            return row if row is not None and row.stopped_reason else None

    row = wait("the workflow stopped on the reply", stopped)
    assert row.stopped_reason == "replied"
    with Session(engine) as session:
        events = session.scalars(
            select(WorkflowEvent.event_type).where(
                WorkflowEvent.workflow_id == uuid.UUID(workflow_id)
            )
        ).all()
    assert "stopped_on_reply" in events
    pushes = httpx.get(f"{stack.sandbox}/_sandbox/pubsub/deliveries", timeout=5).json()
    assert any(d["delivered"] and d["status"] == 204 for d in pushes["deliveries"])

    def task_done() -> bool:
        tasks = httpx.get(f"{stack.sandbox}/_sandbox/tasks", timeout=5).json()
        mine = [t for t in tasks if workflow_id in (t["properties"]["hs_task_body"] or "")]
        return bool(mine) and mine[0]["properties"]["hs_task_status"] == "COMPLETED"

    wait("the HubSpot task completed", task_done, timeout=30)
