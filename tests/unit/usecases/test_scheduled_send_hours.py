"""Whose hours a rescheduled send follows: the owner's (tenants.owner_hours) when the
owner's zone chose it, else SEND_WINDOW_START/END on weekdays; bad stored hours fall back."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, time
from typing import Any

from sales_agent_pipeline.db.repositories.scheduled_sends import ScheduledSendView
from sales_agent_pipeline.domain.compliance import ScheduledSendStatus
from sales_agent_pipeline.settings import Settings
from sales_agent_pipeline.steps.send_window import SendHours
from sales_agent_pipeline.usecases.scheduled_send_rows import send_hours

SETTINGS = Settings(_env_file=None, send_window_start=time(8, 0), send_window_end=time(18, 0))
OWNER = "owner@ourco.example"


def view(zone_of: str) -> ScheduledSendView:
    return ScheduledSendView(
        workflow_id=uuid.uuid4(),
        tenant_id=uuid.uuid4(),
        mailbox=OWNER,
        to_email="lead@acme.example",
        gmail_draft_id="d",
        gmail_message_id=None,
        gmail_thread_id=None,
        due_at=datetime(2026, 12, 7, 9, tzinfo=UTC),
        time_zone="Europe/Paris",
        zone_of=zone_of,
        status=ScheduledSendStatus.SENDING,
        reason=None,
        attempts=1,
        dagster_run_id=None,
        sent_at=None,
    )


def test_the_owners_hours_when_their_zone_chose_the_time() -> None:
    stored: dict[str, Any] = {
        OWNER: {"time_zone": "Europe/Paris", "start": "10:00", "end": "15:30", "days": [1, 2]}
    }
    assert send_hours(SETTINGS, stored, view("owner")) == SendHours(
        time(10, 0), time(15, 30), frozenset({1, 2})
    )
    default = SendHours(time(8, 0), time(18, 0))
    assert send_hours(SETTINGS, stored, view("recipient")) == default
    assert send_hours(SETTINGS, {}, view("owner")) == default
    bad_hours: list[object] = [
        {"start": "17:00", "end": "09:00"},
        {"days": []},
        {"start": "noon"},
        "9-5",
    ]
    for bad in bad_hours:
        assert send_hours(SETTINGS, {OWNER: bad}, view("owner")) == default
