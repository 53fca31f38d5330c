"""Whether an email may go out: the pure decision, and what the send gate answers.

The decision is taken twice with the same rules: by step 11 before it asks for a slot (the
mode the lead was claimed in: only a SEND lead asks at all) and by the send gate in the
send's own transaction, on the values read there (the tenant's row locked), so a flipped
kill switch, a changed mode or a cap reached by other runs is seen at the moment of sending.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sales_agent_pipeline.domain.enums import WorkflowMode

# The name of the global send kill switch in the global_switches table.
SEND_KILL_SWITCH = "send_kill_switch"


class SendBlock(StrEnum):
    """Why an email was drafted instead of sent."""

    KILL_SWITCH = "kill_switch"
    DAILY_CAP = "daily_cap"
    MODE = "mode"
    # The lead may not be mailed at all: suppressed (unsubscribe, bounce, opt-out, by
    # hand) or its workflow stopped (a reply).
    SUPPRESSED = "suppressed"


@dataclass(frozen=True)
class ModePolicy:
    """Everything that decides between drafting and sending."""

    global_mode: WorkflowMode
    global_kill_switch: bool
    tenant_mode: WorkflowMode | None
    tenant_kill_switch: bool
    override: WorkflowMode | None
    sent_today: int
    daily_send_cap: int

    @property
    def wanted(self) -> WorkflowMode:
        """The workflow's override, else the tenant's mode, else the global one."""
        return self.override or self.tenant_mode or self.global_mode


def send_block(policy: ModePolicy) -> SendBlock | None:
    """What stops a send, if anything: the mode, then the kill switches, then the cap."""
    if policy.wanted is not WorkflowMode.SEND:
        return SendBlock.MODE
    if policy.global_kill_switch or policy.tenant_kill_switch:
        return SendBlock.KILL_SWITCH
    if policy.sent_today >= policy.daily_send_cap:
        return SendBlock.DAILY_CAP
    return None


def block_reason(block: SendBlock, policy: ModePolicy) -> str:
    """The block as the draft's mode reason says it."""
    if block is SendBlock.KILL_SWITCH:
        return "send kill switch is on"
    if block is SendBlock.DAILY_CAP:
        return f"daily send cap of {policy.daily_send_cap} reached"
    return f"mode is {policy.wanted.value} at send time"


@dataclass(frozen=True)
class SendGrant:
    """The send gate's answer for one workflow.

    `granted`: the workflow holds a slot of today's cap and may send now. Otherwise `block`
    and `reason` say why not; `held` is true when the workflow still holds a slot from an
    earlier attempt whose send may have reached Gmail: that send must be resolved (was
    it sent?) before the slot is given back.
    """

    granted: bool
    block: SendBlock | None = None
    reason: str | None = None
    held: bool = False
