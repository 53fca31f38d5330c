"""Dagster resources, filled from EnvVar when the code location loads (never at import).

The database and the settings; the vendors' resources (a connector per tenant) are in
defs/vendors.py, each tenant's credentials and usage counters in defs/tenants.py.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from dagster import ConfigurableResource, InitResourceContext
from pydantic import PrivateAttr
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from sales_agent_pipeline import run_tags as tags
from sales_agent_pipeline.db.quota import Lane
from sales_agent_pipeline.db.session import make_engine, make_session_factory
from sales_agent_pipeline.settings import Settings, get_settings


class DatabaseResource(ConfigurableResource):
    """The app database; an op opens one transaction with `session()` and it commits on exit."""

    url: str
    # Unset: DB_POOL_SIZE (db/budget.py counts this pool once per run worker).
    pool_size: int | None = None

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


def run_lane(context: InitResourceContext) -> Lane:
    """The quota lane of the run: an import's runs take the import lane."""
    return "import" if is_import_run(context) else "live"
