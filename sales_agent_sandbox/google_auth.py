"""Google's credentials: service-account keys with the domains they may impersonate
(domain-wide delegation), authorized-user refresh tokens, and the access tokens the token
endpoint issues, each bound to one subject (the mailbox, calendar and Drive user).
"""

from __future__ import annotations

import base64
import json
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from .errors import GoogleError
from .locked import LockedState

PROJECT = "sandbox-project"
# google-auth signs the audience of Google's own token endpoint, whatever the token_uri.
GOOGLE_TOKEN_URIS = (
    "https://oauth2.googleapis.com/token",
    "https://www.googleapis.com/oauth2/v4/token",
)
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
_INVALID_CREDENTIALS = (
    "Request had invalid authentication credentials. Expected OAuth 2 access token, login "
    "cookie or other valid authentication credential. See "
    "https://developers.google.com/identity/sign-in/web/devconsole-project."
)
_UNAUTHORIZED_CLIENT = (
    "Client is unauthorized to retrieve access tokens using this method, or client not "
    "authorized for any of the scopes requested."
)
_BAD_TIMES = (
    "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. "
    "Check your iat and exp values in the JWT claim."
)
# Google tolerates a little clock skew between the signer and its token server.
_SKEW_SECONDS = 300


@dataclass
class ServiceAccount:
    """A service account's key (public half) and its domain-wide delegation."""

    client_email: str
    client_id: str
    key_id: str
    public_key: rsa.RSAPublicKey
    token_uri: str
    domains: set[str]
    scopes: frozenset[str] | None = None


@dataclass
class AuthorizedUser:
    """A user's consent to an OAuth client: the refresh token of an authorized-user file."""

    refresh_token: str
    client_id: str
    client_secret: str
    user: str
    scopes: tuple[str, ...] = ()
    revoked: bool = False


@dataclass
class GoogleToken:
    """An access token: the subject it acts as, and what it came from."""

    subject: str
    expires_at: float
    source: str


