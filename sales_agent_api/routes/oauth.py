"""HubSpot OAuth for operators serving many portals: the install redirect and its callback.

A portal's admin opens /oauth/hubspot/install, approves the app in HubSpot, and HubSpot
sends them back to /oauth/hubspot/callback with a code and our state. The callback makes
(or updates) the portal's tenant with the grant's tokens encrypted at rest, and the app's
client secret as its webhook secret (HubSpot signs an app's webhooks with it).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session, sessionmaker

from sales_agent_api.deps import Responses
from sales_agent_api.errors import ApiError, ErrorResponse
from sales_agent_api.oauth_state import StateRefused, claim_state, issue_state, read_state
from sales_agent_api.public_urls import redirect_uri
from sales_agent_api.schemas.credentials import InstallResult
from sales_agent_api.secret_cache import PlaintextCache
from sales_agent_pipeline.connectors import hubspot_oauth
from sales_agent_pipeline.domain.enums import HubSpotAuth
from sales_agent_pipeline.domain.errors import ConfigurationError, PermanentError, TransientError
from sales_agent_pipeline.secretbox import SecretBox
from sales_agent_pipeline.settings import Settings
from sales_agent_pipeline.usecases.hubspot_install import install_grant

router = APIRouter(prefix="/oauth/hubspot", tags=["oauth"])

NOT_CONFIGURED: Responses = {
    404: {"model": ErrorResponse, "description": "No HubSpot OAuth app (HUBSPOT_CLIENT_ID unset)"}
}


def _configured(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    if not settings.hubspot_client_id:
        raise ApiError(
            404,
            "oauth_not_configured",
            "this deployment has no HubSpot OAuth app (HUBSPOT_CLIENT_ID is unset): "
            "tenants use private-app tokens (`sales-agent tenant create`)",
        )
    return settings


@router.get(
    "/install",
    status_code=302,
    response_class=RedirectResponse,
    responses={302: {"description": "To HubSpot's authorisation page"}, **NOT_CONFIGURED},
    summary="Install the HubSpot app in a portal (or re-authorise it)",
)
def install(request: Request) -> RedirectResponse:
    """Redirect to HubSpot with a signed state that expires in 10 minutes and works once."""
    settings = _configured(request)
    secrets: PlaintextCache = request.app.state.secrets
    target = hubspot_oauth.authorize_url(
        settings,
        state=issue_state(secrets.box),
        redirect_uri=redirect_uri(settings, request),
    )
    return RedirectResponse(target, status_code=302)


def _claim(sessions: sessionmaker[Session], box: SecretBox, state: str) -> None:
    nonce = read_state(box, state)
    # Its own committed transaction: even a callback whose exchange fails uses the state up.
    with sessions.begin() as session:
        claim_state(session, nonce)


def _exchange(settings: Settings, code: str, back_to: str) -> hubspot_oauth.OAuthGrant:
    try:
        return hubspot_oauth.exchange_code(settings, code=code, redirect_uri=back_to)
    except ConfigurationError as exc:
        raise ApiError(503, "oauth_app_refused", str(exc)) from None
    except TransientError:
        raise ApiError(
            503, "hubspot_unavailable", "HubSpot could not be reached: try the install again"
        ) from None
    except PermanentError as exc:
        raise ApiError(400, "code_refused", str(exc), ["code"]) from None


def _install(
    sessions: sessionmaker[Session],
    box: SecretBox,
    settings: Settings,
    grant: hubspot_oauth.OAuthGrant,
) -> InstallResult:
    client_secret = settings.hubspot_client_secret
    if client_secret is None or not client_secret.get_secret_value():
        raise ApiError(503, "oauth_app_refused", "HUBSPOT_CLIENT_SECRET is not set")
    installed = install_grant(sessions, box, grant, client_secret=client_secret.get_secret_value())
    portal = installed.portal_id
    return InstallResult(
        portal_id=portal,
        tenant_name=installed.tenant_name,
        created=installed.created,
        hubspot_auth=HubSpotAuth.OAUTH,
        scopes=list(grant.scopes),
        access_token_expires_at=grant.expires_at,
        disabled=installed.disabled,
        next_step=(
            f"create an admin API key for this portal: `sales-agent apikey create "
            f"--tenant {portal} --admin`, then set its sender and Google credentials "
            "(PUT /api/admin/credentials)"
        ),
    )


@router.get(
    "/callback",
    response_model=InstallResult,
    responses={
        400: {"model": ErrorResponse, "description": "Forged, stale or used state; bad code"},
        **NOT_CONFIGURED,
        503: {"model": ErrorResponse, "description": "HubSpot unreachable or refused the app"},
    },
    summary="Where HubSpot sends the portal's admin back after the install",
)
async def callback(
    request: Request,
    state: Annotated[str, Query(min_length=1, max_length=2048)],
    code: Annotated[str, Query(min_length=1, max_length=2048)],
) -> InstallResult:
    """Check the state, exchange the code, and create or update the portal's tenant."""
    settings = _configured(request)
    secrets: PlaintextCache = request.app.state.secrets
    sessions: sessionmaker[Session] = request.app.state.sessions
    try:
        await run_in_threadpool(_claim, sessions, secrets.box, state)
    except StateRefused as exc:
        raise ApiError(400, exc.code, exc.message, ["state"]) from None
    back_to = redirect_uri(settings, request)
    grant = await run_in_threadpool(_exchange, settings, code, back_to)
    return await run_in_threadpool(_install, sessions, secrets.box, settings, grant)
