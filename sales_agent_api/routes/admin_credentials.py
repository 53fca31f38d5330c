"""GET/PUT /api/admin/credentials (admin key): a tenant replaces its own secrets, write-only.

The answers say which secrets are set and when they changed, the HubSpot auth kind, and
whether HubSpot refused the tenant's OAuth grant (and what fixes it); never a value.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from sales_agent_api.auth import ADMIN_RESPONSES, AdminKey, Principal
from sales_agent_api.deps import ReadSession
from sales_agent_api.errors import ApiError, ErrorResponse
from sales_agent_api.public_urls import install_url
from sales_agent_api.schemas.credentials import (
    CredentialsUpdate,
    CredentialsView,
    Reauthorisation,
    SecretStateView,
)
from sales_agent_api.secret_cache import PlaintextCache
from sales_agent_pipeline.connectors.checks import CredentialRejected
from sales_agent_pipeline.db.models import Tenant
from sales_agent_pipeline.db.repositories.tenant_secrets import secret_states
from sales_agent_pipeline.domain.enums import HubSpotAuth
from sales_agent_pipeline.settings import Settings
from sales_agent_pipeline.usecases.tenant_input import TenantInputError
from sales_agent_pipeline.usecases.tenants import replace_credentials

router = APIRouter(prefix="/api/admin/credentials", tags=["admin"])


def reauthorisation(tenant: Tenant, settings: Settings, request: Request) -> Reauthorisation:
    """Whether the tenant needs HubSpot re-authorisation, and the way to give it."""
    url = install_url(settings, request)
    if tenant.auth_error is None:
        return Reauthorisation(needed=False, error=None, since=None, message=None, install_url=url)
    if url is not None:
        fix = (
            f"an admin of HubSpot portal {tenant.portal_id} opens {url} and approves the app "
            "again; the waiting leads then run"
        )
    else:
        fix = (
            "give the portal a private app's token (PUT /api/admin/credentials with "
            "hubspot_token); the waiting leads then run"
        )
    return Reauthorisation(
        needed=True,
        error=tenant.auth_error,
        since=tenant.auth_error_at,
        message=f"HubSpot refused this portal's access: {fix}",
        install_url=url,
    )


def auth_state(tenant: Tenant, settings: Settings, request: Request) -> dict[str, Any]:
    """The tenant's HubSpot auth kind and re-authorisation, as both admin views show them."""
    return {
        "hubspot_auth": HubSpotAuth(tenant.hubspot_auth) if tenant.hubspot_auth else None,
        "reauthorisation": reauthorisation(tenant, settings, request),
    }


def key_tenant(session: Session, principal: Principal, *, lock: bool = False) -> Tenant:
    """The tenant of the request's key (its row locked when the request changes it)."""
    query = select(Tenant).where(Tenant.id == principal.tenant_id)
    return session.scalars(query.with_for_update() if lock else query).one()


def _view(
    session: Session,
    tenant: Tenant,
    settings: Settings,
    request: Request,
    *,
    changed: list[str] | None = None,
    notes: list[str] | None = None,
) -> CredentialsView:
    states = [
        SecretStateView(
            kind=state.kind,
            set=state.set,
            updated_at=datetime.fromisoformat(state.updated_at) if state.updated_at else None,
        )
        for state in secret_states(session, tenant.id)
    ]
    return CredentialsView(
        portal_id=tenant.portal_id,
        secrets=states,
        **auth_state(tenant, settings, request),
        changed=changed or [],
        notes=notes or [],
    )


@router.get(
    "",
    response_model=CredentialsView,
    responses=ADMIN_RESPONSES,
    summary="Which of the tenant's secrets are set (never their values)",
)
def get_credentials(principal: AdminKey, session: ReadSession, request: Request) -> CredentialsView:
    """Each secret: set or not, and when it changed; the auth kind; re-authorisation."""
    tenant = key_tenant(session, principal)
    return _view(session, tenant, request.app.state.settings, request)


def _replace(request: Request, principal: Principal, update: CredentialsUpdate) -> CredentialsView:
    sessions: sessionmaker[Session] = request.app.state.sessions
    settings: Settings = request.app.state.settings
    secrets: PlaintextCache = request.app.state.secrets
    # One transaction: a refusal anywhere rolls back every secret of the request.
    with sessions.begin() as session:
        tenant = key_tenant(session, principal, lock=True)
        try:
            change = replace_credentials(
                session,
                secrets.box,
                tenant,
                hubspot_token=update.hubspot_token,
                webhook_secret=update.webhook_secret,
                google_credentials=update.google_text(),
                settings=settings,
            )
        except TenantInputError as exc:
            fields = [exc.field] if exc.field else []
            raise ApiError(400, "invalid_credentials", str(exc), fields) from None
        except CredentialRejected as exc:
            raise ApiError(400, "credential_rejected", str(exc), ["hubspot_token"]) from None
        return _view(session, tenant, settings, request, changed=change.changed, notes=change.notes)


@router.put(
    "",
    response_model=CredentialsView,
    responses={
        **ADMIN_RESPONSES,
        400: {
            "model": ErrorResponse,
            "description": "A malformed secret or one HubSpot refuses (field named); "
            "nothing written",
        },
    },
    summary="Replace some of the tenant's secrets (write-only)",
)
async def put_credentials(
    update: CredentialsUpdate, principal: AdminKey, request: Request
) -> CredentialsView:
    """Only the secrets given change; a HubSpot token is checked with HubSpot when it can be
    reached. The answer names what changed and when, never a value."""
    return await run_in_threadpool(_replace, request, principal, update)
