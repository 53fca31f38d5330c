"""The send kill switches as the admin API shows and changes them."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from sales_agent_pipeline.usecases.send_switches import MAX_REASON


class GlobalKillSwitchView(BaseModel):
    """The switch that stops every tenant's sends."""

    on: bool = Field(description="sends are stopped (stored on, or forced by the environment)")
    stored: bool = Field(description="what the database says (set by CLI or operator API)")
    forced_by_environment: bool = Field(description="SEND_KILL_SWITCH is set for the API")
    changed_by: str | None
    reason: str | None
    updated_at: datetime | None


class SwitchesView(BaseModel):
    """What stops this tenant's sends: the global switch and its own."""

    global_send_kill_switch: GlobalKillSwitchView
    tenant_send_kill_switch: bool = Field(
        description="the tenant's own switch (change it with PUT /api/admin/settings)"
    )


class GlobalKillSwitchChange(BaseModel):
    """Turn the global switch on or off, saying why."""

    model_config = ConfigDict(extra="forbid")

    on: bool
    reason: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_REASON)
    ]
