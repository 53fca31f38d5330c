"""Build the four connectors, the same way for Dagster, the API and the bench.

Without credentials a connector uses the environment's (HUBSPOT_ACCESS_TOKEN, the Google
files) or the sandbox, as a single-tenant process always did. With a tenant's
TenantCredentials every call carries that tenant's HubSpot token and Google identity, and
nothing falls back to another tenant's or the environment's: what is missing fails closed
with a ConfigurationError naming the portal (the sandbox's token stands in only in sandbox
mode, and anonymous Google calls only against an emulator).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import google_auth_httplib2
import httplib2
from google.auth.credentials import AnonymousCredentials, Credentials
from google.oauth2 import service_account

from sales_agent_pipeline.connectors.anthropic_writer import ANTHROPIC_BASE_URL, AnthropicWriter
from sales_agent_pipeline.connectors.calendar import GoogleCalendar
from sales_agent_pipeline.connectors.drive import GoogleDrive
from sales_agent_pipeline.connectors.errors import vendor_call
from sales_agent_pipeline.connectors.gmail import GmailMail
from sales_agent_pipeline.connectors.google_auth import (
    CALENDAR_SCOPES,
    DRIVE_SCOPES,
    GMAIL_SCOPES,
    GoogleApi,
    credentials_from_info,
    load_credentials,
)
from sales_agent_pipeline.connectors.hubspot import HubSpotCRM
from sales_agent_pipeline.connectors.hubspot_client import HubSpotTransport, TokenSource
from sales_agent_pipeline.connectors.llm_call import Quota, minute_window
from sales_agent_pipeline.connectors.metering import UsageMeter
from sales_agent_pipeline.connectors.openai_writer import OPENAI_BASE_URL, OpenAIWriter
from sales_agent_pipeline.connectors.ratelimit import (
    HubSpotLimits,
    UnitQuota,
    fingerprint,
    gmail_quota,
    hubspot_limits,
)
from sales_agent_pipeline.domain.credentials import TenantCredentials
from sales_agent_pipeline.domain.drafting import WriterKind
from sales_agent_pipeline.domain.enums import HubSpotAuth
from sales_agent_pipeline.domain.errors import ConfigurationError
from sales_agent_pipeline.settings import HUBSPOT_API_BASE_URL, Settings, google_base_url

# The sandbox accepts this token for its default portal.
SANDBOX_HUBSPOT_TOKEN = "sandbox-token"  # noqa: S105 (not a secret)
# What the model writers send the sandbox's model API when no key is set (sandbox mode).
SANDBOX_LLM_KEY = "sandbox-llm-key"


@dataclass(frozen=True)
class Connectors:
    """The four connectors of one tenant (or of a single-tenant process); each adapter
    satisfies its port (`ports.vendors`) structurally, so nothing here imports the ports."""

    crm: HubSpotCRM
    mail: GmailMail
    calendar: GoogleCalendar
    drive: GoogleDrive


def hubspot_base_url(settings: Settings) -> str:
    """The sandbox when nothing real is configured, else HUBSPOT_API_BASE_URL."""
    if settings.sandbox_mode and settings.hubspot_api_base_url == HUBSPOT_API_BASE_URL:
        return settings.sandbox_url
    return settings.hubspot_api_base_url


def _portal(credentials: TenantCredentials) -> str:
    return f"portal {credentials.portal_id}"


def hubspot_token(settings: Settings, credentials: TenantCredentials | None = None) -> str:
    """The bearer token of the HubSpot calls (a private app's, or OAuth's current one)."""
    if credentials is not None:
        if credentials.hubspot_token is not None and credentials.hubspot_token.get_secret_value():
            return credentials.hubspot_token.get_secret_value()
        if settings.sandbox_mode:
            return SANDBOX_HUBSPOT_TOKEN
        portal = credentials.portal_id
        raise ConfigurationError(
            f"{_portal(credentials)} has no HubSpot token stored: set one with "
            f"`sales-agent tenant update {portal} --hubspot-token-file FILE`, or install "
            "the OAuth app for this portal"
        )
    secret = settings.hubspot_access_token
    token = secret.get_secret_value() if secret is not None else ""
    if not token:
        if hubspot_base_url(settings).rstrip("/") == HUBSPOT_API_BASE_URL:
            raise ConfigurationError("HUBSPOT_ACCESS_TOKEN is not set")
        token = SANDBOX_HUBSPOT_TOKEN
    return token


def hubspot_requests_per_10s(
    settings: Settings, credentials: TenantCredentials | None = None
) -> int:
    """HubSpot's per-portal burst budget for the app kind: a public (OAuth) app's 110, a
    private app's 190 (developers.hubspot.com/docs/guides/apps/api-usage/usage-details)."""
    if credentials is not None and credentials.hubspot_auth is HubSpotAuth.OAUTH:
        return settings.hubspot_oauth_requests_per_10s
    return settings.hubspot_requests_per_10s


