"""The vendors' Dagster resources: a connector per tenant, built on first use in the run.

Every op asks for the connector of its lead's tenant (`for_tenant`), so each call carries
that tenant's own HubSpot token or OAuth grant and Google identity, counts in that tenant's
usage, and waits in that portal's (HubSpot) or mailbox's (Gmail) window, shared with every
other run process through the database. A connector is built once per tenant per run.
"""

import threading
import uuid
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from dagster import ConfigurableResource, InitResourceContext
from pydantic import PrivateAttr

from sales_agent_pipeline.connectors.factory import (
    build_calendar,
    build_drive,
    can_act_for,
    mailbox_credentials,
)
from sales_agent_pipeline.db.quota import Lane
from sales_agent_pipeline.defs.resources import DatabaseResource, SettingsResource, run_lane
from sales_agent_pipeline.defs.tenants import TenantsResource
from sales_agent_pipeline.domain.drafting import WriterKind
from sales_agent_pipeline.ports.vendors import CRM, Calendar, Drive, Mail
from sales_agent_pipeline.ports.writer import DraftWriter
from sales_agent_pipeline.usecases.vendors import model_writer, tenant_crm, tenant_mail

T = TypeVar("T")


class PerTenant(Generic[T]):
    """Connectors by tenant id (or by tenant and mailbox), each built once (under a lock:
    builds are rare and short)."""

    def __init__(self) -> None:
        self._built: dict[Hashable, T] = {}
        self._lock = threading.Lock()

    def get(self, tenant_id: Hashable, build: Callable[[], T]) -> T:
        """The tenant's connector, built now if this run has none yet."""
        found = self._built.get(tenant_id)
        if found is not None:
            return found
        with self._lock:
            found = self._built.get(tenant_id)
            if found is None:
                found = build()
                self._built[tenant_id] = found
            return found


class HubSpotResource(ConfigurableResource):
    """HubSpot CRM connectors, one per tenant: its token (or OAuth grant, refreshed for
    every process at once), and its portal's windows shared by every run process."""

    settings: SettingsResource
    database: DatabaseResource
    tenants: TenantsResource

    _crms: PerTenant[CRM] = PrivateAttr(default_factory=PerTenant)
    _lane: Lane = PrivateAttr(default="live")

    def setup_for_execution(self, context: InitResourceContext) -> None:
        """Nothing is built until an op asks for a tenant's connector."""
        self._crms = PerTenant()
        self._lane = run_lane(context)

    def for_tenant(self, tenant_id: uuid.UUID) -> CRM:
        """The tenant's CRM connector."""
        return self._crms.get(tenant_id, lambda: self._build(tenant_id))

    def _build(self, tenant_id: uuid.UUID) -> CRM:
        return tenant_crm(
            self.database.engine,
            self.database.sessions,
            self.settings.get(),
            self.tenants.credentials(tenant_id),
            tenant_id=tenant_id,
            lane=self._lane,
            meter=self.tenants.meter(tenant_id),
        )


class GmailResource(ConfigurableResource):
    """Gmail connectors, one per tenant's mailbox (its sender's, or an owner's under
    domain-wide delegation), each mailbox's quota shared by every run process."""

    settings: SettingsResource
    database: DatabaseResource
    tenants: TenantsResource

    _mails: PerTenant[Mail] = PrivateAttr(default_factory=PerTenant)
    _lane: Lane = PrivateAttr(default="live")

    def setup_for_execution(self, context: InitResourceContext) -> None:
        """Nothing is built until an op asks for a tenant's connector."""
        self._mails = PerTenant()
        self._lane = run_lane(context)

    def for_tenant(self, tenant_id: uuid.UUID) -> Mail:
        """The tenant's Gmail connector."""
        return self._mails.get(tenant_id, lambda: self._build(tenant_id))

    def _build(self, tenant_id: uuid.UUID, mailbox: str | None = None) -> Mail:
        return tenant_mail(
            self.database.engine,
            self.settings.get(),
            mailbox_credentials(self.tenants.credentials(tenant_id), mailbox),
            lane=self._lane,
            meter=self.tenants.meter(tenant_id),
        )

    def for_mailbox(self, tenant_id: uuid.UUID, mailbox: str | None) -> Mail:
        """The Gmail connector acting for `mailbox` (None: the tenant's sender)."""
        credentials = self.tenants.credentials(tenant_id)
        acting = mailbox_credentials(credentials, mailbox)
        if acting is credentials:
            return self.for_tenant(tenant_id)
        subject = acting.google_subject
        return self._mails.get((tenant_id, subject), lambda: self._build(tenant_id, subject))

    def delegated(self, tenant_id: uuid.UUID, mailbox: str) -> bool:
        """Whether the tenant's Google identity may act for `mailbox` (remembered a while)."""
        return can_act_for(self.settings.get(), self.tenants.credentials(tenant_id), mailbox)


class CalendarResource(ConfigurableResource):
    """Google Calendar free/busy connectors, one per tenant."""

    settings: SettingsResource
    tenants: TenantsResource

    _calendars: PerTenant[Calendar] = PrivateAttr(default_factory=PerTenant)

    def setup_for_execution(self, context: InitResourceContext) -> None:
        """Nothing is built until an op asks for a tenant's connector."""
        self._calendars = PerTenant()

    def for_tenant(self, tenant_id: uuid.UUID) -> Calendar:
        """The tenant's Calendar connector."""
        return self._calendars.get(
            tenant_id,
            lambda: build_calendar(
                self.settings.get(),
                self.tenants.credentials(tenant_id),
                meter=self.tenants.meter(tenant_id),
            ),
        )


class DriveResource(ConfigurableResource):
    """Google Drive connectors, one per tenant, restricted to its allowlisted folders by
    their callers."""

    settings: SettingsResource
    tenants: TenantsResource

    _drives: PerTenant[Drive] = PrivateAttr(default_factory=PerTenant)

    def setup_for_execution(self, context: InitResourceContext) -> None:
        """Nothing is built until an op asks for a tenant's connector."""
        self._drives = PerTenant()

    def for_tenant(self, tenant_id: uuid.UUID) -> Drive:
        """The tenant's Drive connector."""
        return self._drives.get(
            tenant_id,
            lambda: build_drive(
                self.settings.get(),
                self.tenants.credentials(tenant_id),
                meter=self.tenants.meter(tenant_id),
            ),
        )


class WritersResource(ConfigurableResource):
    """Step 10's model writers (OpenAI-compatible, Anthropic), one per kind and tenant per
    run (the SDK client under them is one per process), each counting its requests in the
    tenant's usage; their requests per minute are shared by every run process."""

    settings: SettingsResource
    database: DatabaseResource
    tenants: TenantsResource

    _writers: dict[tuple[WriterKind, uuid.UUID], DraftWriter] = PrivateAttr(default_factory=dict)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _lane: Lane = PrivateAttr(default="live")

    def setup_for_execution(self, context: InitResourceContext) -> None:
        """Nothing is built until a draft asks for a model."""
        self._writers = {}
        self._lock = threading.Lock()
        self._lane = run_lane(context)

    def for_kind(self, kind: WriterKind, tenant_id: uuid.UUID) -> DraftWriter:
        """The writer of that kind for a tenant (ConfigurationError when it cannot be built)."""
        with self._lock:
            found = self._writers.get((kind, tenant_id))
            if found is None:
                found = model_writer(
                    self.database.engine,
                    self.settings.get(),
                    kind,
                    lane=self._lane,
                    meter=self.tenants.meter(tenant_id),
                )
                self._writers[(kind, tenant_id)] = found
            return found
