"""GET/PUT /api/admin/settings (admin key) and the audit of every accepted change."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from sales_agent_api.auth import ADMIN_RESPONSES, AdminKey, Principal
from sales_agent_api.deps import ReadSession, Responses
from sales_agent_api.errors import ErrorResponse
from sales_agent_api.pagination import DEFAULT_LIMIT, MAX_LIMIT
from sales_agent_api.schemas.settings import (
    SettingsChangeList,
    SettingsChangeView,
    SettingsUpdate,
    TenantSettingsView,
)
from sales_agent_pipeline.db.models import Tenant
from sales_agent_pipeline.db.repositories import tenant_settings
from sales_agent_pipeline.domain.workflow import VoiceProfile
from sales_agent_pipeline.settings import Settings

router = APIRouter(prefix="/api/admin/settings", tags=["admin"])
BAD_REQUEST: Responses = {
    400: {"model": ErrorResponse, "description": "Invalid value (field named)"}
}


def _view(tenant: Tenant, settings: Settings) -> TenantSettingsView:
    values: dict[str, Any] = tenant_settings.current(tenant)
    return TenantSettingsView(
        portal_id=tenant.portal_id,
        name=tenant.name,
        **{**values, "voice_profile": VoiceProfile.model_validate(values["voice_profile"] or {})},
        global_mode=settings.workflow_mode,
        global_kill_switch=settings.send_kill_switch,
    )


@router.get(
    "",
    response_model=TenantSettingsView,
    responses=ADMIN_RESPONSES,
    summary="The tenant's settings",
)
def get_settings_(
    principal: AdminKey, session: ReadSession, request: Request
) -> TenantSettingsView:
    """Mode, kill switch, allowlists, daily cap, throttle window and voice profile."""
    tenant = session.scalars(select(Tenant).where(Tenant.id == principal.tenant_id)).one()
    return _view(tenant, request.app.state.settings)


def _update(
    sessions: sessionmaker[Session],
    principal: Principal,
    update: SettingsUpdate,
    settings: Settings,
) -> TenantSettingsView:
    with sessions.begin() as session:
        tenant, _ = tenant_settings.update_settings(
            session,
            principal.tenant_id,
            update.changes(),
            changed_by=principal.actor,
            api_key_id=principal.key_id,
        )
        return _view(tenant, settings)


@router.put(
    "",
    response_model=TenantSettingsView,
    responses={**ADMIN_RESPONSES, **BAD_REQUEST},
    summary="Change some of the tenant's settings (audited)",
)
async def put_settings(
    update: SettingsUpdate, principal: AdminKey, request: Request
) -> TenantSettingsView:
    """Only the fields given change; the next workflow (and the next webhook) uses them."""
    return await run_in_threadpool(
        _update, request.app.state.sessions, principal, update, request.app.state.settings
    )


@router.get(
    "/changes",
    response_model=SettingsChangeList,
    responses={**ADMIN_RESPONSES, **BAD_REQUEST},
    summary="The audit of settings changes, newest first",
)
def list_changes(
    principal: AdminKey,
    session: ReadSession,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
) -> SettingsChangeList:
    """Who changed which settings when, with the old and new values."""
    changes = tenant_settings.list_changes(session, principal.tenant_id, limit)
    return SettingsChangeList(items=[SettingsChangeView.model_validate(c) for c in changes])
