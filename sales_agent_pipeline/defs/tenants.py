"""Each tenant's credentials and usage counters inside one run process.

One TenantsResource per run, shared by the HubSpot, Gmail, Calendar and Drive resources
(configured at launch, so Dagster hands them this instance, not copies): a tenant's secrets
are read and decrypted once per run whichever connector asks first, and its vendor calls
are counted in memory, then added to tenant_usage in one transaction: at the end of an op
once FLUSH_SECONDS have passed since the last write (a long batch run writes as it goes),
and when the run ends (a single lead's run writes once, not once per op).
"""

import threading
import time
import uuid

import structlog
from dagster import ConfigurableResource, InitResourceContext
from pydantic import PrivateAttr
from sqlalchemy.exc import SQLAlchemyError

from sales_agent_pipeline import run_tags
from sales_agent_pipeline.connectors.metering import UsageMeter
from sales_agent_pipeline.db.models import Tenant
from sales_agent_pipeline.db.repositories.tenant_secrets import load_credentials
from sales_agent_pipeline.defs.resources import DatabaseResource, SettingsResource
from sales_agent_pipeline.domain.credentials import TenantCredentials
from sales_agent_pipeline.domain.errors import ConfigurationError
from sales_agent_pipeline.secretbox import secret_box
from sales_agent_pipeline.usecases.usage import record_usage

log = structlog.get_logger(__name__)

# How often at most the ops of a run add their counts (the run's end always does).
FLUSH_SECONDS = 5.0


class TenantsResource(ConfigurableResource):
    """Per tenant, for this run: its credentials (loaded once) and its usage meter."""

    settings: SettingsResource
    database: DatabaseResource

    _credentials: dict[uuid.UUID, TenantCredentials] = PrivateAttr(default_factory=dict)
    _meters: dict[uuid.UUID, UsageMeter] = PrivateAttr(default_factory=dict)
    _lock: threading.Lock = PrivateAttr(default_factory=threading.Lock)
    _flushed: float = PrivateAttr(default=0.0)
    _synthetic: bool = PrivateAttr(default=False)

    def setup_for_execution(self, context: InitResourceContext) -> None:
        """Start the run with nothing loaded."""
        self._credentials = {}
        self._meters = {}
        self._lock = threading.Lock()
        self._flushed = time.monotonic()
        # A canary's run (its lead alone, tagged by the launch) is no tenant's usage.
        run = context.run
        self._synthetic = run is not None and run.tags.get(run_tags.SYNTHETIC) == "true"

    def teardown_after_execution(self, context: InitResourceContext) -> None:
        """The run's last counts are added when it ends, however it ends."""
        self.flush_usage(force=True)

    def credentials(self, tenant_id: uuid.UUID) -> TenantCredentials:
        """The tenant's credentials, decrypted once per run."""
        with self._lock:
            found = self._credentials.get(tenant_id)
            if found is not None:
                return found
            box = secret_box(self.settings.get())
            with self.database.session() as session:
                tenant = session.get(Tenant, tenant_id)
                if tenant is None:
                    raise ConfigurationError(f"no tenant {tenant_id}")
                found = load_credentials(session, box, tenant)
            self._credentials[tenant_id] = found
            return found

    def meter(self, tenant_id: uuid.UUID) -> UsageMeter:
        """The counters of the tenant's vendor calls in this run."""
        with self._lock:
            return self._meters.setdefault(tenant_id, UsageMeter())

    def flush_usage(self, *, force: bool = False) -> None:
        """Add what every tenant's calls counted since the last flush to tenant_usage (one
        transaction; nothing when nothing was counted). Unless `force`d, only once
        FLUSH_SECONDS have passed since the last flush."""
        with self._lock:
            if not force and time.monotonic() - self._flushed < FLUSH_SECONDS:
                return
            self._flushed = time.monotonic()
            meters = dict(self._meters)
        if self._synthetic:
            for meter in meters.values():
                meter.drain()
            return
        try:
            record_usage(self.database.session, meters)
        except SQLAlchemyError as exc:
            # Counters never fail a lead: they went back and ride with the next flush.
            log.warning("usage.flush_failed", error=type(exc).__name__)
