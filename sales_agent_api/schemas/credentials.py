"""A tenant's credentials as the API shows them (which are set, never a value), what PUT
accepts (write-only), and the answer of a HubSpot OAuth install."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from sales_agent_pipeline.domain.enums import HubSpotAuth, SecretKind

# A request's bound; the use case checks each secret's own (a key file's 16 KiB at most).
# Every secret together fits the 64 KiB body limit (API_MAX_BODY_BYTES).
MAX_SECRET_CHARS = 16 * 1024
Secret = Annotated[SecretStr, Field(min_length=1, max_length=MAX_SECRET_CHARS)]
# A token travels in an HTTP header and a secret keys an HMAC: printable ASCII, no spaces,
# as HubSpot issues both.
_TOKEN_TEXT = re.compile(r"[\x21-\x7e]+")


class SecretStateView(BaseModel):
    """Whether one secret is set and when it last changed: all the API says of a secret."""

    kind: SecretKind
    set: bool
    updated_at: datetime | None


class Reauthorisation(BaseModel):
    """Whether HubSpot refused the tenant's OAuth grant, and what fixes it."""

    needed: bool
    error: str | None = Field(description="HubSpot's refusal, as the runs met it")
    since: datetime | None
    message: str | None = Field(description="what to do; null when nothing is needed")
    install_url: str | None = Field(description="the OAuth install that re-authorises")


class CredentialsView(BaseModel):
    """The tenant's secrets by kind (set or not, when changed), its HubSpot auth kind, and
    whether it needs re-authorisation; after a PUT, what changed and any notes."""

    portal_id: int
    hubspot_auth: HubSpotAuth | None = Field(
        description="private_app (a static token) or oauth (an installed public app)"
    )
    secrets: list[SecretStateView]
    reauthorisation: Reauthorisation
    changed: list[str] = Field(default_factory=list, description="what this PUT replaced")
    notes: list[str] = Field(
        default_factory=list, description="checks that could not run (vendor unreachable)"
    )


class CredentialsUpdate(BaseModel):
    """Secrets to replace; those left out stay. Values are write-only: never answered."""

    model_config = ConfigDict(extra="forbid")

    hubspot_token: Secret | None = Field(
        default=None, description="a HubSpot private app's access token (checked with HubSpot)"
    )
    webhook_secret: Secret | None = Field(
        default=None, description="the secret HubSpot signs this portal's webhooks with"
    )
    google_credentials: Secret | dict[str, Any] | None = Field(
        default=None,
        description="a Google service-account key (domain-wide delegation) or an "
        "authorized-user token: the JSON object, or its text",
    )

    @field_validator("hubspot_token", "webhook_secret")
    @classmethod
    def _token_text(cls, value: SecretStr | None) -> SecretStr | None:
        # Never the value in the message: it is a secret, however malformed.
        if value is not None and not _TOKEN_TEXT.fullmatch(value.get_secret_value()):
            raise ValueError("must be printable ASCII without spaces, as HubSpot issues it")
        return value

    def google_text(self) -> SecretStr | None:
        """The Google credentials as JSON text (an object given is serialised)."""
        value = self.google_credentials
        if value is None or isinstance(value, SecretStr):
            return value
        return SecretStr(json.dumps(value))


class InstallResult(BaseModel):
    """A portal installed the app: its tenant, created or updated; never a token."""

    portal_id: int
    tenant_name: str
    created: bool
    hubspot_auth: HubSpotAuth
    scopes: list[str]
    access_token_expires_at: datetime
    disabled: bool = Field(description="a disabled tenant stays disabled until enabled")
    next_step: str