def hubspot_quota_key(settings: Settings, credentials: TenantCredentials | None = None) -> str:
    """The name of a portal's request window, the same in every process calling it.

    Keyed by portal, never by a token: a token refresh or two tenants' shared sandbox token
    must not split (or merge) portals' windows. Without a portal (a single-tenant process on
    the environment's token) the token's fingerprint stands for its portal.
    """
    base = hubspot_base_url(settings)
    portal = credentials.portal_id if credentials is not None else settings.hubspot_portal_id
    if portal is not None:
        return f"hubspot:{base}:portal:{portal}"
    return f"hubspot:{base}:{fingerprint(hubspot_token(settings))}"


def build_crm(
    settings: Settings,
    credentials: TenantCredentials | None = None,
    *,
    throttle_attempts: int = 3,
    quotas: tuple[UnitQuota, UnitQuota] | None = None,
    token_source: TokenSource | None = None,
    meter: UsageMeter | None = None,
) -> HubSpotCRM:
    """The HubSpot adapter of one tenant (or of the environment's token).

    `quotas` (requests per 10 s, searches per second) are shared with other processes, else
    the process-wide windows of the portal. `token_source` hands out an OAuth grant's
    current access token (refreshed before expiry and after a 401); without it the stored
    token is used as it is.
    """
    base = hubspot_base_url(settings)
    budget = hubspot_requests_per_10s(settings, credentials)
    searches = settings.hubspot_searches_per_second
    tokens: str | TokenSource = token_source or hubspot_token(settings, credentials)
    if quotas is None:
        limits = hubspot_limits(hubspot_quota_key(settings, credentials), budget, searches)
    else:
        limits = HubSpotLimits(budget, searches, quotas)
    transport = HubSpotTransport(
        access_token=tokens,
        base_url=base,
        limits=limits,
        timeout_seconds=settings.hubspot_timeout_seconds,
        throttle_attempts=throttle_attempts,
        meter=meter,
    )
    return HubSpotCRM(transport, cache_ttl_seconds=settings.connector_cache_ttl_seconds)


def gmail_user(settings: Settings, credentials: TenantCredentials | None = None) -> str:
    """The mailbox the Gmail calls act for (its quota's owner)."""
    if credentials is not None:
        return (credentials.google_subject or f"portal-{credentials.portal_id}").lower()
    return (settings.google_delegated_user or "me").lower()


def gmail_quota_key(settings: Settings, credentials: TenantCredentials | None = None) -> str:
    """The name of a mailbox's Gmail quota, the same in every process acting for it."""
    base = google_base_url(settings)
    return f"gmail:{base or 'google'}:{gmail_user(settings, credentials)}"


def google_credentials(
    settings: Settings, credentials: TenantCredentials | None, scopes: Sequence[str]
) -> Credentials:
    """The Google identity of the calls: the tenant's stored key or token acting for its
    mailbox, else (no tenant) the environment's files; anonymous only for an emulator."""
    base = google_base_url(settings)
    if credentials is None:
        return load_credentials(
            scopes,
            service_account_file=settings.google_service_account_file,
            delegated_user=settings.google_delegated_user,
            oauth_token_file=settings.google_oauth_token_file,
            base_url=base,
        )
    stored = credentials.google_credentials
    if stored is not None and stored.get_secret_value():
        return credentials_from_info(
            stored.get_secret_value(),
            scopes,
            subject=credentials.google_subject,
            owner=_portal(credentials),
            emulator_url=base,
        )
    if base:
        # Only an emulator (the sandbox) takes requests without credentials.
        return AnonymousCredentials()
    portal = credentials.portal_id
    raise ConfigurationError(
        f"{_portal(credentials)} has no Google credentials stored: set them with "
        f"`sales-agent tenant update {portal} --google-credentials-file FILE`"
    )