class GoogleRefusal(Exception):
    """A token-endpoint refusal: {"error": ..., "error_description": ...}."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status


def domain_of(email: str) -> str:
    """The domain part of an address, lowercased."""
    return email.rsplit("@", 1)[-1].lower()


def _b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def invalid_credentials() -> GoogleError:
    """Google's 401 for a bearer token it does not know or that expired."""
    return GoogleError(
        401,
        _INVALID_CREDENTIALS,
        "authError",
        location="Authorization",
        location_type="header",
        headers={"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/"'},
    )


def new_private_key() -> tuple[rsa.RSAPrivateKey, str]:
    """A new RSA key and its PKCS#8 PEM text, as a Google key file carries it."""
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return private, pem


class GoogleAuth(LockedState):
    """Every Google credential the sandbox issued, behind its own lock."""

    def _clear(self) -> None:
        # Reset forgets every key, user grant and access token.
        self.accounts: dict[str, ServiceAccount] = {}
        self.users: dict[str, AuthorizedUser] = {}
        self._tokens: dict[str, GoogleToken] = {}

    def create_service_account(
        self,
        token_uri: str,
        *,
        name: str | None = None,
        domains: list[str] | None = None,
        scopes: list[str] | None = None,
    ) -> dict[str, Any]:
        """A new key in Google's JSON key-file shape, its token_uri at the sandbox."""
        private, pem = new_private_key()
        email = f"{name or 'sales-agent-' + uuid.uuid4().hex[:8]}@{PROJECT}.iam.gserviceaccount.com"
        account = ServiceAccount(
            client_email=email.lower(),
            client_id=str(100_000_000_000_000_000_000 + secrets.randbelow(10**20)),
            key_id=secrets.token_hex(20),
            public_key=private.public_key(),
            token_uri=token_uri,
            domains={d.lower() for d in domains or []},
            scopes=frozenset(scopes) if scopes else None,
        )
        with self._lock:
            self.accounts[account.client_email] = account
        return {
            "type": "service_account",
            "project_id": PROJECT,
            "private_key_id": account.key_id,
            "private_key": pem,
            "client_email": account.client_email,
            "client_id": account.client_id,
            "auth_uri": token_uri.rsplit("/", 1)[0] + "/o/oauth2/auth",
            "token_uri": token_uri,
            "auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
            "client_x509_cert_url": "https://www.googleapis.com/robot/v1/metadata/x509/"
            + account.client_email.replace("@", "%40"),
            "universe_domain": "googleapis.com",
        }

    def set_delegation(
        self, client_email: str, domains: list[str], scopes: list[str] | None = None
    ) -> ServiceAccount | None:
        """Replace the domains (and scopes) a service account may impersonate users of."""
        with self._lock:
            account = self.accounts.get(client_email.lower())
            if account is not None:
                account.domains = {d.lower() for d in domains}
                account.scopes = frozenset(scopes) if scopes else None
            return account

    def delete_service_account(self, client_email: str) -> bool:
        """Delete a key: the token endpoint refuses its signatures, its tokens stop working."""
        with self._lock:
            found = self.accounts.pop(client_email.lower(), None) is not None
            self._drop(client_email.lower())
        return found

    def create_authorized_user(
        self, token_uri: str, user: str, scopes: list[str] | None = None
    ) -> dict[str, Any]:
        """An authorized-user file (google.oauth2.credentials) for one user's consent."""
        grant = AuthorizedUser(
            refresh_token=f"1//{secrets.token_urlsafe(48)}",
            client_id=f"{secrets.randbelow(10**12):012d}-sandbox.apps.googleusercontent.com",
            client_secret=f"GOCSPX-{secrets.token_urlsafe(21)}",
            user=user.lower(),
            scopes=tuple(scopes or ()),
        )
        with self._lock:
            self.users[grant.refresh_token] = grant
        return {
            "type": "authorized_user",
            "client_id": grant.client_id,
            "client_secret": grant.client_secret,
            "refresh_token": grant.refresh_token,
            "token_uri": token_uri,
            "account": "",
            "universe_domain": "googleapis.com",
        }

    def revoke_refresh_token(self, refresh_token: str) -> bool:
        """The user withdraws consent: refresh refused, issued tokens stop working."""
        with self._lock:
            grant = self.users.get(refresh_token)
            if grant is None or grant.revoked:
                return False
            grant.revoked = True
            self._drop(refresh_token)
        return True

    def _drop(self, source: str) -> None:
        for token in [t for t, found in self._tokens.items() if found.source == source]:
            del self._tokens[token]

    def _issue(self, subject: str, source: str) -> tuple[str, int]:
        seconds = self._config.google_token_seconds
        token = f"ya29.{secrets.token_urlsafe(60)}"
        with self._lock:
            self._tokens[token] = GoogleToken(subject, time.time() + seconds, source)
        return token, seconds - 1

    def jwt_grant(self, assertion: str, token_url: str) -> tuple[str, int, str]:
        """The JWT-bearer grant a service account signs: (token, expires_in, subject)."""
        try:
            head, body, signature = assertion.split(".")
            header = json.loads(_b64decode(head))
            claims = json.loads(_b64decode(body))
            signed = _b64decode(signature)
        except ValueError as exc:
            raise GoogleRefusal("invalid_grant", "Invalid JWT: malformed assertion") from exc
        with self._lock:
            account = self.accounts.get(str(claims.get("iss", "")).lower())
        kid = header.get("kid")
        if account is None or header.get("alg") != "RS256" or kid not in (None, account.key_id):
            raise GoogleRefusal("invalid_grant", "Invalid JWT Signature.")
        try:
            message = f"{head}.{body}".encode()
            account.public_key.verify(signed, message, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature as exc:
            raise GoogleRefusal("invalid_grant", "Invalid JWT Signature.") from exc
        if claims.get("aud") not in (*GOOGLE_TOKEN_URIS, account.token_uri, token_url):
            raise GoogleRefusal("invalid_grant", "Invalid JWT: Failed audience check.")
        now = time.time()
        issued, expires = float(claims.get("iat", 0)), float(claims.get("exp", 0))
        if expires <= now or issued > now + _SKEW_SECONDS or expires - issued > 3600:
            raise GoogleRefusal("invalid_grant", _BAD_TIMES)
        scopes = set(str(claims.get("scope") or "").split())
        if not scopes:
            raise GoogleRefusal(
                "invalid_scope", "Invalid OAuth scope or ID token audience provided."
            )
        subject = str(claims.get("sub") or account.client_email).lower()
        if subject != account.client_email:
            # Domain-wide delegation: granted per domain (and scopes) by the domain's admin.
            allowed = domain_of(subject) in account.domains
            if not allowed or (account.scopes is not None and not scopes <= account.scopes):
                raise GoogleRefusal("unauthorized_client", _UNAUTHORIZED_CLIENT, 401)
        token, seconds = self._issue(subject, account.client_email)
        return token, seconds, " ".join(sorted(scopes))

    def refresh_grant(
        self, client_id: str, client_secret: str, refresh_token: str, scope: str
    ) -> tuple[str, int, str]:
        """The refresh-token grant of an authorized-user file: (token, expires_in, scope)."""
        with self._lock:
            grant = self.users.get(refresh_token)
            known_client = any(g.client_id == client_id for g in self.users.values())
        if not known_client:
            raise GoogleRefusal("invalid_client", "The OAuth client was not found.", 401)
        if grant is None or grant.revoked or grant.client_id != client_id:
            raise GoogleRefusal("invalid_grant", "Token has been expired or revoked.")
        if not secrets.compare_digest(grant.client_secret, client_secret):
            raise GoogleRefusal("invalid_client", "Unauthorized", 401)
        wanted = scope.split()
        if grant.scopes and not set(wanted) <= set(grant.scopes):
            raise GoogleRefusal("invalid_scope", "Bad Request")
        token, seconds = self._issue(grant.user, refresh_token)
        return token, seconds, " ".join(wanted or grant.scopes)

    def subject(self, token: str) -> str:
        """The subject an access token acts as; Google's 401 when unknown or expired."""
        with self._lock:
            found = self._tokens.get(token)
        if found is None or found.expires_at <= time.time():
            raise invalid_credentials()
        return found.subject

    def expire(self, subject: str | None = None) -> int:
        """Make access tokens (of one subject, or all) expire now; refreshing still works."""
        now = time.time()
        with self._lock:
            chosen = [
                t for t in self._tokens.values() if subject is None or t.subject == subject.lower()
            ]
            for token in chosen:
                token.expires_at = min(token.expires_at, now)
        return len(chosen)
