"""Stop on reply through the real processes (`sales-agent up`: the API, the Dagster daemon
and code server, the sandbox): a SEND lead is mailed; the mailbox sync sensor reads the
sender's mailbox in full and watches it; the lead replies, the sandbox's Pub/Sub pushes to
the API's POST /webhook/gmail, and the sensor stops the workflow and completes its task."""

from __future__ import annotations

import time
import urllib.parse
import uuid
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from sales_agent_pipeline.cli.demo import DEMO_PORTAL, DEMO_SENDER
from sales_agent_pipeline.db.models import MailboxCursor, Tenant, Workflow, WorkflowEvent
from tests.e2e.conftest import RunningStack, deliver, finished
from tests.e2e.test_ui import page, shoot

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.e2e
__all__ = ["page"]  # the browser fixture, shared with test_ui

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


def mailed_lead(stack: RunningStack, engine: Engine, email: str) -> tuple[str, list[Any]]:
    """A SEND lead through the webhook to succeeded: its workflow id and the one message the
    sandbox's Gmail sent it."""
    accepted = deliver(stack, email)
    assert accepted.status_code == 202, accepted.text
    workflow_id = accepted.json()["workflow_id"]
    assert finished(engine, workflow_id).status == "succeeded"
    sent = [
        m for m in httpx.get(f"{stack.sandbox}/_sandbox/sent", timeout=5).json() if email in m["to"]
    ]
    assert len(sent) == 1
    return workflow_id, sent


def test_a_reply_pushed_by_gmail_stops_the_workflow(
    stack: RunningStack, engine: Engine, sending: None
) -> None:
    email = f"pat.{uuid.uuid4().hex[:6]}@ledgerline.example"
    workflow_id, sent = mailed_lead(stack, engine, email)

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


# -- what an operator sees in the Dagster UI (docs/operators.md's pictures) ----------------


def lead_partition(stack: RunningStack, workflow_id: str) -> str:
    query = urllib.parse.urlencode({"view": "partitions", "partition": workflow_id})
    return f"{stack.ui}/assets/lead_followup?{query}"


def test_a_suppressed_lead_shows_why_in_the_ui(
    stack: RunningStack, engine: Engine, sending: None, page: Page
) -> None:
    """A contact who opted out in HubSpot: drafted nowhere, and the lead's partition says why."""
    email = f"optout.{uuid.uuid4().hex[:6]}@ledgerline.example"
    seeded = httpx.post(
        f"{stack.sandbox}/_sandbox/seed",
        json={
            "portalId": DEMO_PORTAL,
            "contacts": [{"properties": {"email": email, "hs_email_optout": "true"}}],
        },
        timeout=5,
    )
    seeded.raise_for_status()
    accepted = deliver(stack, email)
    assert accepted.status_code == 202, accepted.text
    workflow_id = accepted.json()["workflow_id"]
    row = finished(engine, workflow_id)
    assert row.status == "succeeded"
    assert row.suppressed_reason is not None
    assert "hubspot_optout" in row.suppressed_reason
    mailed = httpx.get(f"{stack.sandbox}/_sandbox/sent", timeout=5).json()
    drafts = httpx.get(f"{stack.sandbox}/_sandbox/drafts", timeout=5).json()
    assert not [m for m in mailed + drafts if email in str(m.get("to"))]

    page.goto(lead_partition(stack, workflow_id))
    page.get_by_text("suppressed_reason").first.wait_for()
    assert page.get_by_text("hubspot_optout").count() > 0
    page.get_by_text("suppressed_reason").first.evaluate(
        "cell => cell.scrollIntoView({block: 'center'})"
    )
    shoot(page, "lead-suppressed")


def test_a_workflow_stopped_on_reply_shows_why_in_the_ui(
    stack: RunningStack, engine: Engine, sending: None, page: Page
) -> None:
    """The lead replies: the sensor's observation on the lead's partition says it stopped."""
    email = f"sam.{uuid.uuid4().hex[:6]}@ledgerline.example"
    workflow_id, sent = mailed_lead(stack, engine, email)
    httpx.post(
        f"{stack.sandbox}/_sandbox/gmail/reply",
        json={"mailbox": DEMO_SENDER, "messageId": sent[0]["id"], "text": "Call me Friday."},
        timeout=5,
    ).raise_for_status()

    def stopped() -> bool:
        with Session(engine) as session:
            row = session.get(Workflow, uuid.UUID(workflow_id))
            return row is not None and row.stopped_reason == "replied"

    wait("the workflow stopped on the reply", stopped)
    # The asset's events (materialisations and observations) of the lead's partition.
    events = urllib.parse.urlencode({"view": "events", "partition": workflow_id})
    page.goto(f"{stack.ui}/assets/lead_followup?{events}")
    query = """query($p: [String!]) { assetOrError(assetKey: {path: ["lead_followup"]}) {
      ... on Asset { assetObservations(partitions: $p) { partition
        metadataEntries { label } } } } }"""

    def observed() -> bool:
        answer = httpx.post(
            f"{stack.ui}/graphql",
            json={"query": query, "variables": {"p": [workflow_id]}},
            timeout=10,
        ).json()
        return bool(answer["data"]["assetOrError"]["assetObservations"])

    wait("the observation on the lead's partition", observed, timeout=30)
    page.goto(lead_partition(stack, workflow_id))
    page.get_by_text("stopped_reason").first.wait_for()
    assert page.get_by_text("replied").count() > 0
    shoot(page, "lead-stopped-on-reply")
