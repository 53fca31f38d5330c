"""Switches that apply to every tenant (global_switches): read in each send's transaction,
set by the CLI and the operator API, each change kept with who made it and why."""

from __future__ import annotations

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from sales_agent_pipeline.db.models import GlobalSwitch


def get_switch(session: Session, name: str) -> GlobalSwitch | None:
    """The switch's row; None when it was never set (it is off)."""
    return session.get(GlobalSwitch, name, populate_existing=True)


def is_on(name: str) -> ColumnElement[bool]:
    """A scalar subquery: the switch is on (false when it was never set)."""
    return func.coalesce(
        select(GlobalSwitch.enabled).where(GlobalSwitch.name == name).scalar_subquery(), False
    )


def set_switch(
    session: Session, name: str, *, enabled: bool, changed_by: str, reason: str | None
) -> GlobalSwitch:
    """Turn the switch on or off, recording who did it and why (the row keeps the last
    change; the caller logs each one)."""
    values = {"enabled": enabled, "changed_by": changed_by, "reason": reason}
    session.execute(
        insert(GlobalSwitch)
        .values(name=name, **values)
        .on_conflict_do_update(index_elements=["name"], set_={**values, "updated_at": func.now()})
    )
    switch = get_switch(session, name)
    assert switch is not None
    return switch
