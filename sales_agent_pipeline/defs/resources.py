"""Dagster resources, filled from EnvVar when the code location loads (never at import)."""

from collections.abc import Iterator
from contextlib import contextmanager

from dagster import ConfigurableResource, InitResourceContext
from pydantic import PrivateAttr
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from sales_agent_pipeline.db.session import make_engine, make_session_factory


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

    def ping(self) -> bool:
        """True when the database answers."""
        assert self._engine is not None, "DatabaseResource used outside a run"
        with self._engine.connect() as conn:
            return conn.execute(text("SELECT 1")).scalar_one() == 1
