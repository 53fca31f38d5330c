"""HubSpot OAuth for public apps: the install redirect, the token endpoint and token metadata.

The answers and refusals follow HubSpot's v1 OAuth API, which the official SDK's
oauth.tokens_api, access_tokens_api and refresh_tokens_api call.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from .deps import StoreDep, form_fields
from .errors import HubSpotError, correlation_id
from .hubspot_auth import Grant, Identity, OAuthRefusal, fingerprint

router = APIRouter(tags=["hubspot-oauth"])


def refusal(exc: OAuthRefusal) -> JSONResponse:
    """HubSpot's OAuth error body."""
    body = {
        "status": exc.status,
        "message": exc.message,
        "correlationId": correlation_id(),
        "requestId": correlation_id(),
    }
    return JSONResponse(body, status_code=exc.http_status)


def _scopes(value: str | None) -> tuple[str, ...]:
    return tuple(part for part in (value or "").replace("+", " ").split() if part)


def _hub_domain(portal_id: int) -> str:
    return f"portal-{portal_id}.hubspot.example"


@router.get("/oauth/authorize", response_model=None)
def authorize(
    request: Request,
    store: StoreDep,
    client_id: str = "",
    redirect_uri: str = "",
    scope: str | None = None,
    optional_scope: str | None = None,
    state: str | None = None,
) -> Response:
    """The portal's admin installs the app: back to redirect_uri with a code and the state."""
    wanted = _scopes(scope) + _scopes(optional_scope)
    try:
        code = store.hubspot_auth.authorize(client_id, redirect_uri, wanted)
    except OAuthRefusal as exc:
        return refusal(exc)
    app = store.hubspot_auth.app(client_id)
    if app is not None:
        request.state.identity = Identity(app.portal_id, fingerprint(client_id), app.app_id)
    query = {"code": code, **({"state": state} if state is not None else {})}
    separator = "&" if "?" in redirect_uri else "?"
    return RedirectResponse(f"{redirect_uri}{separator}{urlencode(query)}", status_code=302)


@router.post("/oauth/v1/token", response_model=None)
async def token(request: Request, store: StoreDep) -> Response:
    """authorization_code and refresh_token grants (form-encoded, as HubSpot takes them)."""
    field = await form_fields(request)
    grant_type = field.get("grant_type", "")
    auth = store.hubspot_auth
    try:
        if grant_type == "authorization_code":
            grant, access, seconds = auth.exchange(
                field.get("client_id", ""),
                field.get("client_secret", ""),
                field.get("code", ""),
                field.get("redirect_uri", ""),
            )
        elif grant_type == "refresh_token":
            refresh_token = field.get("refresh_token", "")
            access, seconds = auth.refresh(
                field.get("client_id", ""), field.get("client_secret", ""), refresh_token
            )
            grant = auth.grants[refresh_token]
        else:
            raise OAuthRefusal("BAD_GRANT_TYPE", "missing or invalid grant type")
    except OAuthRefusal as exc:
        return refusal(exc)
    request.state.identity = Identity(grant.portal_id, fingerprint(access), grant.app_id)
    request.state.touched = {"portals": [grant.portal_id]}
    return JSONResponse(
        {
            "token_type": "bearer",
            "refresh_token": grant.refresh_token,
            "access_token": access,
            "expires_in": seconds,
        }
    )


def _grant_json(grant: Grant, token_type: str) -> dict[str, Any]:
    return {
        "user": grant.user,
        "hub_domain": _hub_domain(grant.portal_id),
        "scopes": list(grant.scopes),
        "hub_id": grant.portal_id,
        "user_id": grant.user_id,
        "token_type": token_type,
    }


@router.get("/oauth/v1/access-tokens/{token}")
def access_token_info(token: str, request: Request, store: StoreDep) -> dict[str, Any]:
    """An access token's portal (hub_id), app, scopes and remaining lifetime."""
    found = store.hubspot_auth.access_token(token)
    if found is None:
        raise HubSpotError(404, "The access token was not found", "OBJECT_NOT_FOUND")
    remaining = int(found.expires_at - time.time())
    if remaining <= 0:
        raise HubSpotError(
            401, "The OAuth token used to make this call expired.", "EXPIRED_AUTHENTICATION"
        )
    grant = found.grant
    request.state.identity = Identity(grant.portal_id, fingerprint(token), grant.app_id)
    return {
        "token": token,
        **_grant_json(grant, "access"),
        "app_id": grant.app_id,
        "expires_in": remaining,
    }


def _live_grant(store: Any, token: str) -> Grant:
    grant: Grant | None = store.hubspot_auth.grants.get(token)
    if grant is None or grant.revoked:
        raise HubSpotError(404, "The refresh token was not found", "OBJECT_NOT_FOUND")
    return grant


@router.get("/oauth/v1/refresh-tokens/{token}")
def refresh_token_info(token: str, request: Request, store: StoreDep) -> dict[str, Any]:
    """A refresh token's portal, app client id and scopes."""
    grant = _live_grant(store, token)
    request.state.identity = Identity(grant.portal_id, fingerprint(token), grant.app_id)
    return {"token": token, **_grant_json(grant, "refresh"), "client_id": grant.client_id}


@router.delete("/oauth/v1/refresh-tokens/{token}", status_code=204)
def delete_refresh_token(token: str, request: Request, store: StoreDep) -> None:
    """Revoke an install: the refresh token and its access tokens stop working."""
    grant = _live_grant(store, token)
    request.state.identity = Identity(grant.portal_id, fingerprint(token), grant.app_id)
    store.hubspot_auth.revoke([grant])
