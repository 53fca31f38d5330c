"""One-click unsubscribe through the real processes (`sales-agent up`: API under uvicorn,
Dagster, the sandbox): a lead's Gmail draft carries RFC 8058's headers; opening the link
changes nothing, its POST suppresses the address once, and the next lead of that address
is recorded but never mailed."""

from __future__ import annotations

import re
import uuid
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine

from sales_agent_pipeline.db.models import Suppression, Workflow, WorkflowEvent
from tests.e2e.conftest import RunningStack, deliver, finished

pytestmark = pytest.mark.e2e

EMAIL = "e2e.unsubscribe@acme-robotics.example"


def header(message: dict[str, Any], name: str) -> str | None:
    for item in message["headers"]:
        if item["name"].lower() == name.lower():
            return str(item["value"])
    return None


def drafts_to(stack: RunningStack, email: str) -> list[dict[str, Any]]:
    items = httpx.get(f"{stack.sandbox}/_sandbox/drafts", timeout=5).json()
    return [item for item in items if email in item["to"]]


def sent_to(stack: RunningStack, email: str) -> int:
    items = httpx.get(f"{stack.sandbox}/_sandbox/sent", timeout=5).json()
    return sum(email in item["to"] for item in items)


def test_a_drafts_one_click_link_unsubscribes_once_and_the_next_lead_is_not_mailed(
    stack: RunningStack, engine: Engine
) -> None:
    first = deliver(stack, EMAIL, company="Acme Robotics")
    assert first.status_code == 202
    workflow_id = uuid.UUID(first.json()["workflow_id"])
    assert finished(engine, str(workflow_id)).status == "succeeded"

    [draft] = drafts_to(stack, EMAIL)
    links = header(draft, "List-Unsubscribe")
    assert links is not None
    assert header(draft, "List-Unsubscribe-Post") == "List-Unsubscribe=One-Click"
    https = re.search(r"<(https?://[^>]+)>", links)
    assert https is not None
    assert "mailto:" in links
    # The link's path on this stack's API (its public address may name another host).
    path = urlsplit(https.group(1)).path
    assert path.startswith("/unsubscribe/")
    assert EMAIL not in links
    assert "nsubscribe" in draft["body"]

    page = httpx.get(f"{stack.api}{path}", headers={"Accept": "text/html"}, timeout=10)
    assert page.status_code == 200
    assert '<form method="post">' in page.text
    with engine.connect() as conn:
        assert conn.execute(select(Suppression).where(Suppression.value == EMAIL)).all() == []

    done = httpx.post(
        f"{stack.api}{path}",
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=10,
    )
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "unsubscribed"
    again = httpx.post(f"{stack.api}{path}", timeout=10)
    assert again.json()["status"] == "already_unsubscribed"
    with engine.connect() as conn:
        [entry] = conn.execute(select(Suppression).where(Suppression.value == EMAIL)).all()
        assert (entry.reason, entry.source, entry.workflow_id) == (
            "unsubscribe",
            "one-click",
            workflow_id,
        )
        stopped = conn.execute(
            select(Workflow.stopped_reason).where(Workflow.id == workflow_id)
        ).scalar_one()
        assert stopped == "unsubscribed"
        kinds = conn.execute(
            select(WorkflowEvent.event_type).where(WorkflowEvent.workflow_id == workflow_id)
        ).scalars()
        assert list(kinds).count("unsubscribed") == 1

    # The same person fills the form again: recorded, never mailed.
    second = deliver(stack, EMAIL, company="Acme Robotics")
    assert second.status_code == 202
    later = finished(engine, second.json()["workflow_id"])
    assert later.suppressed_reason is not None
    assert "unsubscribe" in later.suppressed_reason
    assert sent_to(stack, EMAIL) == 0
