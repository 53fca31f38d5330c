"""The global send kill switch: read and set by the CLI and the operator API, read by every
send's transaction (db/repositories/sends.py), so flipping it stops sends in flight."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import structlog
from sqlalchemy.orm import Session

from sales_agent_pipeline.db.repositories import switches
from sales_agent_pipeline.domain.sending import SEND_KILL_SWITCH
from sales_agent_pipeline.settings import Settings

log = structlog.get_logger(__name__)

MAX_REASON = 500


@dataclass(frozen=True)
class KillSwitch:
    """The switch as sends see it: on when the database says so or SEND_KILL_SWITCH forces
    it for this process; the last change's author, reason and time."""

    on: bool
    stored: bool
    forced_by_environment: bool
    changed_by: str | None
    reason: str | None
    updated_at: datetime | None

    def as_json(self) -> dict[str, object]:
        """For `--json` and the API."""
        return {
            "on": self.on,
            "stored": self.stored,
            "forced_by_environment": self.forced_by_environment,
            "changed_by": self.changed_by,
            "reason": self.reason,
            "updated_at": self.updated_at.isoformat() if self.updated_at else None,
        }


def kill_switch(session: Session, settings: Settings) -> KillSwitch:
    """The global send kill switch now."""
    row = switches.get_switch(session, SEND_KILL_SWITCH)
    stored = bool(row and row.enabled)
    return KillSwitch(
        on=stored or settings.send_kill_switch,
        stored=stored,
        forced_by_environment=settings.send_kill_switch,
        changed_by=row.changed_by if row else None,
        reason=row.reason if row else None,
        updated_at=row.updated_at if row else None,
    )


def set_kill_switch(
    session: Session, settings: Settings, *, on: bool, changed_by: str, reason: str | None
) -> KillSwitch:
    """Turn the global send kill switch on or off (audited on its row and in the log);
    sends already past the gate finish, every later one is refused."""
    if reason is not None and len(reason) > MAX_REASON:
        raise ValueError(f"the reason is longer than {MAX_REASON} characters")
    switches.set_switch(session, SEND_KILL_SWITCH, enabled=on, changed_by=changed_by, reason=reason)
    log.info("send_kill_switch.changed", on=on, changed_by=changed_by, reason=reason)
    return kill_switch(session, settings)
