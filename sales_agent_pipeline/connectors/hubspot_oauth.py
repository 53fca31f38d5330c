"""HubSpot OAuth for a public app: the install URL, the code exchange and the token refresh,
on the official SDK's oauth APIs (TokensApi, AccessTokensApi).

Every answer is an OAuthGrant whose tokens are SecretStr. A refresh HubSpot refuses because
the grant is gone (the portal uninstalled the app, a user revoked it) raises GrantRevoked,
which callers turn into "this tenant needs re-authorisation", never a retry loop.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import hubspot
from pydantic import SecretStr
from urllib3.util.retry import Retry

from sales_agent_pipeline.connectors.errors import classify
from sales_agent_pipeline.connectors.factory import hubspot_base_url
from sales_agent_pipeline.domain.credentials import OAuthGrant
from sales_agent_pipeline.domain.errors import ConfigurationError, GrantRevoked, PermanentError
from sales_agent_pipeline.settings import HUBSPOT_API_BASE_URL, HUBSPOT_AUTHORIZE_URL, Settings

# HubSpot's answers to a refresh token it no longer honours (400; some proxies say 401).
_REVOKED_STATUSES = {"BAD_REFRESH_TOKEN", "invalid_grant", "EXPIRED_REFRESH_TOKEN"}
# Ours to fix, not the portal's: every tenant would fail alike.
_CLIENT_STATUSES = {"BAD_CLIENT_ID", "BAD_CLIENT_SECRET", "invalid_client", "BAD_REDIRECT_URI"}


def authorize_url(settings: Settings, *, state: str, redirect_uri: str) -> str:
    """Where a portal's admin installs the app; HubSpot sends them back with code and state.

    A stand-in HubSpot (HUBSPOT_API_BASE_URL, or the sandbox) authorises at its own
    /oauth/authorize unless HUBSPOT_AUTHORIZE_URL says otherwise.
    """
    client_id = _client_id(settings)
    base = settings.hubspot_authorize_url
    api = hubspot_base_url(settings).rstrip("/")
    if base == HUBSPOT_AUTHORIZE_URL and api != HUBSPOT_API_BASE_URL:
        base = f"{api}/oauth/authorize"
    query = urlencode(
        {
            "client_id": client_id,
            "scope": settings.hubspot_oauth_scopes,
            "redirect_uri": redirect_uri,
            "state": state,
        }
    )
    return f"{base}?{query}"


def exchange_code(settings: Settings, *, code: str, redirect_uri: str) -> OAuthGrant:
    """The grant for an authorisation code HubSpot sent back to `redirect_uri`."""
    if not code:
        raise PermanentError("HubSpot sent no authorisation code")
    client = _client(settings)
    answer = _token_call(
        client,
        "exchange the authorisation code",
        grant_type="authorization_code",
        code=code,
        redirect_uri=redirect_uri,
        client_id=_client_id(settings),
        client_secret=_client_secret(settings),
    )
    return _grant(client, answer, settings)


def refresh_grant(settings: Settings, refresh_token: SecretStr | str) -> OAuthGrant:
    """A new access token (and the refresh token to keep) for a stored grant;
    GrantRevoked when HubSpot no longer honours it."""
    raw = (
        refresh_token.get_secret_value() if isinstance(refresh_token, SecretStr) else refresh_token
    )
    if not raw:
        raise GrantRevoked("no HubSpot refresh token is stored: install the app again")
    client = _client(settings)
    answer = _token_call(
        client,
        "refresh the access token",
        grant_type="refresh_token",
        refresh_token=raw,
        client_id=_client_id(settings),
        client_secret=_client_secret(settings),
    )
    grant = _grant(client, answer, settings)
    if not grant.refresh_token.get_secret_value():
        # HubSpot keeps the refresh token and may leave it out of a refresh's answer.
        grant = OAuthGrant(
            grant.access_token, SecretStr(raw), grant.expires_at, grant.hub_id, grant.scopes
        )
    return grant


def _client_id(settings: Settings) -> str:
    if not settings.hubspot_client_id:
        raise ConfigurationError("HUBSPOT_CLIENT_ID is not set: no HubSpot OAuth app configured")
    return settings.hubspot_client_id


def _client_secret(settings: Settings) -> str:
    secret = settings.hubspot_client_secret
    if secret is None or not secret.get_secret_value():
        raise ConfigurationError("HUBSPOT_CLIENT_SECRET is not set: the OAuth app needs it")
    return secret.get_secret_value()


def _client(settings: Settings) -> Any:
    # Connection failures only (the request was never sent); the rest is ours to classify.
    retry = Retry(total=2, connect=2, read=0, status=0, other=0, redirect=0)
    base = hubspot_base_url(settings).rstrip("/")
    return hubspot.Client.create(host=base, retry=retry)


def _body(exc: BaseException) -> dict[str, Any]:
    raw = getattr(exc, "body", None)
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", errors="replace")
    try:
        parsed = json.loads(raw) if isinstance(raw, str) and raw.strip() else {}
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _token_call(client: Any, operation: str, **form: str) -> Any:
    """POST /oauth/v1/token; HubSpot's refusals become our errors without echoing the form
    (it holds the client secret and the token)."""
    try:
        return client.oauth.tokens_api.create(**form, _request_timeout=15)
    except Exception as exc:
        status = int(getattr(exc, "status", 0) or 0)
        body = _body(exc)
        code = str(body.get("status") or body.get("error") or "")
        message = str(body.get("message") or body.get("error_description") or "")
        if status in (400, 401) and code in _CLIENT_STATUSES:
            raise ConfigurationError(
                f"HubSpot refused the OAuth app's credentials ({code}): check "
                "HUBSPOT_CLIENT_ID, HUBSPOT_CLIENT_SECRET and the redirect URL",
                http_status=status,
                vendor_message=message or None,
            ) from None
        if status in (400, 401) and form.get("grant_type") == "refresh_token":
            # BAD_REFRESH_TOKEN and its kin, or a refusal that names no client problem: the
            # grant is gone. Asking again would only be refused again.
            raise GrantRevoked(
                f"HubSpot refused the refresh token ({code or status}): the app was "
                "uninstalled or its access revoked; install it again for this portal",
                http_status=status,
                vendor_message=message or None,
            ) from None
        if status in (400, 401):
            raise PermanentError(
                f"HubSpot refused to {operation} ({code or status}): {message}".rstrip(": "),
                http_status=status,
                vendor_message=message or None,
            ) from None
        mapped = classify(exc, f"HubSpot {operation}")
        if mapped is None:
            raise
        raise mapped from None


def _grant(client: Any, answer: Any, settings: Settings) -> OAuthGrant:
    access = str(getattr(answer, "access_token", "") or "")
    if not access:
        raise PermanentError("HubSpot's token answer carried no access token")
    expires_in = int(getattr(answer, "expires_in", 0) or 0) or 1800
    try:
        info = client.oauth.access_tokens_api.get(access, _request_timeout=15)
    except Exception as exc:
        # The token is in this call's URL path: no text of the exception may travel on
        # (a network error quotes the URL), only its class and status.
        mapped = classify(exc, "HubSpot read the access token's portal")
        if mapped is None:
            raise PermanentError(
                f"HubSpot read the access token's portal failed: {type(exc).__name__}"
            ) from None
        raise type(mapped)(
            f"HubSpot read the access token's portal failed: {type(exc).__name__}"
            + (f" (HTTP {mapped.http_status})" if mapped.http_status else ""),
            http_status=mapped.http_status,
        ) from None
    hub_id = int(getattr(info, "hub_id", 0) or 0)
    if not hub_id:
        raise PermanentError("HubSpot did not say which portal the access token belongs to")
    return OAuthGrant(
        access_token=SecretStr(access),
        refresh_token=SecretStr(str(getattr(answer, "refresh_token", "") or "")),
        expires_at=datetime.now(UTC) + timedelta(seconds=expires_in),
        hub_id=hub_id,
        scopes=tuple(getattr(info, "scopes", None) or ()),
    )
