"""Shared fixtures: a real PostgreSQL per test session, a migrated database per xdist worker,
and each test inside a transaction that is rolled back at its end.

DATABASE_URL (when set) names the server to use; otherwise each worker starts the
embedded server on a free port under pytest's temporary folder.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import Engine
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session

from sales_agent_pipeline.db import migrate
from sales_agent_pipeline.db.embedded import EmbeddedPostgres
from sales_agent_pipeline.db.models import Tenant
from sales_agent_pipeline.db.repositories.outbox import Accepted, accept_submission
from sales_agent_pipeline.db.session import make_engine
from sales_agent_pipeline.db.urls import app_url, drop_database, ensure_database


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def accept_lead(
    session: Session, tenant: Tenant, email: str, submission_id: str | None = None
) -> Accepted:
    """A lead of form "f" as the webhook accepts it (empty payload), in the caller's session."""
    return accept_submission(
        session,
        tenant,
        form_id="f",
        hubspot_submission_id=submission_id or str(uuid.uuid4()),
        payload={},
        email=email,
    )


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[URL]:
    """The PostgreSQL server of this test session (maintenance database URL)."""
    raw = os.environ.get("DATABASE_URL")
    if raw:
        yield app_url(raw).set(database="postgres")
        return
    server = EmbeddedPostgres(pgdata=tmp_path_factory.mktemp("pg") / "data", port=free_port())
    server.start()
    try:
        yield app_url(server.url)
    finally:
        server.stop()


@pytest.fixture(scope="session")
def fresh_database(pg_server: URL, worker_id: str) -> Iterator[Callable[[str], URL]]:
    """A factory of empty databases on the session's server, dropped at the end."""
    created: list[URL] = []

    def make(purpose: str) -> URL:
        url = pg_server.set(database=f"sa_test_{purpose}_{worker_id}_{os.getpid()}")
        drop_database(url)
        ensure_database(url)
        created.append(url)
        return url

    yield make
    for url in created:
        drop_database(url)


@pytest.fixture(scope="session")
def database_url(fresh_database: Callable[[str], URL]) -> URL:
    """This worker's database, migrated to head once per session."""
    url = fresh_database("app")
    migrate.upgrade(url)
    return url


@pytest.fixture(scope="session")
def engine(database_url: URL) -> Iterator[Engine]:
    """An engine on this worker's database."""
    engine = make_engine(database_url, pool_size=2)
    yield engine
    engine.dispose()


@pytest.fixture
def db_session(engine: Engine) -> Iterator[Session]:
    """A session inside a transaction that is rolled back after the test.

    Code under test may commit: with create_savepoint its commits end savepoints, and the
    outer transaction still rolls everything back.
    """
    with engine.connect() as connection:
        outer = connection.begin()
        session = Session(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        )
        try:
            yield session
        finally:
            session.close()
            outer.rollback()
