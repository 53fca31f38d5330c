"""A tenant's HubSpot and Gmail connectors with their windows shared through PostgreSQL.

One way to build them for every process that calls a tenant's vendors: the Dagster runs
(`defs/vendors.py`, one connector per tenant per run) and the API's approvals
(`sales_agent_api/mailboxes.py`). Each process sees the same portal's (HubSpot) or
mailbox's (Gmail) window, so their calls together stay within the vendor's budget.
"""

from __future__ import annotations

import uuid
from functools import partial

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from sales_agent_pipeline.connectors.factory import (
    build_crm,
    build_mail,
    build_writer,
    gmail_quota_key,
    hubspot_quota_key,
    hubspot_requests_per_10s,
    hubspot_token,
    llm_quota_key,
)
from sales_agent_pipeline.connectors.hubspot_oauth import refresh_grant
from sales_agent_pipeline.connectors.metering import UsageMeter
from sales_agent_pipeline.db.quota import Lane, PostgresQuota
from sales_agent_pipeline.db.repositories.hubspot_grants import GrantTokens
from sales_agent_pipeline.domain.credentials import TenantCredentials
from sales_agent_pipeline.domain.drafting import WriterKind
from sales_agent_pipeline.domain.enums import HubSpotAuth
from sales_agent_pipeline.domain.quotas import (
    HUBSPOT_SEARCH_WINDOW_SECONDS,
    HUBSPOT_WINDOW_SECONDS,
    QUOTA_WINDOW_SECONDS,
)
from sales_agent_pipeline.ports.vendors import CRM, Mail
from sales_agent_pipeline.ports.writer import DraftWriter
from sales_agent_pipeline.secretbox import secret_box
from sales_agent_pipeline.settings import Settings


def shared_quota(
    engine: Engine,
    settings: Settings,
    *,
    key: str,
    limit: int,
    window_seconds: float,
    lane: Lane,
) -> PostgresQuota:
    """A vendor quota every process shares through the database; the import lane never
    holds more than IMPORT_QUOTA_SHARE of the window."""
    return PostgresQuota(
        engine,
        key=key,
        limit=limit,
        lane=lane,
        share=settings.import_quota_share,
        window_seconds=window_seconds,
    )


def tenant_mail(
    engine: Engine,
    settings: Settings,
    credentials: TenantCredentials,
    *,
    lane: Lane = "live",
    meter: UsageMeter | None = None,
) -> Mail:
    """The tenant's Gmail connector: its own Google identity acting for its mailbox, whose
    units per minute are one window for every process. ConfigurationError naming the portal
    when the tenant has no usable Google credentials."""
    quota = shared_quota(
        engine,
        settings,
        key=gmail_quota_key(settings, credentials),
        limit=settings.gmail_quota_units_per_second * 60,
        window_seconds=QUOTA_WINDOW_SECONDS,
        lane=lane,
    )
    return build_mail(settings, credentials, quota=quota, meter=meter)


def model_writer(
    engine: Engine,
    settings: Settings,
    kind: WriterKind,
    *,
    lane: Lane = "live",
    meter: UsageMeter | None = None,
) -> DraftWriter:
    """A model writer whose requests per minute (one provider, one key) are one window for
    every process, its requests counted in `meter` (the tenant's). ConfigurationError when
    its API key is missing outside sandbox mode."""
    quota = shared_quota(
        engine,
        settings,
        key=llm_quota_key(settings, kind),
        limit=settings.llm_requests_per_minute,
        window_seconds=60.0,
        lane=lane,
    )
    return build_writer(settings, kind, quota=quota, meter=meter)


def tenant_crm(
    engine: Engine,
    sessions: sessionmaker[Session],
    settings: Settings,
    credentials: TenantCredentials,
    *,
    tenant_id: uuid.UUID,
    lane: Lane = "live",
    meter: UsageMeter | None = None,
) -> CRM:
    """The tenant's HubSpot connector: its token (or its OAuth grant, refreshed for every
    process at once), its portal's request and search windows shared by every process.
    ConfigurationError naming the portal when it has no token."""
    tokens: GrantTokens | None = None
    if credentials.hubspot_auth is HubSpotAuth.OAUTH:
        tokens = GrantTokens(
            sessions,
            secret_box(settings),
            partial(refresh_grant, settings),
            tenant_id=tenant_id,
            portal_id=credentials.portal_id,
        )
    else:
        # Fails closed (naming the portal) before any quota row is written.
        hubspot_token(settings, credentials)
    key = hubspot_quota_key(settings, credentials)
    requests = shared_quota(
        engine,
        settings,
        key=key,
        limit=hubspot_requests_per_10s(settings, credentials),
        window_seconds=HUBSPOT_WINDOW_SECONDS,
        lane=lane,
    )
    searches = shared_quota(
        engine,
        settings,
        key=f"{key}:search",
        limit=settings.hubspot_searches_per_second,
        window_seconds=HUBSPOT_SEARCH_WINDOW_SECONDS,
        lane=lane,
    )
    return build_crm(
        settings, credentials, quotas=(requests, searches), token_source=tokens, meter=meter
    )