def _google_api(
    settings: Settings,
    credentials: TenantCredentials | None,
    name: str,
    version: str,
    scopes: Sequence[str],
    throttle_attempts: int,
    quota: UnitQuota | None = None,
    meter: UsageMeter | None = None,
) -> GoogleApi:
    base = google_base_url(settings)
    identity = google_credentials(settings, credentials, scopes)
    if name == "gmail" and quota is None:
        quota = gmail_quota(
            base or "google",
            gmail_user(settings, credentials),
            settings.gmail_quota_units_per_second,
        )
    return GoogleApi(
        name,
        version,
        identity,
        base_url=base,
        timeout_seconds=settings.google_timeout_seconds,
        quota=quota,
        throttle_attempts=throttle_attempts,
        meter=meter,
    )


def build_mail(
    settings: Settings,
    credentials: TenantCredentials | None = None,
    *,
    throttle_attempts: int = 3,
    quota: UnitQuota | None = None,
    meter: UsageMeter | None = None,
) -> GmailMail:
    """The Gmail adapter; without `quota`, the process-wide in-memory quota of its mailbox."""
    api = _google_api(
        settings, credentials, "gmail", "v1", GMAIL_SCOPES, throttle_attempts, quota, meter
    )
    return GmailMail(api)


def mailbox_credentials(credentials: TenantCredentials, mailbox: str | None) -> TenantCredentials:
    """The tenant's credentials acting for `mailbox` (an owner's, by domain-wide delegation);
    None or the tenant's own sender: its credentials as they are."""
    if not mailbox:
        return credentials
    wanted = mailbox.strip().lower()
    if wanted == (credentials.google_subject or "").strip().lower():
        return credentials
    return credentials.model_copy(update={"google_subject": wanted})


# Whether a tenant's Google identity may act for a mailbox, by (Google base URL, the
# credentials' fingerprint, mailbox): (answer, until when, monotonic). Process-wide: every
# run of the process asks the token endpoint once per owner per CONNECTOR_CACHE_TTL_SECONDS.
_DELEGATIONS: dict[tuple[str, str, str], tuple[bool, float]] = {}
_DELEGATIONS_LOCK = threading.Lock()


def forget_delegations() -> None:
    """Forget every remembered delegation answer (a changed key, tests)."""
    with _DELEGATIONS_LOCK:
        _DELEGATIONS.clear()


def can_act_for(settings: Settings, credentials: TenantCredentials, mailbox: str) -> bool:
    """Whether the tenant's Google identity can obtain a token acting for `mailbox`.

    Only a service-account key with domain-wide delegation can act for another user; an
    authorized-user token acts for its own user, and a tenant without stored credentials
    (anonymous, the emulator only) for the emulator's default user: both answer False for
    any mailbox but the tenant's own. A refusal by the token endpoint (no delegation for
    the owner's domain, a suspended user) is False, remembered, like a grant, for
    CONNECTOR_CACHE_TTL_SECONDS; a failure to reach it raises TransientError.
    """
    wanted = mailbox.strip().lower()
    if wanted == (credentials.google_subject or "").strip().lower():
        return True
    stored = credentials.google_credentials
    text = stored.get_secret_value() if stored is not None else ""
    if not text:
        return False
    base = google_base_url(settings)
    key = (base or "google", fingerprint(text), wanted)
    now = time.monotonic()
    with _DELEGATIONS_LOCK:
        remembered = _DELEGATIONS.get(key)
    if remembered is not None and remembered[1] > now:
        return remembered[0]
    allowed = _token_for(settings, credentials, text, wanted)
    with _DELEGATIONS_LOCK:
        _DELEGATIONS[key] = (allowed, now + settings.connector_cache_ttl_seconds)
    return allowed


def _token_for(settings: Settings, credentials: TenantCredentials, text: str, mailbox: str) -> bool:
    """Ask the token endpoint for a token acting for `mailbox`: granted or refused."""
    try:
        identity = credentials_from_info(
            text,
            GMAIL_SCOPES,
            subject=mailbox,
            owner=_portal(credentials),
            emulator_url=google_base_url(settings),
        )
    except ConfigurationError:
        return False
    if not isinstance(identity, service_account.Credentials):
        return False
    request = google_auth_httplib2.Request(httplib2.Http(timeout=settings.google_timeout_seconds))
    try:
        with vendor_call("Google token for a delegated mailbox"):
            identity.refresh(request)
    except ConfigurationError:
        # The token endpoint refused (unauthorized_client: no delegation for that domain).
        return False
    return True


