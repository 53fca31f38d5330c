"""The pure send decision the gate takes at send time: mode, kill switches, then the cap."""

from dataclasses import replace
from typing import Any

import pytest

from sales_agent_pipeline.domain.enums import WorkflowMode
from sales_agent_pipeline.domain.sending import ModePolicy, SendBlock, block_reason, send_block

DRAFT, SEND = WorkflowMode.DRAFT_ONLY, WorkflowMode.SEND

DRAFTING = ModePolicy(
    global_mode=DRAFT,
    global_kill_switch=False,
    tenant_mode=None,
    tenant_kill_switch=False,
    override=None,
    sent_today=0,
    daily_send_cap=50,
)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, SendBlock.MODE),
        ({"global_mode": SEND}, None),
        ({"tenant_mode": SEND}, None),
        ({"global_mode": SEND, "tenant_mode": DRAFT}, SendBlock.MODE),
        ({"tenant_mode": SEND, "override": DRAFT}, SendBlock.MODE),
        ({"override": SEND}, None),
        ({"override": SEND, "global_kill_switch": True}, SendBlock.KILL_SWITCH),
        ({"tenant_mode": SEND, "tenant_kill_switch": True}, SendBlock.KILL_SWITCH),
        ({"global_mode": SEND, "sent_today": 49}, None),
        ({"global_mode": SEND, "sent_today": 50}, SendBlock.DAILY_CAP),
        # The switch wins over a free cap, and over an approval's explicit SEND.
        ({"override": SEND, "tenant_kill_switch": True, "sent_today": 50}, SendBlock.KILL_SWITCH),
        ({"global_mode": SEND, "daily_send_cap": 0}, SendBlock.DAILY_CAP),
    ],
)
def test_what_stops_a_send_given_the_override_tenant_and_global_settings(
    changes: dict[str, Any], expected: SendBlock | None
) -> None:
    assert send_block(replace(DRAFTING, **changes)) is expected


def test_each_block_says_why_on_the_draft() -> None:
    policy = replace(DRAFTING, tenant_mode=SEND, daily_send_cap=10)
    assert block_reason(SendBlock.KILL_SWITCH, policy) == "send kill switch is on"
    assert block_reason(SendBlock.DAILY_CAP, policy) == "daily send cap of 10 reached"
    assert block_reason(SendBlock.MODE, DRAFTING) == "mode is DRAFT_ONLY at send time"
