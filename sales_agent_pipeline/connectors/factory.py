"""Build the four connectors from Settings, the same way for Dagster, the API and the bench."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sales_agent_pipeline.connectors.calendar import GoogleCalendar
from sales_agent_pipeline.connectors.drive import GoogleDrive
from sales_agent_pipeline.connectors.gmail import GmailMail
from sales_agent_pipeline.connectors.google_auth import (
    CALENDAR_SCOPES,
    DRIVE_SCOPES,
    GMAIL_SCOPES,
    GoogleApi,
    load_credentials,
)
from sales_agent_pipeline.connectors.hubspot import HubSpotCRM
from sales_agent_pipeline.connectors.hubspot_client import HubSpotTransport
from sales_agent_pipeline.connectors.protocols import CRM, Calendar, Drive, Mail
from sales_agent_pipeline.connectors.ratelimit import (
    HubSpotLimits,
    UnitQuota,
    fingerprint,
    gmail_quota,
    hubspot_limits,
)
from sales_agent_pipeline.domain.errors import ConfigurationError
from sales_agent_pipeline.settings import HUBSPOT_API_BASE_URL, Settings

# The sandbox accepts any bearer token; this one maps to its default portal.
SANDBOX_HUBSPOT_TOKEN = "sandbox-token"  # noqa: S105 (not a secret)


@dataclass(frozen=True)
class Connectors:
    """The four connectors one process uses."""

    crm: CRM
    mail: Mail
    calendar: Calendar
    drive: Drive


def hubspot_base_url(settings: Settings) -> str:
    """The sandbox when nothing real is configured, else HUBSPOT_API_BASE_URL."""
    if settings.sandbox_mode and settings.hubspot_api_base_url == HUBSPOT_API_BASE_URL:
        return settings.sandbox_url
    return settings.hubspot_api_base_url


def google_base_url(settings: Settings) -> str | None:
    """GOOGLE_API_BASE_URL, the sandbox when nothing real is configured, else Google's own."""
    if settings.google_api_base_url:
        return settings.google_api_base_url
    return settings.sandbox_url if settings.sandbox_mode else None


def _hubspot_token(settings: Settings, base: str) -> str:
    secret = settings.hubspot_access_token
    token = secret.get_secret_value() if secret is not None else ""
    if not token:
        if base.rstrip("/") == HUBSPOT_API_BASE_URL:
            raise ConfigurationError("HUBSPOT_ACCESS_TOKEN is not set")
        token = SANDBOX_HUBSPOT_TOKEN
    return token


def hubspot_quota_key(settings: Settings) -> str:
    """The name of the portal's request quota, the same for every process using its token."""
    base = hubspot_base_url(settings)
    return f"hubspot:{base}:{fingerprint(_hubspot_token(settings, base))}"


def build_crm(
    settings: Settings,
    *,
    throttle_attempts: int = 3,
    quotas: tuple[UnitQuota, UnitQuota] | None = None,
) -> HubSpotCRM:
    """The HubSpot adapter; `quotas` (requests per 10 s, searches per second) shared with
    other processes, else the process-wide windows of its portal."""
    base = hubspot_base_url(settings)
    token = _hubspot_token(settings, base)
    if quotas is None:
        limits = hubspot_limits(
            base, token, settings.hubspot_requests_per_10s, settings.hubspot_searches_per_second
        )
    else:
        limits = HubSpotLimits(
            settings.hubspot_requests_per_10s, settings.hubspot_searches_per_second, quotas
        )
    transport = HubSpotTransport(
        access_token=token,
        base_url=base,
        limits=limits,
        timeout_seconds=settings.hubspot_timeout_seconds,
        throttle_attempts=throttle_attempts,
    )
    return HubSpotCRM(transport, cache_ttl_seconds=settings.connector_cache_ttl_seconds)


def gmail_quota_key(settings: Settings) -> str:
    """The name of the Gmail user's quota, the same for every process that sends as them."""
    base = google_base_url(settings)
    user = settings.google_delegated_user or "me"
    return f"gmail:{base or 'google'}:{user.lower()}"


def _google_api(
    settings: Settings,
    name: str,
    version: str,
    scopes: Sequence[str],
    throttle_attempts: int,
    quota: UnitQuota | None = None,
) -> GoogleApi:
    base = google_base_url(settings)
    credentials = load_credentials(
        scopes,
        service_account_file=settings.google_service_account_file,
        delegated_user=settings.google_delegated_user,
        oauth_token_file=settings.google_oauth_token_file,
        base_url=base,
    )
    if name == "gmail" and quota is None:
        user = settings.google_delegated_user or "me"
        quota = gmail_quota(base or "google", user, settings.gmail_quota_units_per_second)
    return GoogleApi(
        name,
        version,
        credentials,
        base_url=base,
        timeout_seconds=settings.google_timeout_seconds,
        quota=quota,
        throttle_attempts=throttle_attempts,
    )


def build_mail(
    settings: Settings, *, throttle_attempts: int = 3, quota: UnitQuota | None = None
) -> GmailMail:
    """The Gmail adapter; without `quota`, the process-wide in-memory quota of its user."""
    api = _google_api(settings, "gmail", "v1", GMAIL_SCOPES, throttle_attempts, quota)
    return GmailMail(api)


def build_calendar(settings: Settings, *, throttle_attempts: int = 3) -> GoogleCalendar:
    """The Calendar adapter."""
    api = _google_api(settings, "calendar", "v3", CALENDAR_SCOPES, throttle_attempts)
    return GoogleCalendar(api)


def build_drive(settings: Settings, *, throttle_attempts: int = 3) -> GoogleDrive:
    """The Drive adapter."""
    api = _google_api(settings, "drive", "v3", DRIVE_SCOPES, throttle_attempts)
    return GoogleDrive(api, cache_ttl_seconds=settings.connector_cache_ttl_seconds)


def build_connectors(settings: Settings, *, throttle_attempts: int = 3) -> Connectors:
    """All four connectors, against the real services or the sandbox."""
    return Connectors(
        crm=build_crm(settings, throttle_attempts=throttle_attempts),
        mail=build_mail(settings, throttle_attempts=throttle_attempts),
        calendar=build_calendar(settings, throttle_attempts=throttle_attempts),
        drive=build_drive(settings, throttle_attempts=throttle_attempts),
    )
