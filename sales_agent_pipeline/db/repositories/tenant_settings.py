"""A tenant's operator settings: partial updates, each accepted change audited once."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from sales_agent_pipeline.db.models import SettingsChange, Tenant

# The settings an operator may change, by the name the API and the audit use -> column.
COLUMNS = {
    "mode": "mode",
    "kill_switch": "send_kill_switch",
    "allowed_form_ids": "allowed_form_ids",
    "drive_folder_ids": "drive_folder_ids",
    "daily_send_cap": "daily_send_cap",
    "throttle_window_seconds": "throttle_window_seconds",
    "voice_profile": "voice_profile",
    "draft_writer": "writer_settings",
    "route_by_owner": "route_by_owner",
    "owner_hours": "owner_hours",
}


def current(tenant: Tenant) -> dict[str, Any]:
    """The tenant's settings by their API names (JSON-ready values)."""
    return {name: getattr(tenant, column) for name, column in COLUMNS.items()}


def update_settings(
    session: Session,
    tenant_id: uuid.UUID,
    wanted: dict[str, Any],
    *,
    changed_by: str,
    api_key_id: uuid.UUID | None,
) -> tuple[Tenant, SettingsChange | None]:
    """Apply the given settings; one audit row with the old and new values of what changed.

    Nothing is written when every given value equals the stored one. The tenant row is
    locked, so concurrent updates each see the other's result as their "old" values.
    """
    unknown = set(wanted) - set(COLUMNS)
    if unknown:
        raise KeyError(f"not a tenant setting: {sorted(unknown)}")
    tenant = session.scalar(select(Tenant).where(Tenant.id == tenant_id).with_for_update())
    if tenant is None:
        raise LookupError(f"no tenant {tenant_id}")
    before = current(tenant)
    changed = {name: value for name, value in wanted.items() if before[name] != value}
    if not changed:
        return tenant, None
    for name, value in changed.items():
        setattr(tenant, COLUMNS[name], value)
    change = SettingsChange(
        tenant_id=tenant_id,
        api_key_id=api_key_id,
        changed_by=changed_by,
        old={name: before[name] for name in changed},
        new=changed,
    )
    session.add(change)
    session.flush()
    return tenant, change


def list_changes(session: Session, tenant_id: uuid.UUID, limit: int) -> list[SettingsChange]:
    """The tenant's settings changes, newest first."""
    return list(
        session.scalars(
            select(SettingsChange)
            .where(SettingsChange.tenant_id == tenant_id)
            .order_by(SettingsChange.id.desc())
            .limit(limit)
        )
    )
