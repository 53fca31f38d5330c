"""A tenant's own credentials as its runs need them; every secret a SecretStr (hidden in reprs)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, ConfigDict, SecretStr

from sales_agent_pipeline.domain.enums import HubSpotAuth, SecretKind


class TenantCredentials(BaseModel):
    """What one tenant's connectors authenticate with; None where nothing is stored."""

    model_config = ConfigDict(frozen=True)

    portal_id: int
    hubspot_auth: HubSpotAuth | None = None
    # The private app's static token, or the OAuth grant's current access token.
    hubspot_token: SecretStr | None = None
    hubspot_refresh_token: SecretStr | None = None
    webhook_secret: SecretStr | None = None
    # A service-account key (with domain-wide delegation) or an authorized-user token, as JSON.
    google_credentials: SecretStr | None = None
    # The mailbox (and calendar) the Google connectors act as.
    google_subject: str | None = None


class SecretState(BaseModel):
    """Whether one secret is set and when it last changed: all an API answer may say of it."""

    model_config = ConfigDict(frozen=True)

    kind: SecretKind
    set: bool
    updated_at: str | None = None


@dataclass(frozen=True)
class OAuthGrant:
    """What HubSpot granted for one portal: tokens (hidden in reprs), expiry, portal, scopes."""

    access_token: SecretStr
    refresh_token: SecretStr
    expires_at: datetime
    hub_id: int
    scopes: tuple[str, ...]
