"""The sandbox's credential set-up under /_sandbox/: what a vendor's console would do.

HubSpot: private-app tokens for a portal, public apps (which portal an install grants, the
access tokens' lifetime), uninstalling an app. Google: service-account keys with their
domain-wide delegation, authorized-user files for one user, revoking and expiring tokens.
"""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request
from fastapi.responses import JSONResponse

from .deps import StoreDep
from .hubspot_auth import OAuthApp

router = APIRouter(prefix="/_sandbox", tags=["sandbox"])

JsonBody = Annotated[dict[str, Any], Body()]


class _BadInput(ValueError):
    pass


def _bad(message: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _int(body: dict[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit():
        raise _BadInput(f"{name} must be a positive integer, not {value!r}")
    return int(value)


def _string(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is not None and (not isinstance(value, str) or not value.strip()):
        raise _BadInput(f"{name} must be a non-empty string")
    return value


def _strings(body: dict[str, Any], name: str) -> list[str]:
    value = body.get(name) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _BadInput(f"{name} must be a list of strings")
    return list(value)


def _token_uri(request: Request, body: dict[str, Any]) -> str:
    return str(body.get("tokenUri") or str(request.base_url).rstrip("/") + "/token")


def _app_json(app: OAuthApp) -> dict[str, Any]:
    return {
        "clientId": app.client_id,
        "clientSecret": app.client_secret,
        "appId": app.app_id,
        "portalId": app.portal_id,
        "scopes": list(app.scopes),
        "redirectUris": list(app.redirect_uris),
        "accessTokenSeconds": app.access_token_seconds,
        "rateLimitMax": app.rate_limit_max,
    }


@router.post("/hubspot/tokens", status_code=201, response_model=None)
def register_token(body: JsonBody, store: StoreDep) -> dict[str, Any] | JSONResponse:
    """Bind a private-app token (given, or made up) to a portal (default: the default one)."""
    try:
        portal_id = _int(body, "portalId") or store.config.default_portal_id
        token = _string(body, "token") or f"pat-na1-{secrets.token_hex(16)}"
    except _BadInput as exc:
        return _bad(str(exc))
    store.hubspot_auth.register(token, portal_id)
    store.portal(portal_id)
    return {"token": token, "portalId": portal_id}


@router.delete("/hubspot/tokens/{token}")
def revoke_token(token: str, store: StoreDep) -> dict[str, bool]:
    """Delete a private-app token (as when the app's token is rotated): it answers 401."""
    return {"revoked": store.hubspot_auth.revoke_token(token)}


@router.post("/hubspot/apps", status_code=201, response_model=None)
def create_app(body: JsonBody, store: StoreDep) -> dict[str, Any] | JSONResponse:
    """Register a public app: clientId/clientSecret (made up unless given), the portal an
    install grants, allowed scopes and redirect URIs (empty: any), token lifetime."""
    try:
        app = store.hubspot_auth.create_app(
            portal_id=_int(body, "portalId"),
            client_id=_string(body, "clientId"),
            client_secret=_string(body, "clientSecret"),
            scopes=tuple(_strings(body, "scopes")),
            redirect_uris=tuple(_strings(body, "redirectUris")),
            access_token_seconds=_int(body, "accessTokenSeconds"),
            rate_limit_max=_int(body, "rateLimitMax"),
        )
    except _BadInput as exc:
        return _bad(str(exc))
    store.portal(app.portal_id)
    return _app_json(app)


@router.patch("/hubspot/apps/{client_id}", response_model=None)
def update_app(client_id: str, body: JsonBody, store: StoreDep) -> dict[str, Any] | JSONResponse:
    """Change which portal the next install grants, the token lifetime or the burst limit."""
    app = store.hubspot_auth.app(client_id)
    if app is None:
        return _bad(f"unknown app {client_id}", 404)
    try:
        portal_id = _int(body, "portalId")
        seconds = _int(body, "accessTokenSeconds")
        limit = _int(body, "rateLimitMax")
    except _BadInput as exc:
        return _bad(str(exc))
    if portal_id is not None:
        app.portal_id = portal_id
        store.portal(portal_id)
    if seconds is not None:
        app.access_token_seconds = seconds
    if limit is not None:
        app.rate_limit_max = limit
    return _app_json(app)


def _installs(store: Any, client_id: str, body: dict[str, Any]) -> list[Any] | JSONResponse:
    if store.hubspot_auth.app(client_id) is None:
        return _bad(f"unknown app {client_id}", 404)
    try:
        portal_id = _int(body, "portalId")
    except _BadInput as exc:
        return _bad(str(exc))
    installs: list[Any] = store.hubspot_auth.installs(client_id, portal_id)
    return installs


@router.post("/hubspot/apps/{client_id}/uninstall", response_model=None)
def uninstall(client_id: str, body: JsonBody, store: StoreDep) -> dict[str, int] | JSONResponse:
    """The portal (`portalId`, else every portal) uninstalls the app: its refresh tokens are
    refused (BAD_REFRESH_TOKEN) and its access tokens answer 401."""
    found = _installs(store, client_id, body)
    if isinstance(found, JSONResponse):
        return found
    return {"revoked": store.hubspot_auth.revoke(found)}


@router.post("/hubspot/apps/{client_id}/expire", response_model=None)
def expire_app_tokens(
    client_id: str, body: JsonBody, store: StoreDep
) -> dict[str, int] | JSONResponse:
    """Expire the app's current access tokens now (401 EXPIRED_AUTHENTICATION; a refresh
    gets a new one), without waiting out their lifetime."""
    found = _installs(store, client_id, body)
    if isinstance(found, JSONResponse):
        return found
    return {"expired": store.hubspot_auth.expire(found)}


@router.post("/google/service-accounts", status_code=201, response_model=None)
def create_service_account(
    body: JsonBody, request: Request, store: StoreDep
) -> dict[str, Any] | JSONResponse:
    """A service-account key file (Google's JSON shape, token_uri at this sandbox) whose
    client may impersonate users of `delegatedDomains` (limited to `scopes` when given)."""
    try:
        domains, scopes = _strings(body, "delegatedDomains"), _strings(body, "scopes")
    except _BadInput as exc:
        return _bad(str(exc))
    name = body.get("name")
    if name is not None and (not isinstance(name, str) or not name.replace("-", "").isalnum()):
        return _bad("name must be letters, digits and dashes")
    return store.google_auth.create_service_account(
        _token_uri(request, body), name=name, domains=domains, scopes=scopes or None
    )


@router.patch("/google/service-accounts/{client_email}", response_model=None)
def update_delegation(
    client_email: str, body: JsonBody, store: StoreDep
) -> dict[str, Any] | JSONResponse:
    """Replace the domains (and scopes) the service account may impersonate users of."""
    try:
        domains, scopes = _strings(body, "delegatedDomains"), _strings(body, "scopes")
    except _BadInput as exc:
        return _bad(str(exc))
    account = store.google_auth.set_delegation(client_email, domains, scopes or None)
    if account is None:
        return _bad(f"unknown service account {client_email}", 404)
    return {
        "clientEmail": account.client_email,
        "delegatedDomains": sorted(account.domains),
        "scopes": sorted(account.scopes or ()),
    }


@router.delete("/google/service-accounts/{client_email}")
def delete_service_account(client_email: str, store: StoreDep) -> dict[str, bool]:
    """Delete the key: its signatures are refused and the tokens it got answer 401."""
    return {"deleted": store.google_auth.delete_service_account(client_email)}


@router.post("/google/authorized-users", status_code=201, response_model=None)
def create_authorized_user(
    body: JsonBody, request: Request, store: StoreDep
) -> dict[str, Any] | JSONResponse:
    """An authorized-user file: `user` consented to an OAuth client (for `scopes`, if given)."""
    user = body.get("user")
    if not isinstance(user, str) or "@" not in user:
        return _bad("user must be an email address")
    try:
        scopes = _strings(body, "scopes")
    except _BadInput as exc:
        return _bad(str(exc))
    return store.google_auth.create_authorized_user(_token_uri(request, body), user, scopes)


@router.post("/google/revoke", response_model=None)
def revoke_google(body: JsonBody, store: StoreDep) -> dict[str, bool] | JSONResponse:
    """The user withdraws consent: the refresh token and its access tokens stop working."""
    token = body.get("refreshToken")
    if not isinstance(token, str) or not token:
        return _bad("refreshToken is required")
    return {"revoked": store.google_auth.revoke_refresh_token(token)}


@router.post("/google/expire")
def expire_google_tokens(body: JsonBody, store: StoreDep) -> dict[str, int]:
    """Expire access tokens now (of `subject`, else all): the next call is 401 and
    google-auth refreshes."""
    subject = body.get("subject")
    return {"expired": store.google_auth.expire(str(subject) if subject else None)}
