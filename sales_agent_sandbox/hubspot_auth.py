"""HubSpot's credentials: private-app tokens and OAuth installs, each bound to one portal.

A private-app token is registered for a portal and never expires. A public app (client id
and secret) is installed through /oauth/authorize; the code it sends back buys a refresh
token (the install) and short-lived access tokens, all bound to the portal the install
granted. Uninstalling revokes the refresh token and every access token it issued.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import secrets
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .errors import HubSpotError
from .locked import LockedState

if TYPE_CHECKING:
    from .config import SandboxConfig

# The product's demo token: always bound to the default portal, whatever the resets.
DEMO_TOKEN = "sandbox-token"  # noqa: S105 (not a secret)
INSTALLER = "admin@sandbox.example.com"
_CODE_SECONDS = 300.0
MISSING_AUTH = (
    "Authentication credentials not found. This API supports OAuth 2.0 authentication and you "
    "can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview"
)


@functools.lru_cache(maxsize=8192)
def fingerprint(token: str) -> str:
    """A short sha256 of a token: names it in logs without revealing it."""
    return hashlib.sha256(token.encode()).hexdigest()[:12]


@dataclass
class OAuthApp:
    """A public app: its client credentials and what an install grants."""

    client_id: str
    client_secret: str
    app_id: int
    portal_id: int
    scopes: tuple[str, ...] = ()
    redirect_uris: tuple[str, ...] = ()
    access_token_seconds: int = 1800
    rate_limit_max: int | None = None


@dataclass
class AuthCode:
    """An authorisation code: single use, a few minutes long."""

    client_id: str
    redirect_uri: str
    portal_id: int
    scopes: tuple[str, ...]
    expires_at: float


@dataclass
class Grant:
    """One install of an app in a portal, named by its refresh token."""

    refresh_token: str
    client_id: str
    app_id: int
    portal_id: int
    scopes: tuple[str, ...]
    user: str = INSTALLER
    user_id: int = 7_100_001
    revoked: bool = False
    access_tokens: set[str] = field(default_factory=set)


@dataclass
class AccessToken:
    """An OAuth access token: its install and when it stops working."""

    grant: Grant
    expires_at: float


@dataclass(frozen=True)
class Identity:
    """Who a HubSpot request is: the portal its token belongs to, and which app's."""

    portal_id: int
    fingerprint: str
    app_id: int | None = None

    @property
    def window(self) -> str:
        """The rate-limit window the request counts in: per portal, and per app for OAuth."""
        return str(self.portal_id) if self.app_id is None else f"{self.portal_id}/{self.app_id}"


class OAuthRefusal(Exception):
    """A refusal in HubSpot's OAuth shape: {"status": "BAD_...", "message": ...}."""

    def __init__(self, status: str, message: str, http_status: int = 400) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.http_status = http_status


