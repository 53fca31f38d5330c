"""GET/PUT /api/admin/settings (admin key) and the audit of every accepted change."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import ValidationError

from sales_agent_api.auth import ADMIN_RESPONSES, AdminKey, Principal
from sales_agent_api.deps import ReadSession, Responses
from sales_agent_api.errors import ApiError, ErrorResponse
from sales_agent_api.pagination import DEFAULT_LIMIT, MAX_LIMIT
from sales_agent_api.routes.admin_credentials import auth_state, key_tenant
from sales_agent_api.schemas.settings import (
    SettingsChangeList,
    SettingsChangeView,
    SettingsUpdate,
    TenantSettingsView,
)
from sales_agent_api.secret_cache import PlaintextCache
from sales_agent_pipeline.db.models import Tenant
from sales_agent_pipeline.db.repositories import tenant_settings
from sales_agent_pipeline.domain.drafting import WriterSettings
from sales_agent_pipeline.domain.workflow import OwnerHours, VoiceProfile
from sales_agent_pipeline.settings import Settings
from sales_agent_pipeline.usecases.operator_settings import (
    CredentialsUnreadable,
    IdsRefused,
    change_settings,
)
from sales_agent_pipeline.usecases.send_switches import kill_switch

router = APIRouter(prefix="/api/admin/settings", tags=["admin"])
BAD_REQUEST: Responses = {
    400: {
        "model": ErrorResponse,
        "description": "Invalid value, or a form or Drive folder not the tenant's (named)",
    }
}


def _global_kill_switch(request: Request, settings: Settings) -> bool:
    """The global send kill switch as sends see it (database or SEND_KILL_SWITCH)."""
    with request.app.state.sessions() as session:
        return kill_switch(session, settings).on


def owner_hours(stored: dict[str, Any] | None) -> dict[str, OwnerHours]:
    """The stored owners' hours; an entry that no longer reads (an edit by hand) is left
    out, as the pipeline leaves it out."""
    shown: dict[str, OwnerHours] = {}
    for email, hours in (stored or {}).items():
        try:
            shown[email] = OwnerHours.model_validate(hours)
        except ValidationError:
            continue
    return shown


def _view(
    tenant: Tenant, settings: Settings, request: Request, notes: list[str] | None = None
) -> TenantSettingsView:
    values: dict[str, Any] = tenant_settings.current(tenant)
    return TenantSettingsView(
        portal_id=tenant.portal_id,
        name=tenant.name,
        **{
            **values,
            "voice_profile": VoiceProfile.model_validate(values["voice_profile"] or {}),
            "draft_writer": WriterSettings.model_validate(values["draft_writer"] or {}),
            "owner_hours": owner_hours(values["owner_hours"]),
        },
        global_draft_writer=settings.draft_writer,
        global_llm_model=settings.llm_model,
        global_mode=settings.workflow_mode,
        global_kill_switch=_global_kill_switch(request, settings),
        disabled=tenant.disabled_at is not None,
        **auth_state(tenant, settings, request),
        notes=notes or [],
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
    """Mode, kill switch, allowlists, daily cap, throttle window and voice profile; whether
    the tenant is disabled or needs HubSpot re-authorisation."""
    return _view(key_tenant(session, principal), request.app.state.settings, request)


def _update(request: Request, principal: Principal, update: SettingsUpdate) -> TenantSettingsView:
    secrets: PlaintextCache = request.app.state.secrets
    settings: Settings = request.app.state.settings
    try:
        changed = change_settings(
            request.app.state.sessions,
            secrets.box,
            settings,
            principal.tenant_id,
            update.changes(),
            forms=update.allowed_form_ids,
            folders=update.drive_folder_ids,
            changed_by=principal.actor,
            api_key_id=principal.key_id,
        )
    except IdsRefused as exc:
        raise ApiError(400, exc.code, exc.message, exc.fields) from None
    except CredentialsUnreadable as exc:
        raise ApiError(503, "secret_unreadable", str(exc)) from None
    return _view(changed.tenant, settings, request, changed.notes)


@router.put(
    "",
    response_model=TenantSettingsView,
    responses={**ADMIN_RESPONSES, **BAD_REQUEST},
    summary="Change some of the tenant's settings (audited)",
)
async def put_settings(
    update: SettingsUpdate, principal: AdminKey, request: Request
) -> TenantSettingsView:
    """Only the fields given change; the next workflow (and the next webhook) uses them.

    Forms and Drive folders new to the lists are checked with the tenant's own HubSpot
    token and Google user: one that is not the tenant's is a 400 naming it, nothing saved."""
    return await run_in_threadpool(_update, request, principal, update)


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
