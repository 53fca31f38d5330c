"""A tenant's HubSpot OAuth grant in the database: stored at install, its access token handed
to every process, refreshed once for all of them, and a revoked grant marked on the tenant.

The access token (about 30 minutes of life) is refreshed REFRESH_MARGIN before it expires,
by whichever process first needs it then: that one holds the row lock of the tenant's
refresh token while it asks HubSpot, so another process wanting the same refresh waits,
then finds the new token stored and uses it instead of refreshing again. A 401 from HubSpot
with a token we thought good forces one refresh, unless another thread or process already
replaced that token. When HubSpot refuses the refresh token itself (the portal uninstalled
the app), the tenant gets `auth_error`: its leads wait until the OAuth callback stores a new
grant and clears it (`store_grant`).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

import structlog
from pydantic import SecretStr
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from sales_agent_pipeline.db.base import utcnow
from sales_agent_pipeline.db.models import Tenant, TenantSecret
from sales_agent_pipeline.db.repositories.tenant_secrets import put_secret
from sales_agent_pipeline.domain.credentials import OAuthGrant
from sales_agent_pipeline.domain.enums import HubSpotAuth, SecretKind
from sales_agent_pipeline.domain.errors import ConfigurationError, GrantRevoked
from sales_agent_pipeline.secretbox import SecretBox

log = structlog.get_logger(__name__)

# HubSpot's access tokens live 30 minutes; a call started just before expiry must not be
# refused mid-run. A token living shorter is refreshed at half its life at the latest.
REFRESH_MARGIN = timedelta(minutes=5)


def reauthorisation_message(portal_id: int, detail: str) -> str:
    """What an operator reads on the tenant, the workflows and the runs."""
    return (
        f"portal {portal_id} needs HubSpot re-authorisation ({detail}); its leads wait and "
        "run once the app is installed again"
    )


def store_grant(session: Session, box: SecretBox, tenant: Tenant, grant: OAuthGrant) -> None:
    """Keep a new grant for the tenant (the OAuth callback's): both tokens encrypted, the
    tenant switched to OAuth, and any re-authorisation error cleared, so its leads run."""
    if grant.hub_id != tenant.portal_id:
        raise ConfigurationError(
            f"the grant is for portal {grant.hub_id}, not this tenant's portal {tenant.portal_id}"
        )
    put_secret(
        session,
        box,
        tenant.id,
        SecretKind.HUBSPOT_REFRESH_TOKEN,
        grant.refresh_token.get_secret_value(),
    )
    put_secret(
        session,
        box,
        tenant.id,
        SecretKind.HUBSPOT_ACCESS_TOKEN,
        grant.access_token.get_secret_value(),
        expires_at=grant.expires_at,
    )
    session.execute(
        update(Tenant)
        .where(Tenant.id == tenant.id)
        .values(hubspot_auth=HubSpotAuth.OAUTH.value, auth_error=None, auth_error_at=None)
    )


def mark_revoked(session: Session, tenant_id: uuid.UUID, reason: str) -> None:
    """Note on the tenant that HubSpot refused its grant: sensors skip it, leads wait."""
    session.execute(
        update(Tenant)
        .where(Tenant.id == tenant_id)
        .values(auth_error=reason[:2000], auth_error_at=utcnow())
    )


class Stored(NamedTuple):
    """A stored token, when it expires, and when it was stored."""

    token: str
    expires_at: datetime | None
    stored_at: datetime | None


def _stored(
    session: Session, box: SecretBox, tenant_id: uuid.UUID, kind: SecretKind, *, lock: bool
) -> Stored | None:
    query = select(TenantSecret.ciphertext, TenantSecret.expires_at, TenantSecret.updated_at).where(
        TenantSecret.tenant_id == tenant_id, TenantSecret.kind == kind.value
    )
    row = session.execute(query.with_for_update() if lock else query).first()
    if row is None:
        return None
    return Stored(box.decrypt(row[0]), row[1], row[2])


class GrantTokens:
    """One tenant's OAuth access token for a process's HubSpot calls (a TokenSource).

    The token and its expiry are kept in memory, so a call costs no database round trip;
    the database is read when the token nears expiry or HubSpot refused it. `refresh_grant`
    asks HubSpot for a new grant (`connectors.hubspot_oauth.refresh_grant` bound to the
    settings): passed in, since the database layer imports no connector.
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        box: SecretBox,
        refresh_grant: Callable[[str], OAuthGrant],
        *,
        tenant_id: uuid.UUID,
        portal_id: int,
        margin: timedelta = REFRESH_MARGIN,
    ) -> None:
        self._sessions = sessions
        self._box = box
        self._refresh_grant = refresh_grant
        self.tenant_id = tenant_id
        self.portal_id = portal_id
        self._margin = margin
        self._token: SecretStr | None = None
        # When the token in memory is to be refreshed (None: unknown, read the store).
        self._refresh_at: datetime | None = None
        self._lock = threading.Lock()
        # Once HubSpot refused the grant, every call of this process fails alike at once,
        # rather than each lead asking HubSpot to refresh it again.
        self._revoked: GrantRevoked | None = None
        # How many refreshes this process made (the tests and the bench read it).
        self.refreshes = 0

    def __repr__(self) -> str:
        return f"GrantTokens(portal_id={self.portal_id}, <token hidden>)"

    def _due(self, expires_at: datetime | None, stored_at: datetime | None) -> datetime | None:
        """When a token expiring at `expires_at` is refreshed: REFRESH_MARGIN before, or at
        half its life when it lives shorter (every call would refresh otherwise)."""
        if expires_at is None:
            return None
        margin = self._margin
        if stored_at is not None and expires_at > stored_at:
            margin = min(margin, (expires_at - stored_at) / 2)
        return expires_at - margin

    def _fresh(self, stored: Stored) -> bool:
        due = self._due(stored.expires_at, stored.stored_at)
        return due is not None and datetime.now(UTC) < due

    def _current(self) -> str | None:
        due = self._refresh_at
        if self._token is not None and due is not None and datetime.now(UTC) < due:
            return self._token.get_secret_value()
        return None

    def token(self) -> str:
        """The access token to send: the one in memory while it is fresh, else the stored
        one, else a refreshed one."""
        current = self._current()
        if current is not None:
            return current
        with self._lock:
            if self._revoked is not None:
                raise GrantRevoked(self._revoked.message, http_status=self._revoked.http_status)
            current = self._current()
            if current is not None:
                return current
            # A plain read first: another process has usually refreshed already.
            with self._sessions() as session:
                stored = _stored(
                    session,
                    self._box,
                    self.tenant_id,
                    SecretKind.HUBSPOT_ACCESS_TOKEN,
                    lock=False,
                )
            if stored is not None and self._fresh(stored):
                self._adopt(stored)
                return stored.token
            return self._renew(stale=stored.token if stored else None)

    def refresh(self, stale: str) -> str | None:
        """HubSpot answered 401 to `stale`: a newer token, refreshing it unless another
        thread or process already did."""
        with self._lock:
            if self._revoked is not None:
                raise GrantRevoked(self._revoked.message, http_status=self._revoked.http_status)
            if self._token is not None and self._token.get_secret_value() != stale:
                return self._token.get_secret_value()
            return self._renew(stale=stale, refused=True)

    def _adopt(self, stored: Stored) -> None:
        self._token = SecretStr(stored.token)
        self._refresh_at = self._due(stored.expires_at, stored.stored_at)

    def _renew(self, *, stale: str | None, refused: bool = False) -> str:
        """Under the tenant's row lock: the stored token when another process renewed it
        meanwhile, else HubSpot's refreshed one, stored for everyone. Holds self._lock."""
        revoked: GrantRevoked | None = None
        with self._sessions.begin() as session:
            refresh = _stored(
                session, self._box, self.tenant_id, SecretKind.HUBSPOT_REFRESH_TOKEN, lock=True
            )
            stored = _stored(
                session, self._box, self.tenant_id, SecretKind.HUBSPOT_ACCESS_TOKEN, lock=False
            )
            if (
                stored is not None
                and self._fresh(stored)
                and (stored.token != stale or not refused)
            ):
                # Another thread or process refreshed it meanwhile: everyone uses that one.
                self._adopt(stored)
                return stored.token
            try:
                if refresh is None:
                    raise GrantRevoked("no refresh token is stored")
                grant = self._refresh_grant(refresh.token)
            except GrantRevoked as exc:
                revoked = exc
                reason = reauthorisation_message(self.portal_id, exc.message)
                mark_revoked(session, self.tenant_id, reason)
            else:
                if grant.hub_id != self.portal_id:
                    raise ConfigurationError(
                        f"portal {self.portal_id}: HubSpot refreshed a grant of portal "
                        f"{grant.hub_id}; install the app again for this portal"
                    )
                self._keep(session, grant, refresh.token if refresh else None)
        if revoked is not None:
            log.error("hubspot.grant_revoked", portal_id=self.portal_id, error=revoked.message)
            self._revoked = GrantRevoked(
                reauthorisation_message(self.portal_id, revoked.message),
                http_status=revoked.http_status,
            )
            raise GrantRevoked(self._revoked.message, http_status=revoked.http_status)
        assert self._token is not None
        return self._token.get_secret_value()

    def _keep(self, session: Session, grant: OAuthGrant, refresh: str | None) -> None:
        access = grant.access_token.get_secret_value()
        put_secret(
            session,
            self._box,
            self.tenant_id,
            SecretKind.HUBSPOT_ACCESS_TOKEN,
            access,
            expires_at=grant.expires_at,
        )
        if grant.refresh_token.get_secret_value() != refresh:
            put_secret(
                session,
                self._box,
                self.tenant_id,
                SecretKind.HUBSPOT_REFRESH_TOKEN,
                grant.refresh_token.get_secret_value(),
            )
        self._adopt(Stored(access, grant.expires_at, datetime.now(UTC)))
        self.refreshes += 1
        log.info("hubspot.token_refreshed", portal_id=self.portal_id)
