"""`sales-agent send kill-switch on|off|status`: the global send kill switch, for every
tenant at once (a tenant's own switch is its setting: `PUT /api/admin/settings`)."""

from __future__ import annotations

import getpass
import json
from enum import StrEnum

import typer

from sales_agent_pipeline.cli.context import errors, fail, settings, transaction
from sales_agent_pipeline.usecases.send_switches import (
    MAX_REASON,
    KillSwitch,
    kill_switch,
    set_kill_switch,
)

send_app = typer.Typer(help="Sending: the global kill switch that stops every tenant's sends.")


class Action(StrEnum):
    """What to do with the switch."""

    ON = "on"
    OFF = "off"
    STATUS = "status"


def _line(switch: KillSwitch) -> str:
    state = "ON: no email is sent, drafts only" if switch.on else "off: sends allowed"
    parts = [f"global send kill switch {state}"]
    if switch.forced_by_environment:
        parts.append("forced on by SEND_KILL_SWITCH in this environment")
    if switch.changed_by:
        when = f"{switch.updated_at:%Y-%m-%d %H:%M} UTC" if switch.updated_at else "?"
        parts.append(f"last set by {switch.changed_by} at {when}")
    if switch.reason:
        parts.append(f"reason: {switch.reason}")
    return "; ".join(parts)


ACTION = typer.Argument(Action.STATUS, help="on, off or status")


@send_app.command("kill-switch")
def kill_switch_command(
    action: Action = ACTION,
    reason: str | None = typer.Option(None, "--reason", help="why (kept with the change)"),
    by: str | None = typer.Option(None, "--by", help="who (default: cli:<your login>)"),
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
) -> None:
    """Stop (on) or allow (off) every tenant's sends at once, or show the switch. Sends
    already handed to Gmail finish; every later one is drafted with the reason."""
    if reason is not None and len(reason) > MAX_REASON:
        raise fail(f"--reason is longer than {MAX_REASON} characters")
    if action is Action.ON and not (reason or "").strip():
        raise fail("say why with --reason when turning the kill switch on")
    config = settings()
    with errors(), transaction(config) as session:
        if action is Action.STATUS:
            switch = kill_switch(session, config)
        else:
            switch = set_kill_switch(
                session,
                config,
                on=action is Action.ON,
                changed_by=by or f"cli:{getpass.getuser()}",
                reason=reason,
            )
    typer.echo(json.dumps(switch.as_json(), indent=2) if as_json else _line(switch))