class HubSpotAuth(LockedState):
    """Every HubSpot credential the sandbox knows, behind its own lock (looked up per call)."""

    def __init__(self, config: SandboxConfig) -> None:
        super().__init__(config)
        self._app_ids = itertools.count(4_000_001)

    def _clear(self) -> None:
        # Reset forgets every token, app and install, except the demo token.
        self.tokens: dict[str, int] = {DEMO_TOKEN: self._config.default_portal_id}
        self.apps: dict[str, OAuthApp] = {}
        self._codes: dict[str, AuthCode] = {}
        self.grants: dict[str, Grant] = {}
        self._access: dict[str, AccessToken] = {}

    def register(self, token: str, portal_id: int) -> None:
        """Bind a private-app token to a portal."""
        with self._lock:
            self.tokens[token] = portal_id

    def revoke_token(self, token: str) -> bool:
        """Delete a private-app token (the demo token stays); True when it existed."""
        with self._lock:
            if token == DEMO_TOKEN:
                return False
            return self.tokens.pop(token, None) is not None

    def identity(self, token: str) -> Identity:
        """The portal a bearer token belongs to; HubSpot's 401 when unknown or expired."""
        with self._lock:
            portal_id = self.tokens.get(token)
            access = None if portal_id is not None else self._access.get(token)
        if portal_id is not None:
            return Identity(portal_id, fingerprint(token))
        if access is None or access.grant.revoked:
            raise HubSpotError(401, MISSING_AUTH, "INVALID_AUTHENTICATION")
        late = time.time() - access.expires_at
        if late >= 0:
            minutes = int(late // 60)
            raise HubSpotError(
                401,
                f"The OAuth token used to make this call expired {minutes} minute(s) ago.",
                "EXPIRED_AUTHENTICATION",
            )
        return Identity(access.grant.portal_id, fingerprint(token), access.grant.app_id)

    def app_limit(self, app_id: int) -> int:
        """An app's burst limit per portal (HubSpot: 110 per 10 s for public apps)."""
        with self._lock:
            for app in self.apps.values():
                if app.app_id == app_id and app.rate_limit_max:
                    return app.rate_limit_max
        return self._config.oauth_rate_limit_max

    def create_app(
        self,
        *,
        portal_id: int | None = None,
        client_id: str | None = None,
        client_secret: str | None = None,
        scopes: tuple[str, ...] = (),
        redirect_uris: tuple[str, ...] = (),
        access_token_seconds: int | None = None,
        rate_limit_max: int | None = None,
    ) -> OAuthApp:
        """Register a public app; ids and secret are made up unless given."""
        app = OAuthApp(
            client_id=client_id or str(uuid.uuid4()),
            client_secret=client_secret or str(uuid.uuid4()),
            app_id=next(self._app_ids),
            portal_id=portal_id or self._config.default_portal_id,
            scopes=scopes,
            redirect_uris=redirect_uris,
            access_token_seconds=access_token_seconds or self._config.oauth_access_token_seconds,
            rate_limit_max=rate_limit_max,
        )
        with self._lock:
            self.apps[app.client_id] = app
        return app

    def app(self, client_id: str) -> OAuthApp | None:
        """A registered app by client id."""
        with self._lock:
            return self.apps.get(client_id)

    def authorize(self, client_id: str, redirect_uri: str, scopes: tuple[str, ...]) -> str:
        """The user consents: a code for the portal the app's install grants."""
        app = self.app(client_id)
        if app is None:
            raise OAuthRefusal("BAD_CLIENT_ID", f"Unknown client_id {client_id}")
        if not redirect_uri or (app.redirect_uris and redirect_uri not in app.redirect_uris):
            raise OAuthRefusal("BAD_REDIRECT_URI", "redirect_uri does not match the app's")
        if not scopes:
            raise OAuthRefusal("BAD_SCOPES", "scope is required")
        extra = sorted(set(scopes) - set(app.scopes)) if app.scopes else []
        if extra:
            raise OAuthRefusal("BAD_SCOPES", f"Scopes not configured for this app: {extra}")
        code = str(uuid.uuid4())
        with self._lock:
            self._codes[code] = AuthCode(
                client_id, redirect_uri, app.portal_id, scopes, time.time() + _CODE_SECONDS
            )
        return code

    def _client(self, client_id: str, client_secret: str) -> OAuthApp:
        app = self.app(client_id)
        if app is None:
            raise OAuthRefusal("BAD_CLIENT_ID", "missing or invalid client id")
        if not secrets.compare_digest(app.client_secret, client_secret):
            raise OAuthRefusal("BAD_CLIENT_SECRET", "missing or invalid client secret")
        return app

    def exchange(
        self, client_id: str, client_secret: str, code: str, redirect_uri: str
    ) -> tuple[Grant, str, int]:
        """authorization_code: a new install (refresh token) and its first access token."""
        app = self._client(client_id, client_secret)
        with self._lock:
            # Single use: popped whatever the outcome.
            issued = self._codes.pop(code, None)
        if issued is None or issued.client_id != client_id or issued.expires_at < time.time():
            raise OAuthRefusal("BAD_AUTH_CODE", "missing or unknown auth code")
        if redirect_uri != issued.redirect_uri:
            raise OAuthRefusal(
                "BAD_REDIRECT_URI", "redirect URI does not match initial auth code URL"
            )
        grant = Grant(str(uuid.uuid4()), client_id, app.app_id, issued.portal_id, issued.scopes)
        with self._lock:
            self.grants[grant.refresh_token] = grant
        token = self._issue(grant, app.access_token_seconds)
        return grant, token, app.access_token_seconds

    def refresh(self, client_id: str, client_secret: str, refresh_token: str) -> tuple[str, int]:
        """refresh_token: a new access token for a live install of this app."""
        app = self._client(client_id, client_secret)
        with self._lock:
            grant = self.grants.get(refresh_token)
        if grant is None or grant.revoked or grant.client_id != client_id:
            raise OAuthRefusal("BAD_REFRESH_TOKEN", "missing or invalid refresh token")
        return self._issue(grant, app.access_token_seconds), app.access_token_seconds

    def _issue(self, grant: Grant, seconds: int) -> str:
        token = f"CN{secrets.token_urlsafe(48)}"
        with self._lock:
            self._access[token] = AccessToken(grant, time.time() + seconds)
            grant.access_tokens.add(token)
        return token

    def access_token(self, token: str) -> AccessToken | None:
        """A live or expired (not revoked) access token."""
        with self._lock:
            found = self._access.get(token)
        return None if found is None or found.grant.revoked else found

    def revoke(self, grants: list[Grant]) -> int:
        """Revoke installs: their refresh tokens are refused and access tokens forgotten."""
        with self._lock:
            for grant in grants:
                grant.revoked = True
                for token in grant.access_tokens:
                    self._access.pop(token, None)
                grant.access_tokens.clear()
        return len(grants)

    def installs(self, client_id: str, portal_id: int | None = None) -> list[Grant]:
        """The live installs of an app, in one portal or all."""
        with self._lock:
            return [
                g
                for g in self.grants.values()
                if g.client_id == client_id
                and not g.revoked
                and (portal_id is None or g.portal_id == portal_id)
            ]

    def expire(self, grants: list[Grant]) -> int:
        """Make the installs' current access tokens expired now (their refresh still works)."""
        count = 0
        now = time.time()
        with self._lock:
            for grant in grants:
                for token in grant.access_tokens:
                    self._access[token].expires_at = min(self._access[token].expires_at, now)
                    count += 1
        return count