def build_calendar(
    settings: Settings,
    credentials: TenantCredentials | None = None,
    *,
    throttle_attempts: int = 3,
    meter: UsageMeter | None = None,
) -> GoogleCalendar:
    """The Calendar adapter."""
    api = _google_api(
        settings, credentials, "calendar", "v3", CALENDAR_SCOPES, throttle_attempts, meter=meter
    )
    return GoogleCalendar(api)


def build_drive(
    settings: Settings,
    credentials: TenantCredentials | None = None,
    *,
    throttle_attempts: int = 3,
    meter: UsageMeter | None = None,
) -> GoogleDrive:
    """The Drive adapter."""
    api = _google_api(
        settings, credentials, "drive", "v3", DRIVE_SCOPES, throttle_attempts, meter=meter
    )
    return GoogleDrive(api, cache_ttl_seconds=settings.connector_cache_ttl_seconds)


def build_connectors(
    settings: Settings,
    credentials: TenantCredentials | None = None,
    *,
    throttle_attempts: int = 3,
    meter: UsageMeter | None = None,
) -> Connectors:
    """All four connectors of a tenant (or of the environment), real or the sandbox."""
    return Connectors(
        crm=build_crm(settings, credentials, throttle_attempts=throttle_attempts, meter=meter),
        mail=build_mail(settings, credentials, throttle_attempts=throttle_attempts, meter=meter),
        calendar=build_calendar(
            settings, credentials, throttle_attempts=throttle_attempts, meter=meter
        ),
        drive=build_drive(settings, credentials, throttle_attempts=throttle_attempts, meter=meter),
    )


def _llm_key_variable(kind: WriterKind) -> str:
    return "OPENAI_API_KEY" if kind is WriterKind.OPENAI else "ANTHROPIC_API_KEY"


def llm_base_url(settings: Settings, kind: WriterKind) -> str:
    """OPENAI_BASE_URL / ANTHROPIC_BASE_URL, else the sandbox's model API in sandbox mode
    (its /v1 for OpenAI's SDK; the bare URL for Anthropic's, which adds /v1/messages),
    else the vendor's own."""
    if kind is WriterKind.OPENAI:
        configured, vendor, sandbox = settings.openai_base_url, OPENAI_BASE_URL, "/v1"
    elif kind is WriterKind.ANTHROPIC:
        configured, vendor, sandbox = settings.anthropic_base_url, ANTHROPIC_BASE_URL, ""
    else:
        raise ValueError(f"no model API for the {kind.value} writer")
    if configured:
        return configured.rstrip("/")
    if settings.sandbox_mode:
        return settings.sandbox_url + sandbox
    return vendor


def llm_api_key(settings: Settings, kind: WriterKind) -> str:
    """The model API's key; a placeholder for the sandbox; else ConfigurationError."""
    secret = settings.openai_api_key if kind is WriterKind.OPENAI else settings.anthropic_api_key
    key = secret.get_secret_value() if secret is not None else ""
    if key:
        return key
    if settings.sandbox_mode:
        return SANDBOX_LLM_KEY
    raise ConfigurationError(
        f"{_llm_key_variable(kind)} is not set (needed by DRAFT_WRITER={kind.value})"
    )


def llm_quota_key(settings: Settings, kind: WriterKind) -> str:
    """The name of a provider key's request window, the same in every process: the base
    URL and the key's fingerprint (never the key)."""
    base = llm_base_url(settings, kind)
    return f"llm:{kind.value}:{base}:{fingerprint(llm_api_key(settings, kind))}"


def build_writer(
    settings: Settings,
    kind: WriterKind,
    *,
    quota: Quota | None = None,
    meter: UsageMeter | None = None,
) -> OpenAIWriter | AnthropicWriter:
    """The model writer of `kind` (openai or anthropic; the template writer is built in
    steps). `quota` (LLM_REQUESTS_PER_MINUTE, shared through PostgreSQL by the caller) is
    taken before each request; without it, a window of this process. `meter` (the tenant's)
    counts each request by its answer."""
    base = llm_base_url(settings, kind)
    key = llm_api_key(settings, kind)
    if quota is None:
        quota = minute_window(llm_quota_key(settings, kind), settings.llm_requests_per_minute)
    writer_class = OpenAIWriter if kind is WriterKind.OPENAI else AnthropicWriter
    return writer_class(
        api_key=key,
        base_url=base,
        timeout_seconds=settings.llm_timeout_seconds,
        max_output_tokens=settings.llm_max_output_tokens,
        quota=quota,
        meter=meter,
    )
