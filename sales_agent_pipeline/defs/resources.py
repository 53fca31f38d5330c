"""Dagster resources, filled from EnvVar when the code location loads (never at import)."""

from collections.abc import Iterator
from contextlib import contextmanager

from dagster import ConfigurableResource, InitResourceContext
from pydantic import PrivateAttr
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from sales_agent_pipeline import run_tags as tags
from sales_agent_pipeline.connectors.factory import (
    build_calendar,
    build_crm,
    build_drive,
    build_mail,
    gmail_quota_key,
    hubspot_quota_key,
)
from sales_agent_pipeline.connectors.protocols import CRM, Calendar, Drive, Mail
from sales_agent_pipeline.connectors.ratelimit import (
    HUBSPOT_SEARCH_WINDOW_SECONDS,
    HUBSPOT_WINDOW_SECONDS,
    QUOTA_WINDOW_SECONDS,
)
from sales_agent_pipeline.db.quota import PostgresQuota
from sales_agent_pipeline.db.session import make_engine, make_session_factory
from sales_agent_pipeline.settings import Settings, get_settings


class DatabaseResource(ConfigurableResource):
    """The app database; an op opens one transaction with `session()` and it commits on exit."""

    url: str
    pool_size: int = 5

    _engine: Engine | None = PrivateAttr(default=None)
    _sessions: sessionmaker[Session] | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: InitResourceContext) -> None:
        """Create the engine once per run process."""
        self._engine = make_engine(self.url, pool_size=self.pool_size)
        self._sessions = make_session_factory(self._engine)

    def teardown_after_execution(self, context: InitResourceContext) -> None:
        """Close pooled connections."""
        if self._engine is not None:
            self._engine.dispose()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction: committed when the block ends, rolled back on an exception."""
        assert self._sessions is not None, "DatabaseResource used outside a run"
        with self._sessions.begin() as session:
            yield session

    @property
    def engine(self) -> Engine:
        """The engine, for code that manages its own connections (the shared quotas)."""
        assert self._engine is not None, "DatabaseResource used outside a run"
        return self._engine

    @property
    def sessions(self) -> sessionmaker[Session]:
        """The session factory, for code that runs several short transactions."""
        assert self._sessions is not None, "DatabaseResource used outside a run"
        return self._sessions

    def ping(self) -> bool:
        """True when the database answers."""
        assert self._engine is not None, "DatabaseResource used outside a run"
        with self._engine.connect() as conn:
            return conn.execute(text("SELECT 1")).scalar_one() == 1


class SettingsResource(ConfigurableResource):
    """The process's Settings, read from the environment when a run starts (never at import).

    `env_file` lets a deployment point at its own .env; the default reads the environment.
    """

    env_file: str | None = None

    def get(self) -> Settings:
        """The settings of this run."""
        if self.env_file:
            return Settings(_env_file=self.env_file)
        return get_settings()


def is_import_run(context: InitResourceContext) -> bool:
    """True when the run carries a bulk import's leads."""
    run = context.run
    return run is not None and run.tags.get(tags.TRIGGER) == "import"


def shared_quota(
    context: InitResourceContext,
    database: DatabaseResource,
    settings: Settings,
    *,
    key: str,
    limit: int,
    window_seconds: float,
) -> PostgresQuota:
    """A vendor quota every run process shares through the database; an import run takes
    the import lane, which never holds more than IMPORT_QUOTA_SHARE of the window."""
    return PostgresQuota(
        database.engine,
        key=key,
        limit=limit,
        lane="import" if is_import_run(context) else "live",
        share=settings.import_quota_share,
        window_seconds=window_seconds,
    )


class HubSpotResource(ConfigurableResource):
    """The HubSpot CRM connector; its portal's windows are shared by every run process."""

    settings: SettingsResource
    database: DatabaseResource

    _crm: CRM | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: InitResourceContext) -> None:
        """Build the adapter from the settings, on the quota kept in the database."""
        settings = self.settings.get()
        key = hubspot_quota_key(settings)
        requests = shared_quota(
            context,
            self.database,
            settings,
            key=key,
            limit=settings.hubspot_requests_per_10s,
            window_seconds=HUBSPOT_WINDOW_SECONDS,
        )
        searches = shared_quota(
            context,
            self.database,
            settings,
            key=f"{key}:search",
            limit=settings.hubspot_searches_per_second,
            window_seconds=HUBSPOT_SEARCH_WINDOW_SECONDS,
        )
        self._crm = build_crm(settings, quotas=(requests, searches))

    @property
    def crm(self) -> CRM:
        """The adapter."""
        assert self._crm is not None, "HubSpotResource used outside a run"
        return self._crm


class GmailResource(ConfigurableResource):
    """The Gmail connector of the sending user, its quota shared by every run process."""

    settings: SettingsResource
    database: DatabaseResource

    _mail: Mail | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: InitResourceContext) -> None:
        """Build the adapter from the settings, on the quota kept in the database."""
        settings = self.settings.get()
        quota = shared_quota(
            context,
            self.database,
            settings,
            key=gmail_quota_key(settings),
            limit=settings.gmail_quota_units_per_second * 60,
            window_seconds=QUOTA_WINDOW_SECONDS,
        )
        self._mail = build_mail(settings, quota=quota)

    @property
    def mail(self) -> Mail:
        """The adapter."""
        assert self._mail is not None, "GmailResource used outside a run"
        return self._mail


class CalendarResource(ConfigurableResource):
    """The Google Calendar free/busy connector."""

    settings: SettingsResource

    _calendar: Calendar | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: InitResourceContext) -> None:
        """Build the adapter from the settings."""
        self._calendar = build_calendar(self.settings.get())

    @property
    def calendar(self) -> Calendar:
        """The adapter."""
        assert self._calendar is not None, "CalendarResource used outside a run"
        return self._calendar


class DriveResource(ConfigurableResource):
    """The Google Drive connector, restricted to allowlisted folders by its callers."""

    settings: SettingsResource

    _drive: Drive | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: InitResourceContext) -> None:
        """Build the adapter from the settings."""
        self._drive = build_drive(self.settings.get())

    @property
    def drive(self) -> Drive:
        """The adapter."""
        assert self._drive is not None, "DriveResource used outside a run"
        return self._drive
